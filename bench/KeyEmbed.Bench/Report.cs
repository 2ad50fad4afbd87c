using System.Globalization;
using System.Text;

namespace KeyEmbed.Bench;

internal sealed record RunFacts(string Machine, int Cores, int Threads, string OrtVersion, bool Quick,
    HarnessSettings Settings, double CeilingGflops, string CeilingShape, IReadOnlyList<Workload> Workloads, string TokenizerName, string Conditions);

/// <summary>Formats the measured figures as Markdown.</summary>
internal static class Report
{
    public static string Markdown(RunFacts facts, IReadOnlyList<Throughput> throughput, IReadOnlyList<Latency> latency,
        IReadOnlyDictionary<string, (double MinCosine, int Compared)> goldenCheck, IReadOnlyList<string> engineNames)
    {
        var inv = CultureInfo.InvariantCulture;
        var workloads = facts.Workloads.Select(w => w.Name).ToList();
        var sb = new StringBuilder();
        sb.AppendLine($"- all-MiniLM-L6-v2, fp32, {facts.Threads} intra-op threads; machine: {facts.Machine} ({facts.Cores} logical cores); ONNX Runtime {facts.OrtVersion}.");
        sb.AppendLine($"- Workloads from sts-test.csv, tokenized with {facts.TokenizerName}: " +
            string.Join("; ", facts.Workloads.Select(w => $"{w.Name} {w.Texts.Count} texts, {w.MeanTokens.ToString("F1", inv)} tokens on average")) + ".");
        sb.AppendLine($"- {facts.Settings.WarmUps} warm-up + {facts.Settings.Repetitions} measured repetitions, median; engines alternate within each repetition." +
            (facts.Quick ? " QUICK RUN (reduced workloads and repetitions): a smoke test, not a measurement to quote." : ""));
        if (facts.Settings.ClassicPeerTextCap is int cap)
            sb.AppendLine($"- The pad-to-128 peer runs on the first {cap} texts of each workload (its cost per text does not depend on the text below 128 tokens; paragraphs are all cut to the same count).");
        sb.AppendLine($"- Measured fp32 MatMul ceiling: {facts.CeilingGflops.ToString("F0", inv)} GFLOP/s ({facts.CeilingShape} in ONNX Runtime, same threads; the faster of 256 and 2048 rows, start and end of the run). " +
            "Model cost: 21.2 MFLOP per token + 9,216·n² per text of n tokens (padding not counted).");
        sb.AppendLine($"- Conditions: {facts.Conditions}.");
        sb.AppendLine();

        Throughput? Find(string engine, string workload) => throughput.FirstOrDefault(t => t.Engine == engine && t.Workload == workload);
        Latency? Lat(string engine) => latency.FirstOrDefault(l => l.Engine == engine);

        sb.AppendLine("| engine | " + string.Join(" | ", workloads.Select(w => $"{w} texts/s")) + " | one keyword p50 / p99 ms |");
        sb.AppendLine("| --- |" + string.Concat(Enumerable.Repeat(" ---: |", workloads.Count + 1)));
        foreach (var engine in engineNames)
        {
            sb.Append($"| {engine} |");
            foreach (var w in workloads)
                sb.Append(' ').Append(Find(engine, w) is { } t ? t.TextsPerSecond.ToString("N0", inv) : "n/a").Append(" |");
            sb.AppendLine(Lat(engine) is { } l ? $" {l.P50Ms.ToString("F2", inv)} / {l.P99Ms.ToString("F2", inv)} |" : " n/a |");
        }
        // One ratio row per KeyEmbed engine (float32, int8) against the best peer of each column.
        var peers = engineNames.Where(e => !e.StartsWith(Candidate.Name, StringComparison.Ordinal)).ToList();
        foreach (var candidate in engineNames.Where(e => e.StartsWith(Candidate.Name, StringComparison.Ordinal)))
        {
            sb.Append($"| {candidate} ÷ best peer |");
            foreach (var w in workloads)
            {
                double best = peers.Max(p => Find(p, w)?.TextsPerSecond ?? 0);
                sb.Append(' ').Append((Find(candidate, w)!.TextsPerSecond / best).ToString("F2", inv)).Append("× |");
            }
            double bestLatency = peers.Min(p => Lat(p)?.P50Ms ?? double.MaxValue);
            sb.AppendLine($" {(bestLatency / Lat(candidate)!.P50Ms).ToString("F2", inv)}× (p50) |");
        }
        sb.AppendLine();

        sb.AppendLine("| engine | " + string.Join(" | ", workloads.Select(w => $"{w} GFLOP/s (% of ceiling)")) + " | min cosine to reference engine | sentences: min cosine to golden vectors |");
        sb.AppendLine("| --- |" + string.Concat(Enumerable.Repeat(" ---: |", workloads.Count + 2)));
        foreach (var engine in engineNames)
        {
            sb.Append($"| {engine} |");
            double minCosine = 1;
            foreach (var w in workloads)
            {
                if (Find(engine, w) is not { } t) { sb.Append(" n/a |"); continue; }
                minCosine = Math.Min(minCosine, t.MinCosineToReference);
                sb.Append($" {t.GflopsPerSecond.ToString("F0", inv)} ({(100 * t.GflopsPerSecond / facts.CeilingGflops).ToString("F0", inv)}%) |");
            }
            sb.Append($" {minCosine.ToString("F6", inv)} |");
            sb.AppendLine(goldenCheck.TryGetValue(engine, out var g) && g.Compared > 0
                ? $" {g.MinCosine.ToString("F6", inv)} ({g.Compared} rows) |" : " n/a |");
        }
        sb.AppendLine();
        sb.AppendLine("GFLOP/s count the model's float operations (the formula above) whatever the arithmetic, so int8 rows are set " +
            "against the fp32 ceiling and can pass 100%; the int8 kernel ceiling is not measured here.");
        sb.AppendLine();
        sb.AppendLine($"Reference engine for the cosine column: {engineNames[0]} (over every workload). Golden vectors: " +
            "../shared/golden/minilm-sts-test (float64 sentence-transformers reference; same answers means ≥ 0.9999).");
        return sb.ToString();
    }

