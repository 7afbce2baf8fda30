using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using ReleaseTools.Engine.Packages;

namespace ReleaseTools.Engine.Deployment.Planning
{
    /// <summary>
    /// Renders the config for one service and environment: a template's {{Name}} placeholders are filled from the
    /// caller's values and the built-ins Service, Environment and Version; a ready file goes out byte for byte.
    /// Rendering is deterministic, so identical inputs give identical bytes and therefore the same fversion.
    /// </summary>
    internal sealed class ConfigRenderer
    {
        private static readonly Regex Placeholder = new Regex(@"\{\{\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*\}\}", RegexOptions.CultureInvariant);
        private static readonly string[] TemplateSuffixes = { ".template", ".tmpl", ".tpl" };
        private static readonly UTF8Encoding Utf8NoBom = new UTF8Encoding(false);

        /// <summary>Name of the empty config a run without config source sends.</summary>
        public const string EmptyConfigFileName = "release.config";

        private readonly ConfigSource _source;
        private readonly string? _template;
        private readonly byte[]? _ready;

        private ConfigRenderer(ConfigSource source, string? template, byte[]? ready)
        {
            _source = source;
            _template = template;
            _ready = ready;
        }

        public bool HasConfig => _template != null || _ready != null;

        /// <summary>Reads the source once; the renderer then serves every (service, environment) of the run.</summary>
        public static ConfigRenderer Load(ConfigSource source)
        {
            var hasTemplate = !string.IsNullOrWhiteSpace(source.TemplatePath) || source.TemplateContent != null;
            var hasReady = !string.IsNullOrWhiteSpace(source.ReadyFilePath) || source.ReadyContent != null;
            if (hasTemplate && hasReady)
            {
                throw new DeploymentException(EngineErrorIds.InvalidParameter, DeploymentErrorKind.InvalidArgument,
                    "Give either a config template or a ready config file, not both.");
            }

            if ((source.TemplateContent != null || source.ReadyContent != null) && string.IsNullOrWhiteSpace(source.FileName))
            {
                throw new DeploymentException(EngineErrorIds.InvalidParameter, DeploymentErrorKind.InvalidArgument,
                    "A config given as content needs the file name it has on the agent.");
            }

            if (hasTemplate)
            {
                return new ConfigRenderer(source, Utf8NoBom.GetString(source.TemplateContent ?? Read(source.TemplatePath!)).TrimStart('\uFEFF'), null);
            }

            return hasReady ? new ConfigRenderer(source, null, source.ReadyContent ?? Read(source.ReadyFilePath!)) : new ConfigRenderer(source, null, null);
        }

        /// <summary>The config for one (service, environment, version); an empty file when the run has no config source.</summary>
        /// <remarks>Without a source the caller decides first whether the last deployed config is kept (<see cref="DeployReleases"/>).</remarks>
        public RenderedConfig Render(string service, string environment, string version)
        {
            if (_ready != null)
            {
                return Create(FileName(_source.ReadyFilePath ?? _source.FileName!), _ready) with { Origin = _source.ContentOrigin ?? $"file {_source.ReadyFilePath}" };
            }

            if (_template == null)
            {
                // Floyd agents activate only a release that has a config, so a run without one sends an empty file.
                return Create(EmptyConfigFileName, Array.Empty<byte>()) with { Origin = "empty" };
            }

            var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var pair in _source.Values)
            {
                values[pair.Key] = pair.Value ?? "";
            }

            // Built-ins win: a config must never claim another service, environment or version than the release it ships in.
            values["Service"] = service;
            values["Environment"] = environment;
            values["Version"] = version;

            var unknown = new SortedSet<string>(StringComparer.OrdinalIgnoreCase);
            var text = Placeholder.Replace(_template, match =>
            {
                var name = match.Groups[1].Value;
                if (values.TryGetValue(name, out var value))
                {
                    return value;
                }

                unknown.Add(name);
                return match.Value;
            });

            if (unknown.Count > 0)
            {
                throw new DeploymentException(EngineErrorIds.ConfigPlaceholderUnknown, DeploymentErrorKind.InvalidData,
                    $"The config template '{TemplateName}' uses placeholder(s) with no value: {string.Join(", ", unknown.Select(n => "{{" + n + "}}"))}. " +
                    "Supply them in the config values (built-ins: Service, Environment, Version).", TemplateName);
            }

            return Create(FileName(_source.TemplatePath ?? _source.FileName!), Utf8NoBom.GetBytes(text)) with { Origin = $"rendered from {TemplateName}" };
        }

        private string TemplateName => _source.TemplatePath ?? _source.ContentOrigin ?? _source.FileName ?? "template";

        private RenderedConfig Create(string defaultName, byte[] content) => new RenderedConfig
        {
            FileName = string.IsNullOrWhiteSpace(_source.FileName) ? defaultName : _source.FileName!,
            Content = content,
            Digest = Md5Hex.Of(content),
        };

        /// <summary>The name a config has on the agent: the file's name without a .template, .tmpl or .tpl suffix.</summary>
        public static string FileName(string path)
        {
            var name = Path.GetFileName(path);
            foreach (var suffix in TemplateSuffixes)
            {
                if (name.Length > suffix.Length && name.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
                {
                    return name.Substring(0, name.Length - suffix.Length);
                }
            }

            return name;
        }

        private static byte[] Read(string path)
        {
            try
            {
                return File.ReadAllBytes(path);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is ArgumentException || ex is NotSupportedException)
            {
                throw new DeploymentException(EngineErrorIds.ConfigSourceUnreadable, DeploymentErrorKind.ObjectNotFound,
                    $"Cannot read the config file '{path}': {ex.Message}", path, ex);
            }
        }
    }
}
