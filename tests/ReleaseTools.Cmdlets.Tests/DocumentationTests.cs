using System.Text.RegularExpressions;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Cmdlets.Tests;

/// <summary>Every exported cmdlet and parameter has PlatyPS help in docs/ReleaseTools, so external help can be generated.</summary>
public sealed class DocumentationTests : IClassFixture<ModulePackagingTests.Session>
{
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