    /// <summary>The issue's targets, each marked met or with the measured gap (ratios from this one run).</summary>
    public static string Targets(IReadOnlyList<Throughput> throughput, IReadOnlyList<Latency> latency, IReadOnlyList<string> engineNames,
        (double Mean, double Lowest)? int8Cosine, (double Fp32, double Int8)? stsSpearman)
    {
        var inv = CultureInfo.InvariantCulture;
        var peers = engineNames.Where(e => !e.StartsWith(Candidate.Name, StringComparison.Ordinal)).ToList();
        double Ratio(string engine, string workload)
        {
            double best = peers.Max(p => throughput.FirstOrDefault(t => t.Engine == p && t.Workload == workload)?.TextsPerSecond ?? 0);
            return (throughput.FirstOrDefault(t => t.Engine == engine && t.Workload == workload)?.TextsPerSecond ?? double.NaN) / best;
        }
        string Verdict(bool met, string gap) => met ? "**met**" : $"not met ({gap})";
        var sb = new StringBuilder();
        sb.AppendLine("| target | measured | verdict |");
        sb.AppendLine("| --- | ---: | --- |");
        foreach (var (workload, goal) in new[] { ("keywords", 1.5), ("sentences", 1.15), ("paragraphs", 1.15) })
        {
            double r = Ratio(Candidate.Name, workload);
            sb.AppendLine($"| fp32 {workload} ≥ {goal.ToString("F2", inv)}× best peer | {r.ToString("F2", inv)}× | {Verdict(r >= goal, $"{((goal / r - 1) * 100).ToString("F0", inv)}% more needed")} |");
        }
        if (latency.FirstOrDefault(l => l.Engine == Candidate.Name) is { } lat)
            sb.AppendLine($"| fp32 one keyword p50 ≤ 1.0 ms | {lat.P50Ms.ToString("F2", inv)} ms | {Verdict(lat.P50Ms <= 1.0, $"{(lat.P50Ms - 1).ToString("F2", inv)} ms over")} |");
        double int8Sentences = Ratio(Candidate.Int8Name, "sentences");
        if (!double.IsNaN(int8Sentences))
            sb.AppendLine($"| int8 sentences ≥ 2.5× best fp32 peer | {int8Sentences.ToString("F2", inv)}× | {Verdict(int8Sentences >= 2.5, $"{((2.5 / int8Sentences - 1) * 100).ToString("F0", inv)}% more needed")} |");
        if (int8Cosine is { } c)
            sb.AppendLine($"| int8 cosine ≥ 0.99 to fp32 vectors | mean {c.Mean.ToString("F4", inv)}, lowest {c.Lowest.ToString("F4", inv)} | " +
                $"{(c.Lowest >= 0.99 ? "**met** for every vector" : c.Mean >= 0.99 ? "**met** on average; not for every vector (lowest " + c.Lowest.ToString("F4", inv) + ")" : "not met")} |");
        if (stsSpearman is { } sts)
            sb.AppendLine($"| int8 STS Spearman within 0.5 of fp32 | {(sts.Int8 * 100).ToString("F2", inv)} vs {(sts.Fp32 * 100).ToString("F2", inv)} | {Verdict(Math.Abs(sts.Int8 - sts.Fp32) * 100 <= 0.5, $"{(Math.Abs(sts.Int8 - sts.Fp32) * 100).ToString("F2", inv)} apart")} |");
        return sb.ToString();
    }

