using System.Text.RegularExpressions;
using System.Xml.Linq;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Cmdlets.Tests;

/// <summary>
/// Every exported cmdlet and parameter has PlatyPS help in docs/ReleaseTools, the committed external help
/// (module/ReleaseTools.dll-Help.xml) says the same, and Get-Help on the built module shows it.
/// </summary>
public sealed class DocumentationTests : IClassFixture<ModulePackagingTests.Session>
{
    private const string Regenerate =
        "Regenerate the external help from docs/ReleaseTools/*.md with './build.ps1 -Docs' (needs platyPS 0.14: " +
        "Install-PSResource -Name platyPS -Version 0.14.2) and commit module/ReleaseTools.dll-Help.xml.";

    private static readonly string[] RequiredSections = { "SYNOPSIS", "SYNTAX", "DESCRIPTION", "EXAMPLES", "PARAMETERS", "INPUTS", "OUTPUTS", "NOTES", "RELATED LINKS" };

    private readonly PowerShellSession _shell;

    public DocumentationTests(ModulePackagingTests.Session session) => _shell = session.Shell;

    [Fact]
    public void Every_exported_cmdlet_has_a_help_page_with_every_section_and_two_examples()
    {
        var problems = new List<string>();
        foreach (var cmdlet in ExportedParameters().Keys)
        {
            var page = HelpPage(cmdlet);
            if (page is null)
            {
                problems.Add($"{cmdlet}: docs/ReleaseTools/{cmdlet}.md is missing");
                continue;
            }

            problems.AddRange(RequiredSections.Where(s => !Regex.IsMatch(page, $"^## {Regex.Escape(s)}\\s*$", RegexOptions.Multiline)).Select(s => $"{cmdlet}: section '## {s}' is missing"));
            if (Regex.Matches(page, "^### Example \\d+", RegexOptions.Multiline).Count < 2)
            {
                problems.Add($"{cmdlet}: fewer than two examples");
            }

            if (!page.StartsWith("---", StringComparison.Ordinal) || !page.Contains("external help file: ReleaseTools.dll-Help.xml", StringComparison.Ordinal) || !page.Contains("schema: 2.0.0", StringComparison.Ordinal))
            {
                problems.Add($"{cmdlet}: PlatyPS front matter is missing or incomplete");
            }
        }

        Assert.Empty(problems);
    }

    [Fact]
    public void Every_parameter_of_every_exported_cmdlet_is_documented_and_no_documented_parameter_is_stale()
    {
        var problems = new List<string>();
        foreach (var (cmdlet, parameters) in ExportedParameters())
        {
            var page = HelpPage(cmdlet) ?? "";
            var documented = Regex.Matches(page, "^### -(\\w+)", RegexOptions.Multiline).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.OrdinalIgnoreCase);
            problems.AddRange(parameters.Where(p => !documented.Contains(p)).Select(p => $"{cmdlet}: -{p} is not documented"));
            problems.AddRange(documented.Where(d => !parameters.Contains(d, StringComparer.OrdinalIgnoreCase) && d is not "WhatIf" and not "Confirm").Select(d => $"{cmdlet}: documents -{d}, which does not exist"));
            foreach (var parameter in parameters)
            {
                var section = Regex.Match(page, $"^### -{parameter}\\s*$(.*?)(?=^### |^## )", RegexOptions.Multiline | RegexOptions.Singleline | RegexOptions.IgnoreCase);
                if (section.Success && !section.Groups[1].Value.Contains("```yaml", StringComparison.Ordinal))
                {
                    problems.Add($"{cmdlet}: -{parameter} has no yaml block");
                }
            }
        }

