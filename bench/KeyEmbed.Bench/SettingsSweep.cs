using KeyEmbed.Models;

namespace KeyEmbed.Bench;

/// <summary>
/// <c>-- settings</c>: KeyEmbed under different settings (fused or plain graph, spinning, token budget, batch size)
/// against the sorted-batch peer, alternating in one run, on a cut of each workload.
/// </summary>
internal static class SettingsSweep
{
    /// <summary><c>-- latency</c>: one keyword per call only, few engines (each idle session's spinning threads disturb the others).</summary>
    public static void Latency(string stsPath, int threads, TextWriter output, TextWriter log, string? only = null)
    {
        var tokenizer = new FastBertTokenizer.BertTokenizer();
        using (var vocab = new StringReader(System.Text.Encoding.UTF8.GetString(BuiltInModels.ReadMiniLmResource(BuiltInModels.MiniLmVocabResource))))
            tokenizer.LoadVocabulary(vocab, convertInputToLowercase: true);
        Func<string, long[]> tokenize = text => tokenizer.Encode(text, maximumTokens: 512).InputIds.ToArray();
        var keywords = Workloads.Keywords(Workloads.DistinctSentences(stsPath), tokenize);
        using var baselines = new OrtBaselines(BuiltInModels.ReadMiniLmResource(BuiltInModels.MiniLmModelResource), tokenize, threads);
        var defaults = new KeyEmbedModelOptions();
        var engines = new List<Engine>
        {
            baselines.SortedBatches(),
            Candidate.Create(threads, defaults),
            Candidate.Create(threads, defaults with { ComputePrecision = Architectures.ComputePrecision.Int8 }, Candidate.Int8Name),
            Candidate.Create(threads, defaults with { FusedOperators = true, FusedAttention = true }, "KeyEmbed fused graph and attention"),
            Candidate.Create(threads, defaults with { FusedOperators = true }, "KeyEmbed fused graph"),
        };
        if (only != null) engines = [.. engines.Where(e => e.Name == only)];
        var latency = new Harness(engines, new HarnessSettings(0, 0, 400, 40, null), log).MeasureSingleKeyword(keywords);
        foreach (var l in latency) output.WriteLine($"| {l.Engine} | {l.P50Ms:F2} / {l.P99Ms:F2} |");
    }

    public static void Run(string stsPath, int threads, TextWriter output, TextWriter log)
    {
        var tokenizer = new FastBertTokenizer.BertTokenizer();
        using (var vocab = new StringReader(System.Text.Encoding.UTF8.GetString(BuiltInModels.ReadMiniLmResource(BuiltInModels.MiniLmVocabResource))))
            tokenizer.LoadVocabulary(vocab, convertInputToLowercase: true);
        Func<string, long[]> tokenize = text => tokenizer.Encode(text, maximumTokens: 512).InputIds.ToArray();
        var sentences = Workloads.DistinctSentences(stsPath);
        var workloads = new List<Workload>
        {
            Workloads.Keywords(sentences, tokenize),
            Workloads.Sentences(sentences, tokenize).Take(1200),
            Workloads.Paragraphs(sentences, tokenize).Take(64),
        };
        using var baselines = new OrtBaselines(BuiltInModels.ReadMiniLmResource(BuiltInModels.MiniLmModelResource), tokenize, threads);
        var defaults = new KeyEmbedModelOptions();
        var engines = new List<Engine>
        {
            baselines.SortedBatches(),
            baselines.SortedBatchesParallel(BuiltInModels.ReadMiniLmResource(BuiltInModels.MiniLmModelResource), 2),
            Candidate.Create(threads, defaults with { BatchWorkers = 1 }, "KeyEmbed, batches one after another"),
            Candidate.Create(threads, defaults, "KeyEmbed (2 batch workers, budget 8192, batch 64 shared)"),
            Candidate.Create(threads, defaults with { MaxBatchSize = 128, TokenBudget = 16384 }, "2 batch workers, budget 16384, batch 128 shared"),
            Candidate.Create(threads, defaults with { ComputePrecision = Architectures.ComputePrecision.Int8 }, "int8, 2 batch workers"),
            Candidate.Create(threads, defaults with { ComputePrecision = Architectures.ComputePrecision.Int8, BatchWorkers = 1 }, "int8, batches one after another"),
        };
        var harness = new Harness(engines, new HarnessSettings(1, 3, 100, 10, null), log);
        var throughput = harness.MeasureThroughput(workloads);
        var latency = harness.MeasureSingleKeyword(workloads[0]);
        output.WriteLine("| settings | " + string.Join(" | ", workloads.Select(w => $"{w.Name} ({w.Texts.Count}) texts/s")) + " | one keyword p50 ms |");
        output.WriteLine("| --- |" + string.Concat(Enumerable.Repeat(" ---: |", workloads.Count + 1)));
        foreach (var engine in engines)
            output.WriteLine($"| {engine.Name} | " + string.Join(" | ", workloads.Select(w => throughput.First(t => t.Engine == engine.Name && t.Workload == w.Name).TextsPerSecond.ToString("N0"))) +
                $" | {latency.First(l => l.Engine == engine.Name).P50Ms:F2} |");
    }
}
