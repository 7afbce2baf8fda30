using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace ReleaseTools.Cmdlets.Tests;

/// <summary>
/// What a cmdlet's help says, as one comparable shape: read either from its platyPS markdown page
/// (docs/ReleaseTools/&lt;Cmdlet&gt;.md, schema 2.0.0) or from the MAML that platyPS generates from it
/// (module/ReleaseTools.dll-Help.xml), so a test can tell when the two disagree.
/// </summary>
internal sealed record CmdletHelp(
    string Name,
    string Synopsis,
    string Description,
    IReadOnlyList<CmdletHelpParameter> Parameters,
    IReadOnlyList<CmdletHelpExample> Examples,
    IReadOnlyList<CmdletHelpType> Inputs,
    IReadOnlyList<CmdletHelpType> Outputs,
    string Notes,
    IReadOnlyList<string> RelatedLinks)
{
    private const string Maml = "http://schemas.microsoft.com/maml/2004/10";
    private const string Command = "http://schemas.microsoft.com/maml/dev/command/2004/10";
    private const string Dev = "http://schemas.microsoft.com/maml/dev/2004/10";

    /// <summary>Reads a platyPS markdown page.</summary>
    public static CmdletHelp FromMarkdown(string name, string markdown)
    {
        var sections = Split(markdown.Replace("\r\n", "\n"), "## ");
        var parameters = Split(Section(sections, "PARAMETERS"), "### ").Where(p => p.Key.StartsWith("-", StringComparison.Ordinal)).Select(p => ParameterFromMarkdown(p.Key, p.Value)).ToList();
        var examples = Split(Section(sections, "EXAMPLES"), "### ").Select(e => ExampleFromMarkdown(e.Key, e.Value)).ToList();
        return new CmdletHelp(
            name,
            Text(Section(sections, "SYNOPSIS")),
            Text(Section(sections, "DESCRIPTION")),
            parameters,
            examples,
            Split(Section(sections, "INPUTS"), "### ").Select(t => new CmdletHelpType(t.Key, Text(t.Value))).ToList(),
            Split(Section(sections, "OUTPUTS"), "### ").Select(t => new CmdletHelpType(t.Key, Text(t.Value))).ToList(),
            Text(Section(sections, "NOTES")),
            Regex.Matches(Section(sections, "RELATED LINKS"), @"^\[([^\]]+)\]", RegexOptions.Multiline).Select(m => m.Groups[1].Value).ToList());
    }

    /// <summary>Reads one command of a MAML help file.</summary>
    public static CmdletHelp? FromMaml(XDocument maml, string name)
    {
        var command = maml.Root!.Elements(XName.Get("command", Command))
            .SingleOrDefault(c => (string?)c.Element(XName.Get("details", Command))?.Element(XName.Get("name", Command)) == name);
        if (command is null)
        {
            return null;
        }

        return new CmdletHelp(
            name,
            Paragraphs(command.Element(XName.Get("details", Command))?.Element(XName.Get("description", Maml))),
            Paragraphs(command.Element(XName.Get("description", Maml))),
            Children(command, "parameters", "parameter").Select(p => new CmdletHelpParameter(
                (string)p.Element(XName.Get("name", Maml))!,
                Paragraphs(p.Element(XName.Get("description", Maml))),
                Text((string?)p.Element(XName.Get("type", Dev))?.Element(XName.Get("name", Maml)) ?? ""),
                string.Equals((string?)p.Attribute("required"), "true", StringComparison.OrdinalIgnoreCase),
                (string?)p.Attribute("pipelineInput") ?? "",
                Text((string?)p.Element(XName.Get("defaultValue", Dev)) ?? ""))).ToList(),
            Children(command, "examples", "example").Select(e => new CmdletHelpExample(
                ((string?)e.Element(XName.Get("title", Maml)) ?? "").Trim(' ', '-'),
                ((string?)e.Element(XName.Get("code", Dev)) ?? "").Replace("\r\n", "\n").Trim(),
                Paragraphs(e.Element(XName.Get("remarks", Dev))))).ToList(),
            Children(command, "inputTypes", "inputType").Select(TypeFromMaml).ToList(),
            Children(command, "returnValues", "returnValue").Select(TypeFromMaml).ToList(),
            Paragraphs(command.Element(XName.Get("alertSet", Maml))?.Element(XName.Get("alert", Maml))),
            command.Element(XName.Get("relatedLinks", Command))?.Elements(XName.Get("navigationLink", Maml))
                .Select(l => (string)l.Element(XName.Get("linkText", Maml))!).ToList() ?? new List<string>());
    }

    /// <summary>Names of every command a MAML help file describes.</summary>
    public static IEnumerable<string> CommandNames(XDocument maml) =>
        maml.Root!.Elements(XName.Get("command", Command)).Select(c => (string)c.Element(XName.Get("details", Command))!.Element(XName.Get("name", Command))!);

    /// <summary>The first difference between two pages, or null when they say the same.</summary>
    public static string? FirstDifference(CmdletHelp markdown, CmdletHelp maml)
    {
        string? Differs(string what, string left, string right) =>
            left == right ? null : $"{what} differs.\n  markdown: {Clip(left)}\n  MAML:     {Clip(right)}";

        var found = Differs("SYNOPSIS", markdown.Synopsis, maml.Synopsis)
            ?? Differs("DESCRIPTION", markdown.Description, maml.Description)
            ?? Differs("NOTES", markdown.Notes, maml.Notes)
            ?? Differs("the parameter list", Names(markdown.Parameters.Select(p => p.Name)), Names(maml.Parameters.Select(p => p.Name)))
            ?? Differs("the example list", Names(markdown.Examples.Select(e => e.Title)), Names(maml.Examples.Select(e => e.Title)))
            ?? Differs("INPUTS", Names(markdown.Inputs.Select(t => t.ToString())), Names(maml.Inputs.Select(t => t.ToString())))
            ?? Differs("OUTPUTS", Names(markdown.Outputs.Select(t => t.ToString())), Names(maml.Outputs.Select(t => t.ToString())))
            ?? Differs("RELATED LINKS", Names(markdown.RelatedLinks), Names(maml.RelatedLinks));
        if (found is not null)
        {
            return found;
        }

        foreach (var (left, right) in markdown.Parameters.OrderBy(p => p.Name).Zip(maml.Parameters.OrderBy(p => p.Name)))
        {
            found = Differs($"-{left.Name}", left.ToString(), right.ToString());
            if (found is not null)
            {
                return found;
            }
        }

        foreach (var (left, right) in markdown.Examples.Zip(maml.Examples))
        {
            found = Differs($"'{left.Title}'", left.ToString(), right.ToString());
            if (found is not null)
            {
                return found;
            }
        }

        return null;
    }

    private static CmdletHelpParameter ParameterFromMarkdown(string heading, string body)
    {
        var yaml = Regex.Match(body, "```yaml\n(.*?)```", RegexOptions.Singleline).Groups[1].Value;
        string Field(string key) => Regex.Match(yaml, $"^{Regex.Escape(key)}:[ \\t]*(.*)$", RegexOptions.Multiline).Groups[1].Value.Trim();
        return new CmdletHelpParameter(
            heading.TrimStart('-'),
            Text(body[..Math.Max(0, body.IndexOf("```yaml", StringComparison.Ordinal))]),
            Field("Type"),
            // A parameter required in only some sets is still required in MAML's parameter list.
            Regex.IsMatch(yaml, @"^Required:\s*True", RegexOptions.Multiline | RegexOptions.IgnoreCase),
            Field("Accept pipeline input"),
            Field("Default value"));
    }

    private static CmdletHelpExample ExampleFromMarkdown(string heading, string body)
    {
        var code = Regex.Match(body, "```[a-z]*\n(.*?)```", RegexOptions.Singleline);
        var remarks = code.Success ? body[(code.Index + code.Length)..] : body;
        return new CmdletHelpExample(heading.Trim(), code.Groups[1].Value.Trim(), Text(remarks));
    }

    private static CmdletHelpType TypeFromMaml(XElement type) => new(
        (string?)type.Element(XName.Get("type", Dev))?.Element(XName.Get("name", Maml)) ?? "",
        Paragraphs(type.Element(XName.Get("description", Maml))));

    private static IEnumerable<XElement> Children(XElement command, string list, string item) =>
        command.Element(XName.Get(list, Command))?.Elements(XName.Get(item, Command)) ?? Enumerable.Empty<XElement>();

    /// <summary>Headed blocks of a markdown text: heading text → body, in order.</summary>
    private static List<KeyValuePair<string, string>> Split(string markdown, string prefix)
    {
        var blocks = new List<KeyValuePair<string, string>>();
        var matches = Regex.Matches(markdown, $"^{Regex.Escape(prefix)}(.+)$", RegexOptions.Multiline);
        for (var i = 0; i < matches.Count; i++)
        {
            var start = matches[i].Index + matches[i].Length;
            var end = i + 1 < matches.Count ? matches[i + 1].Index : markdown.Length;
            blocks.Add(new(matches[i].Groups[1].Value.Trim(), markdown[start..end]));
        }

        return blocks;
    }

    private static string Section(List<KeyValuePair<string, string>> sections, string name) =>
        sections.FirstOrDefault(s => s.Key == name).Value ?? "";

    private static string Paragraphs(XElement? element) =>
        element is null ? "" : Text(string.Join(" ", element.Elements(XName.Get("para", Maml)).Select(p => p.Value)));

    /// <summary>Words as a reader sees them: line breaks and runs of spaces do not count.</summary>
    private static string Text(string text) => Regex.Replace(text, @"\s+", " ").Trim();

    private static string Names(IEnumerable<string> names) => string.Join(", ", names);

    private static string Clip(string text) => text.Length <= 300 ? text : text[..300] + "...";
}

internal sealed record CmdletHelpParameter(string Name, string Description, string Type, bool Required, string PipelineInput, string DefaultValue);

internal sealed record CmdletHelpExample(string Title, string Code, string Remarks);

internal sealed record CmdletHelpType(string Name, string Description);