        Assert.Empty(problems);
    }

    [Fact]
    public void The_module_page_and_about_topic_exist_and_name_every_cmdlet()
    {
        var modulePage = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "docs", "ReleaseTools", "ReleaseTools.md"));
        var about = File.ReadAllText(Path.Combine(TestPaths.ModuleDirectory, "en-US", "about_ReleaseTools.help.txt"));

        foreach (var cmdlet in ExportedParameters().Keys)
        {
            Assert.Contains($"### [{cmdlet}]({cmdlet}.md)", modulePage, StringComparison.Ordinal);
            Assert.Contains(cmdlet, about, StringComparison.Ordinal);
        }

        Assert.StartsWith("TOPIC", about.TrimStart(), StringComparison.Ordinal);
    }

    [Fact]
    public void The_committed_external_help_says_what_the_markdown_pages_say()
    {
        var maml = XDocument.Load(Path.Combine(TestPaths.RepoRoot, "module", "ReleaseTools.dll-Help.xml"));
        var exported = ExportedParameters().Keys.ToList();
        var problems = new List<string>();
        foreach (var cmdlet in exported)
        {
            var markdown = HelpPage(cmdlet);
            var generated = CmdletHelp.FromMaml(maml, cmdlet);
            if (markdown is null || generated is null)
            {
                problems.Add($"{cmdlet}: {(markdown is null ? "docs/ReleaseTools/" + cmdlet + ".md" : "module/ReleaseTools.dll-Help.xml")} has no help for it");
                continue;
            }

            var difference = CmdletHelp.FirstDifference(CmdletHelp.FromMarkdown(cmdlet, markdown), generated);
            if (difference is not null)
            {
                problems.Add($"{cmdlet}: {difference}");
            }
        }

        problems.AddRange(CmdletHelp.CommandNames(maml).Except(exported).Select(c => $"{c}: in module/ReleaseTools.dll-Help.xml but not exported"));
        Assert.True(problems.Count == 0, string.Join("\n", problems) + "\n" + Regenerate);
    }

    [Fact]
    public void Get_Help_on_the_built_module_shows_synopsis_description_examples_and_every_parameters_text()
    {
        var problems = new List<string>();
        foreach (var (cmdlet, parameters) in ExportedParameters())
        {
            var help = Assert.Single(_shell.Run("Get-Help -Name $args[0] -Full", cmdlet).ThrowOnError().Output);
            var synopsis = Value(help, "Synopsis");
            // Without external help, PowerShell makes the synopsis from the syntax ("Get-Foo [-Bar <string>] ...").
            if (synopsis.Length == 0 || synopsis.StartsWith(cmdlet, StringComparison.Ordinal))
            {
                problems.Add($"{cmdlet}: no synopsis ('{synopsis}')");
            }

            if (_shell.Run("(Get-Help -Name $args[0] -Full).description.Text -join ' '", cmdlet).ThrowOnError().Output.Single().ToString().Length == 0)
            {
                problems.Add($"{cmdlet}: no description");
            }

            if (Convert.ToInt32(_shell.Run("@((Get-Help -Name $args[0] -Examples).examples.example).Count", cmdlet).ThrowOnError().Output.Single().BaseObject) < 2)
            {
                problems.Add($"{cmdlet}: fewer than two examples");
            }

            foreach (var parameter in parameters)
            {
                var text = _shell.Run("(Get-Help -Name $args[0] -Parameter $args[1]).description.Text -join ' '", cmdlet, parameter).ThrowOnError().Output.Single().ToString();
                if (text.Trim().Length == 0)
                {
                    problems.Add($"{cmdlet}: -{parameter} has no text in Get-Help");
                }
            }
        }

        Assert.True(problems.Count == 0, string.Join("\n", problems) + "\n" + Regenerate);
    }

    private static string Value(System.Management.Automation.PSObject item, string property) =>
        item.Properties[property]?.Value?.ToString()?.Trim() ?? "";

    /// <summary>Exported cmdlets and their own parameters (common and ShouldProcess parameters excluded), from the loaded module.</summary>
    private Dictionary<string, List<string>> ExportedParameters()
    {
        var rows = _shell.Run(
            "$common = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters; " +
            "Get-Command -Module ReleaseTools | ForEach-Object { $name = $_.Name; $_.Parameters.Keys | Where-Object { $common -notcontains $_ } | ForEach-Object { $name + ':' + $_ } }")
            .ThrowOnError().Output.Select(o => ((string)o.BaseObject).Split(':'));
        return rows.GroupBy(r => r[0]).ToDictionary(g => g.Key, g => g.Select(r => r[1]).ToList());
    }

    private static string? HelpPage(string cmdlet)
    {
        var path = Path.Combine(TestPaths.RepoRoot, "docs", "ReleaseTools", cmdlet + ".md");
        return File.Exists(path) ? File.ReadAllText(path).Replace("\r\n", "\n") : null;
    }
}