    /// <summary>The heading of this CPU kind's block in docs/benchmarks.md.</summary>
    public static string BlockHeading(KeyEmbed.Runtime.CpuFeatures cpu) => $"## {cpu.Model}, {cpu.Kind}";

    /// <summary>
    /// docs/benchmarks.md with this run's block: one block per kind of CPU (its heading from <see cref="BlockHeading"/>),
    /// replaced when that kind was measured before and appended otherwise, so no kind's figures stand for another's.
    /// </summary>
    public static string Docs(string? existing, KeyEmbed.Runtime.CpuFeatures cpu, string table, string command, string chartFile)
    {
        string heading = BlockHeading(cpu);
        string block = heading + "\n\n" +
            $"{cpu.Describe()}.\n\n" +
            $"Run on {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC with `{command}` (peers and KeyEmbed alternate within one run on one machine;\n" +
            "figures from different machines or days are not comparable).\n\n" +
            table + $"\n![texts per second per workload and engine on this CPU]({chartFile})\n";
        const string Intro = "# Benchmarks\n\n" +
            "One block per kind of CPU measured, each dated and headed by the CPU's model and instruction sets. The figures of one kind " +
            "do not hold for another: int8 above all depends on the CPU's 8-bit dot-product instructions (AVX-512 VNNI, AVX-VNNI, AMX), " +
            "and the float32 ceiling on its vector width. `dotnet run -c Release --project bench/KeyEmbed.Bench -- --write-docs` " +
            "replaces the block of the CPU it runs on, or adds one.\n\n" +
            "Memory (measured apart, `dotnet run -c Release --project bench/KeyEmbed.Bench -- memory 100000` and `/usr/bin/time -v keyembed embed --input`): " +
            "see [performance.md](performance.md#memory); what KeyEmbed does, the graph forms, the settings measured, ORT's profile and why the float32 targets " +
            "are out of reach ([measured](performance.md#why-the-float32-targets-are-out-of-reach-on-this-machine)) are there too.\n";
        var blocks = new List<string>();
        if (existing != null)
        {
            // Everything before the first "## " heading is the intro (rewritten); each "## " heading opens a block.
            var lines = existing.Replace("\r\n", "\n").Split('\n');
            StringBuilder? current = null;
            foreach (var line in lines)
            {
                if (line.StartsWith("## ", StringComparison.Ordinal))
                {
                    if (current != null) blocks.Add(current.ToString().TrimEnd() + "\n");
                    current = new StringBuilder();
                }
                current?.Append(line).Append('\n');
            }
            if (current != null) blocks.Add(current.ToString().TrimEnd() + "\n");
        }
        int index = blocks.FindIndex(b => b.StartsWith(heading + "\n", StringComparison.Ordinal));
        if (index >= 0) blocks[index] = block;
        else blocks.Add(block);
        return Intro + "\n" + string.Join("\n", blocks);
    }

    /// <summary>A file-name-safe form of the CPU kind's heading, for its chart.</summary>
    public static string ChartFileName(KeyEmbed.Runtime.CpuFeatures cpu)
    {
        var slug = new StringBuilder();
        foreach (char c in $"{cpu.Model} {cpu.Kind}".ToLowerInvariant())
            slug.Append(char.IsAsciiLetterOrDigit(c) ? c : '-');
        string s = slug.ToString();
        while (s.Contains("--", StringComparison.Ordinal)) s = s.Replace("--", "-", StringComparison.Ordinal);
        return "benchmarks-" + s.Trim('-') + ".png";
    }
}
