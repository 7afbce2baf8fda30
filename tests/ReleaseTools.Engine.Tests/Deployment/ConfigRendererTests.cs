using System.Text;
using ReleaseTools.Engine.Deployment;
using ReleaseTools.Engine.Deployment.Planning;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Engine.Tests.Deployment;

public sealed class ConfigRendererTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private string Write(string name, string text)
    {
        var path = Path.Combine(_temp.Path, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Placeholders_are_filled_from_values_and_built_ins()
    {
        var template = Write("app.conf.template", "svc={{Service}}\nenv={{ Environment }}\nver={{Version}}\ndb={{DbHost}}\n");
        var renderer = ConfigRenderer.Load(new ConfigSource
        {
            TemplatePath = template,
            Values = new Dictionary<string, string> { ["dbhost"] = "db01" },
        });

        var config = renderer.Render("orders", "prod", "2.1.0")!;

        Assert.Equal("svc=orders\nenv=prod\nver=2.1.0\ndb=db01\n", Encoding.UTF8.GetString(config.Content));
        Assert.Equal("app.conf", config.FileName);
        Assert.Equal(32, config.Digest.Length);
    }

    [Fact]
    public void Identical_inputs_give_identical_bytes_and_digest_and_a_different_environment_does_not()
    {
        var renderer = ConfigRenderer.Load(new ConfigSource { TemplatePath = Write("c.tmpl", "env={{Environment}}") });

        var first = renderer.Render("orders", "prod", "1")!;
        var again = renderer.Render("orders", "prod", "1")!;
        var other = renderer.Render("orders", "test", "1")!;

        Assert.Equal(first.Content, again.Content);
        Assert.Equal(first.Digest, again.Digest);
        Assert.NotEqual(first.Digest, other.Digest);
    }

    [Fact]
    public void Unknown_placeholders_are_all_named_in_one_error()
    {
        var template = Write("c.template", "a={{Missing}} b={{AlsoMissing}} c={{Service}}");
        var renderer = ConfigRenderer.Load(new ConfigSource { TemplatePath = template });

        var error = Assert.Throws<DeploymentException>(() => renderer.Render("orders", "prod", "1"));

        Assert.Equal(EngineErrorIds.ConfigPlaceholderUnknown, error.ErrorId);
        Assert.Contains("{{Missing}}", error.Message);
        Assert.Contains("{{AlsoMissing}}", error.Message);
        Assert.Contains(template, error.Message);
    }

    [Fact]
    public void A_ready_file_is_sent_byte_for_byte()
    {
        var bytes = new byte[] { 0xEF, 0xBB, 0xBF, (byte)'{', (byte)'{', (byte)'x', (byte)'}', (byte)'}' };
        var path = Path.Combine(_temp.Path, "ready.json");
        File.WriteAllBytes(path, bytes);

        var config = ConfigRenderer.Load(new ConfigSource { ReadyFilePath = path, FileName = "app.json" }).Render("s", "e", "v")!;

        Assert.Equal(bytes, config.Content);
        Assert.Equal("app.json", config.FileName);
    }

    [Fact]
    public void No_source_means_an_empty_config_and_an_unreadable_source_is_a_clear_error()
    {
        var empty = ConfigRenderer.Load(new ConfigSource()).Render("s", "e", "v");
        Assert.Empty(empty.Content);
        Assert.Equal(DeployReleases.NoConfigDigest, empty.Digest);
        Assert.Equal(ConfigRenderer.EmptyConfigFileName, empty.FileName);

        var error = Assert.Throws<DeploymentException>(() =>
            ConfigRenderer.Load(new ConfigSource { TemplatePath = Path.Combine(_temp.Path, "absent.template") }));
        Assert.Equal(EngineErrorIds.ConfigSourceUnreadable, error.ErrorId);
    }
}
