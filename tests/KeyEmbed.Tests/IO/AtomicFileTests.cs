using System.Diagnostics;
using System.Text.Json;
using KeyEmbed.IO;
using KeyEmbed.Tests.Fixtures;

namespace KeyEmbed.Tests.IO;

public sealed class AtomicFileTests
{
    private static string[] Leftovers(TempDir dir) =>
        [.. Directory.GetFiles(dir.Path).Select(Path.GetFileName).Where(n => AtomicFile.IsTemporaryName(n!)).Select(n => n!)];

    [Fact]
    public void Write_replaces_the_whole_file_and_leaves_no_temporary_file()
    {
        using var dir = new TempDir();
        string path = dir.File("out.bin");
        File.WriteAllText(path, "an older, longer content that must not survive in part");
        AtomicFile.Write(path, s => s.Write([1, 2, 3]), "test");
        Assert.Equal([1, 2, 3], File.ReadAllBytes(path));
        Assert.Empty(Leftovers(dir));
    }

    [Fact]
    public void A_failing_writer_leaves_the_old_file_untouched_and_removes_its_temporary_file()
    {
        using var dir = new TempDir();
        string path = dir.File("out.json");
        File.WriteAllText(path, "old");
        var passed = Assert.Throws<KeyEmbedException>(() => AtomicFile.Write(path, s =>
        {
            s.Write(new byte[100_000]);
            throw KeyEmbedException.Input("the model said no");
        }, "--output: cannot write"));
        Assert.Equal("the model said no", passed.Message);
        var io = Assert.Throws<KeyEmbedException>(() => AtomicFile.Write(path, s =>
        {
            s.Write(new byte[100]);
            throw new IOException("No space left on device : 'x'");
        }, $"--output: cannot write '{path}'"));
        Assert.Equal($"--output: cannot write '{path}': the disk is full (no space left on device); nothing was written there", io.Message);
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Empty(Leftovers(dir));
    }

    [Fact]
    public void A_missing_folder_is_one_error_naming_the_output()
    {
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "no-such-folder", "out.json");
        var e = Assert.Throws<KeyEmbedException>(() => AtomicFile.WriteAllText(path, "x", $"--output: cannot write '{path}'"));
        Assert.StartsWith($"--output: cannot write '{path}': ", e.Message);
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
    }

    private static string[] EmbedArgs(string input, string output) =>
        ["embed", "--model", SharedData.Golden("bert-tiny-random"), "--input", input, "--output", output];

    private static void WriteLines(string path, int count)
    {
        var random = new Random(7);
        string[] words = ["river", "stone", "green", "light", "quiet", "market", "north", "paper", "winter", "glass"];
        File.WriteAllLines(path, Enumerable.Range(0, count).Select(_ => string.Join(' ', Enumerable.Range(0, random.Next(3, 25)).Select(_ => words[random.Next(words.Length)]))));
    }

    private static int Rows(string path)
    {
        using var json = JsonDocument.Parse(File.ReadAllBytes(path));
        return json.RootElement.GetProperty("data").GetArrayLength();
    }

    // SIGKILL at 20 moments drawn uniformly over a full run's duration (start-up, embedding, streaming the rows out):
    // the target is always either the previous file, whole, or the new output, whole.
    [Fact]
    public async Task Embed_output_killed_at_20_random_moments_is_never_truncated()
    {
        using var dir = new TempDir();
        const int lines = 6000;
        WriteLines(dir.File("in.txt"), lines);
        var environment = new Dictionary<string, string> { ["KEYEMBED_CACHE"] = dir.File("cache") };

        var clock = Stopwatch.StartNew();
        var full = await CliProcess.RunAsync(EmbedArgs(dir.File("in.txt"), dir.File("reference.json")), environment);
        var duration = clock.Elapsed;
        Assert.True(full.Exit == 0, full.Error);
        Assert.Equal(lines, Rows(dir.File("reference.json")));

        const string previous = "{\"previous\": true}";
        int seed = Environment.TickCount, keptOld = 0, completed = 0, midWrite = 0;
        var random = new Random(seed);
        for (int i = 0; i < 20; i++)
        {
            string target = dir.File($"out{i}.json");
            File.WriteAllText(target, previous);
            var delay = TimeSpan.FromMilliseconds(random.NextDouble() * duration.TotalMilliseconds);
            using (var process = CliProcess.Start(EmbedArgs(dir.File("in.txt"), target), environment))
            {
                _ = process.StandardOutput.ReadToEndAsync();
                _ = process.StandardError.ReadToEndAsync();
                await Task.Delay(delay);
                try { process.Kill(); } catch (InvalidOperationException) { } // already finished
                await process.WaitForExitAsync();
            }
            if (Directory.GetFiles(dir.Path, $".out{i}.json.*.tmp").Length > 0) midWrite++;
            string content = File.ReadAllText(target);
            if (content == previous) keptOld++;
            else
            {
                Assert.True(Rows(target) == lines, $"kill {i} at {delay.TotalMilliseconds:F0} ms (seed {seed}) left {content.Length} characters at the target");
                completed++;
            }
        }
        Assert.Equal(20, keptOld + completed);
        // Not vacuous: some kills must have landed while the output was being written.
        Assert.True(midWrite >= 2, $"only {midWrite} of 20 kills landed mid-write (run {duration.TotalMilliseconds:F0} ms, seed {seed}); kept old {keptOld}, completed {completed}");
    }

    // A file-size limit (ulimit -f; SIGXFSZ ignored, so the write fails with EFBIG as on a full disk) while streaming
    // vectors out: one error line, exit 2, the previous file intact, no temporary file left.
    [Fact]
    public async Task A_write_that_runs_out_of_space_is_one_clear_error_and_leaves_nothing_half_written()
    {
        using var dir = new TempDir();
        WriteLines(dir.File("in.txt"), 3000);
        File.WriteAllText(dir.File("out.json"), "previous");
        // The runtime's W^X double mapping sizes a file too, which a 256 KiB limit refuses before Main; turned off here.
        var environment = new Dictionary<string, string> { ["KEYEMBED_CACHE"] = "off", ["DOTNET_EnableWriteXorExecute"] = "0" };
        var (exit, _, error) = await CliProcess.RunAsync(EmbedArgs(dir.File("in.txt"), dir.File("out.json")), environment,
            shellPrefix: "trap '' XFSZ; ulimit -f 256");
        Assert.Equal(2, exit);
        var errors = error.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith("progress:", StringComparison.Ordinal)).ToArray();
        Assert.Equal([$"error: --output: cannot write '{dir.File("out.json")}': the file is larger than this process may write (file size limit, ulimit -f); nothing was written there"], errors);
        Assert.Equal("previous", File.ReadAllText(dir.File("out.json")));
        Assert.Empty(Leftovers(dir));
    }
}
