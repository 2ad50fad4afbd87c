using System.Diagnostics;
using KeyEmbed.Fuzz;

namespace KeyEmbed.Tests.Fuzz;

/// <summary>
/// Replays every fuzz target's inputs through its harness (no fuzzing; seconds): the seeds, the corpus earlier runs
/// saved (fuzz/corpus/TARGET) and every finding kept as a regression input (fuzz/findings/TARGET). Each must be
/// accepted or refused with a <see cref="KeyEmbedException"/>, allocate within the harness's bound, and take under a
/// second under afl; here, beside the rest of the suite running in parallel, under <see cref="HangLimit"/> (timed again
/// once when over it), so a loaded machine's pause is not a hang but a loop still is.
/// </summary>
public sealed class FuzzCorpusReplayTests
{
    /// <summary>
    /// afl's limit is one second per input on an otherwise idle fuzzer; the suite runs other tests (a 60 s soak among
    /// them) beside this one, where one http input once took 1.0 s twice in CI, so the replay's limit is wider.
    /// </summary>
    private static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(5);

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
                if (clock.Elapsed > HangLimit)
                {
                    clock.Restart();
                    Targets.Run(target, bytes);
                    if (clock.Elapsed > HangLimit) failures.Add($"{name}: took {clock.ElapsedMilliseconds} ms (twice over {HangLimit.TotalSeconds} s)");
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
