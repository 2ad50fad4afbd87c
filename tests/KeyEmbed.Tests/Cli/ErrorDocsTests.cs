using System.Text.RegularExpressions;
using KeyEmbed.Cli;
using KeyEmbed.Server.Http;

namespace KeyEmbed.Tests.Cli;

/// <summary>docs/errors.md states every exit code and error class as the code maps them.</summary>
public sealed class ErrorDocsTests
{
    private static readonly string[] Lines = File.ReadAllLines(Path.Combine(SharedData.RepoRoot, "docs", "errors.md"));

    private static IEnumerable<string> Section(string heading) =>
        Lines.SkipWhile(l => l != heading).Skip(1).TakeWhile(l => !l.StartsWith("## ", StringComparison.Ordinal));

    private static string[] Row(string heading, string firstCell)
    {
        var row = Section(heading).SingleOrDefault(l => l.StartsWith($"| {firstCell} |", StringComparison.Ordinal))
            ?? throw new Xunit.Sdk.XunitException($"docs/errors.md has no row for {firstCell} under {heading}");
        return [.. row.Trim('|').Split(" | ").Select(c => c.Trim())];
    }

    [Fact]
    public void Every_error_kind_has_its_exit_code_status_and_code()
    {
        foreach (var kind in Enum.GetValues<ErrorKind>())
        {
            var cells = Row("## Error kinds", $"`{kind}`");
            var mapping = ErrorTable.For(ErrorTable.From(kind));
            Assert.True(CliApp.ExitCode(kind).ToString() == cells[2], $"{kind}: exit {CliApp.ExitCode(kind)}, docs say {cells[2]}");
            Assert.True(mapping.Status.ToString() == cells[3], $"{kind}: status {mapping.Status}, docs say {cells[3]}");
            Assert.Equal($"`{mapping.Code}`", cells[4]);
        }
    }

    [Fact]
    public void Every_http_failure_has_its_status_type_and_code()
    {
        foreach (var kind in Enum.GetValues<ApiErrorKind>())
        {
            var cells = Row("## HTTP failures", $"`{kind}`");
            var mapping = ErrorTable.For(kind);
            Assert.True(mapping.Status.ToString() == cells[1], $"{kind}: status {mapping.Status}, docs say {cells[1]}");
            Assert.Equal($"`{mapping.Type}`", cells[2]);
            Assert.Equal($"`{mapping.Code}`", cells[3]);
        }
    }

    [Fact]
    public void Every_exit_code_the_cli_uses_is_in_the_table_and_no_other()
    {
        int[] used = [0, CliApp.ParseError, CliApp.UserError, CliApp.RuntimeError, CliApp.InternalError];
        var documented = Section("## CLI exit codes").Select(l => Regex.Match(l, @"^\| (\d+) \|")).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value)).ToArray();
        Assert.Equal(used.Order(), documented.Order());
    }

    [Fact]
    public void The_documented_codes_are_what_the_cli_returns()
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        Assert.Equal(CliApp.ParseError, CliApp.Run(["similarity", "--frobnicate", "a"], output, error));
        Assert.Equal(CliApp.UserError, CliApp.Run(["similarity", "--model", "/no/such/model", "a"], output, error));
        Assert.Equal(CliApp.ParseError, CliApp.Run([], output, error));
    }

    [Fact]
    public void A_bug_is_one_line_with_exit_code_4()
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        int code = CliApp.Guard(new CliContext(output, error), () => throw new InvalidOperationException("boom\nsecond line"));

        Assert.Equal(CliApp.InternalError, code);
        Assert.Single(error.ToString().TrimEnd().Split('\n'));
        Assert.StartsWith("error: internal error", error.ToString());
        Assert.Contains("InvalidOperationException: boom second line", error.ToString());
        Assert.Contains(CliApp.TraceVariable, error.ToString());
    }
}
