using System.Diagnostics;
using KeyEmbed.Fuzz;

namespace KeyEmbed.Tests.Fuzz;

/// <summary>
/// Replays every fuzz target's inputs through its harness (no fuzzing; seconds): the seeds, the corpus earlier runs
/// saved (fuzz/corpus/TARGET) and every finding kept as a regression input (fuzz/findings/TARGET). Each must be
/// accepted or refused with a <see cref="KeyEmbedException"/>, allocate within the harness's bound, and take under a
/// second (an input over a second is timed again once, so a loaded machine's pause is not a hang).
/// </summary>
public sealed class FuzzCorpusReplayTests
{
    public static TheoryData<string> TargetNames() => [.. Targets.All.Keys];

    private static IEnumerable<(string Name, byte[] Bytes)> Inputs(string target)
    {
        foreach (var (t, name, bytes) in Seeds.All())
            if (t == target) yield return ("seed " + name, bytes);
        foreach (var folder in new[] { "corpus", "findings" })
        {
            string dir = Path.Combine(SharedData.RepoRoot, "fuzz", folder, target);
            if (!Directory.Exists(dir)) continue;
            foreach (var file in Directory.GetFiles(dir).Order(StringComparer.Ordinal))
                yield return ($"{folder}/{target}/{Path.GetFileName(file)}", File.ReadAllBytes(file));
        }
    }

    [Theory]
    [MemberData(nameof(TargetNames))]
    public void Saved_inputs_are_accepted_or_refused_cleanly(string target)
    {
        try { Targets.Run(target, []); } catch (KeyEmbedException) { } // warm-up (shared tokenizers, the service)
        var failures = new List<string>();
        int count = 0;
        foreach (var (name, bytes) in Inputs(target))
        {
            count++;
            try
            {
                var clock = Stopwatch.StartNew();
                Targets.Run(target, bytes);
                if (clock.Elapsed > TimeSpan.FromSeconds(1))
                {
                    clock.Restart();
                    Targets.Run(target, bytes);
                    if (clock.Elapsed > TimeSpan.FromSeconds(1)) failures.Add($"{name}: took {clock.ElapsedMilliseconds} ms (twice over a second)");
                }
            }
            catch (Exception e)
            {
                failures.Add($"{name}: {e.GetType().Name}: {e.Message}");
            }
        }
        Assert.True(count > 0, $"no inputs for {target}");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void Every_finding_folder_names_a_target()
    {
        string dir = Path.Combine(SharedData.RepoRoot, "fuzz", "findings");
        foreach (var folder in Directory.Exists(dir) ? Directory.GetDirectories(dir) : [])
            Assert.Contains(Path.GetFileName(folder), Targets.All.Keys);
    }
}
