using KeyEmbed.Cli;
using KeyEmbed.Cli.Commands;
using KeyEmbed.Runtime;
using KeyEmbed.Tests.Fixtures;

namespace KeyEmbed.Tests.Cli;

public sealed class CacheCommandTests
{
    private static (int Exit, string Out, string Error) Run(string[] args, Dictionary<string, string> environment)
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        var command = CacheCommand.Create(new CliContext(output, error), n => environment.GetValueOrDefault(n));
        int exit = command.Parse(args).Invoke(new System.CommandLine.InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public void List_shows_each_graph_with_its_size_and_the_total_against_the_cap_and_clear_empties_it()
    {
        using var dir = new TempDir();
        var environment = new Dictionary<string, string> { ["KEYEMBED_CACHE"] = dir.Path, ["KEYEMBED_CACHE_MAX"] = "1M" };
        var cache = new GraphCache(dir.Path);
        cache.GetOrBuild(GraphCache.Key("one"), () => new byte[2048], out _, "tiny-model (bert): highest 2");
        cache.GetOrBuild(GraphCache.Key("two"), () => new byte[100], out _, "other (xlnet): highest 1");

        var (exit, output, _) = Run(["list"], environment);
        Assert.Equal(0, exit);
        Assert.Contains(GraphCache.Key("one")[..12], output);
        Assert.Contains("tiny-model (bert): highest 2", output);
        Assert.Contains(CacheCommand.Size(cache.List().Single(e => e.Label.StartsWith("tiny-model", StringComparison.Ordinal)).Bytes), output);
        Assert.Contains("2.1 KiB", output); // 2048 bytes of graph + an 80-byte header with the label
        Assert.Contains("other (xlnet): highest 1", output);
        long total = cache.List().Sum(e => e.Bytes);
        Assert.EndsWith($"2 graphs, {CacheCommand.Size(total)} of a 1.0 MiB cap, in {dir.Path}\n", output.ReplaceLineEndings("\n"));

        (exit, output, _) = Run(["clear"], environment);
        Assert.Equal(0, exit);
        Assert.Equal($"cleared 2 graphs, freed {CacheCommand.Size(total)} in {dir.Path}\n", output.ReplaceLineEndings("\n"));
        Assert.Empty(cache.List());
        Assert.EndsWith($"0 graphs, 0 B of a 1.0 MiB cap, in {dir.Path}\n", Run(["list"], environment).Out.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Cache_off_and_a_bad_cap_are_said_plainly()
    {
        Assert.Equal("the graph cache is off (KEYEMBED_CACHE=off)\n", Run(["list"], new() { ["KEYEMBED_CACHE"] = "off" }).Out.ReplaceLineEndings("\n"));
        var (exit, _, error) = Run(["list"], new() { ["KEYEMBED_CACHE"] = "/tmp/x", ["KEYEMBED_CACHE_MAX"] = "plenty" });
        Assert.Equal(CliApp.UserError, exit);
        Assert.StartsWith("error: KEYEMBED_CACHE_MAX='plenty' is not a size", error);
    }

    [Theory]
    [InlineData(0, "0 B")]
    [InlineData(1023, "1023 B")]
    [InlineData(1536, "1.5 KiB")]
    [InlineData(5L << 30, "5.0 GiB")]
    public void Sizes_are_in_binary_units(long bytes, string text) => Assert.Equal(text, CacheCommand.Size(bytes));

    // Two real processes start the same model on an empty cache at the same moment: both build, both write (each to
    // its own temporary file, renamed into place), both answer, and one intact entry remains: the graph, with ONNX
    // Runtime's optimized form of it beside it.
    [Fact]
    public async Task Two_processes_building_the_same_graph_at_once_both_succeed()
    {
        using var dir = new TempDir();
        var environment = new Dictionary<string, string> { ["KEYEMBED_CACHE"] = dir.Path };
        string[] args = ["embed", "--model", SharedData.Golden("bert-tiny-random"), "--format", "csv", "the key words", "a tiny model"];
        var runs = await Task.WhenAll(CliProcess.RunAsync(args, environment), CliProcess.RunAsync(args, environment));
        Assert.All(runs, r => Assert.True(r.Exit == 0, r.Error));
        Assert.Equal(runs[0].Out, runs[1].Out);
        Assert.Equal(2, Directory.GetFiles(dir.Path, "*.onnx").Length);
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));
        var warnings = new List<string>();
        var again = await CliProcess.RunAsync(args, environment);
        Assert.Equal(runs[0].Out, again.Out);
        Assert.DoesNotContain("warning", again.Error);
        var entries = new GraphCache(dir.Path, warn: warnings.Add).List();
        Assert.Equal(2, entries.Count);
        Assert.Single(entries, e => e.Label.StartsWith("ORT-optimized: ", StringComparison.Ordinal));
    }
}
