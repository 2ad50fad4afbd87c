using KeyEmbed.Models;

namespace KeyEmbed.Bench;

/// <summary>
/// <c>-- paragraphs</c>: the float32 paragraphs workload (~244 tokens a text) under different graph forms and batch
/// shapes, engines alternating within each repetition, each as GFLOP/s and as a share of the fp32 MatMul ceiling
/// measured in the same run (start and end, the higher counts) — the "paragraphs ≥ 80% of the ceiling" target.
/// </summary>
internal static class ParagraphSweep
{
    public static void Run(string stsPath, int threads, TextWriter output, TextWriter log, int repetitions = 3)
    {
        var tokenizer = new FastBertTokenizer.BertTokenizer();
        using (var vocab = new StringReader(System.Text.Encoding.UTF8.GetString(BuiltInModels.ReadMiniLmResource(BuiltInModels.MiniLmVocabResource))))
            tokenizer.LoadVocabulary(vocab, convertInputToLowercase: true);
        Func<string, long[]> tokenize = text => tokenizer.Encode(text, maximumTokens: 512).InputIds.ToArray();
        var paragraphs = Workloads.Paragraphs(Workloads.DistinctSentences(stsPath), tokenize);
        double Ceiling() => new[] { 256, 2048 }.Max(rows => MatMulCeiling.Measure(threads, rows, 384, 1536, TimeSpan.FromMilliseconds(500), 5).GflopsPerSecond);
        // Per CPU-second on one thread: one core's ceiling while it runs, which a loaded machine disturbs less.
        double CoreCeiling() => new[] { 256, 2048 }.Max(rows => MatMulCeiling.Measure(1, rows, 384, 1536, TimeSpan.FromMilliseconds(500), 5, cpuTime: true).GflopsPerSecond);
        double coreBefore = CoreCeiling();
        string load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "unknown";
        double before = Ceiling();
        using var baselines = new OrtBaselines(BuiltInModels.ReadMiniLmResource(BuiltInModels.MiniLmModelResource), tokenize, threads);
        var defaults = new KeyEmbedModelOptions();
        var engines = new List<Engine>
        {
            baselines.SortedBatches(),
            Candidate.Create(threads, defaults, "KeyEmbed (score budget 2·256², 2 paragraphs a batch: the default)"),
            Candidate.Create(threads, defaults with { ScoreBudget = null }, "no score budget (16 paragraphs a batch, as before)"),
            Candidate.Create(threads, defaults with { ScoreBudget = 4 * 256 * 256 }, "score budget 4·256² (4 paragraphs a batch)"),
            Candidate.Create(threads, defaults with { ScoreBudget = 256 * 256 }, "score budget 256² (1 paragraph a batch)"),
            Candidate.Create(threads, defaults with { FusedAttention = true }, "fused attention (com.microsoft Attention)"),
        };
        var throughput = new Harness(engines, new HarnessSettings(1, repetitions, 0, 0, null), log).MeasureThroughput([paragraphs]);
        double after = Ceiling();
        double ceiling = Math.Max(before, after);
        double coreAfter = CoreCeiling();
        double coreCeiling = Math.Max(coreBefore, coreAfter);
        output.WriteLine($"paragraphs: {paragraphs.Texts.Count} texts, {paragraphs.MeanTokens:F1} tokens on average; {threads} threads; " +
            $"MatMul ceiling {before:F0} GFLOP/s at the start, {after:F0} at the end; load average at the start {load}, at the end " +
            (File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "unknown"));
        output.WriteLine($"one core's ceiling per CPU-second (1 thread, process CPU time): {coreBefore:F0} GFLOP at the start, {coreAfter:F0} at the end");
        output.WriteLine("| engine | texts/s | GFLOP/s | % of ceiling (wall) | CPU s (user + system) | GFLOP per CPU-s | % of one core's ceiling per CPU-s |");
        output.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var t in throughput)
        {
            double perCpuSecond = t.ModelFlops / t.MedianCpuSeconds / 1e9;
            output.WriteLine($"| {t.Engine} | {t.TextsPerSecond:F1} | {t.GflopsPerSecond:F0} | {100 * t.GflopsPerSecond / ceiling:F0}% | {t.MedianCpuSeconds:F2} | {perCpuSecond:F0} | {100 * perCpuSecond / coreCeiling:F0}% |");
        }
    }
}
