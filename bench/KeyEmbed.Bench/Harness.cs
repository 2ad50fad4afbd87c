using System.Diagnostics;

namespace KeyEmbed.Bench;

internal static class Stats
{
    public static double Median(IReadOnlyList<double> values) => Percentile(values, 50);

    /// <summary>Nearest-rank percentile.</summary>
    public static double Percentile(IReadOnlyList<double> values, double p)
    {
        var sorted = values.Order().ToArray();
        int rank = (int)Math.Ceiling(p / 100 * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }
}

internal sealed record HarnessSettings(int WarmUps, int Repetitions, int LatencyKeywords, int LatencyWarmUps, int? ClassicPeerTextCap);

/// <summary>Throughput of one engine on one workload: median seconds over repetitions, on how many texts.</summary>
/// CPU seconds (the process's user + system time over the call) are steadier than wall time on a shared machine.
internal sealed record Throughput(string Engine, string Workload, int Texts, double MedianSeconds, double ModelFlops, double MinCosineToReference, double MedianCpuSeconds = double.NaN)
{
    public double TextsPerSecond => Texts / MedianSeconds;
    public double GflopsPerSecond => ModelFlops / MedianSeconds / 1e9;
}

internal sealed record Latency(string Engine, double P50Ms, double P99Ms, int Samples);

/// <summary>
/// Runs every engine over every workload, alternating engines inside each repetition (the starting engine
/// rotates), so slow drifts of the machine hit all engines alike. The first engine is the reference whose
/// vectors the others are compared with.
/// </summary>
internal sealed class Harness(IReadOnlyList<Engine> engines, HarnessSettings settings, TextWriter log)
{
    /// <summary>The vectors each engine produced in its last repetition, by (engine, workload).</summary>
    public Dictionary<(string Engine, string Workload), float[][]> LastVectors { get; } = [];

    public List<Throughput> MeasureThroughput(IReadOnlyList<Workload> workloads)
    {
        var results = new List<Throughput>();
        foreach (var workload in workloads)
        {
            var inputs = engines.ToDictionary(e => e.Name, e => InputFor(e, workload));
            var times = engines.ToDictionary(e => e.Name, _ => new List<double>());
            var cpuTimes = engines.ToDictionary(e => e.Name, _ => new List<double>());
            var vectors = new Dictionary<string, float[][]>();
            for (int rep = 0; rep < settings.WarmUps + settings.Repetitions; rep++)
            {
                bool warm = rep < settings.WarmUps;
                for (int k = 0; k < engines.Count; k++)
                {
                    var engine = engines[(k + rep) % engines.Count];
                    var texts = inputs[engine.Name].Texts;
                    var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
                    var sw = Stopwatch.StartNew();
                    var output = engine.Embed(texts);
                    sw.Stop();
                    var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
                    if (output.Length != texts.Count)
                        throw new InvalidOperationException($"{engine.Name} returned {output.Length} vectors for {texts.Count} texts");
                    vectors[engine.Name] = output;
                    LastVectors[(engine.Name, workload.Name)] = output;
                    if (!warm) times[engine.Name].Add(sw.Elapsed.TotalSeconds);
                    if (!warm) cpuTimes[engine.Name].Add(cpu);
                    log.WriteLine($"  {workload.Name,-10} {(warm ? "warm-up" : $"rep {rep - settings.WarmUps + 1}"),-8} {engine.Name,-36} {sw.Elapsed.TotalSeconds,8:F3} s");
                }
            }
            var reference = vectors[engines[0].Name];
            foreach (var engine in engines)
            {
                var input = inputs[engine.Name];
                results.Add(new Throughput(engine.Name, workload.Name, input.Texts.Count, Stats.Median(times[engine.Name]),
                    input.ModelFlops(input.Texts.Count), MinCosine(vectors[engine.Name], reference), Stats.Median(cpuTimes[engine.Name])));
            }
        }
        return results;
    }

    /// <summary>
    /// One keyword per call; engines alternate in blocks of <see cref="LatencyBlock"/> keywords, and the first
    /// <see cref="LatencyBlockWarmUps"/> calls of each block are not counted: an engine that just ran leaves its
    /// ONNX Runtime threads spinning for a while, which would otherwise be measured as the next engine's latency.
    /// </summary>
    public List<Latency> MeasureSingleKeyword(Workload keywords)
    {
        const int LatencyBlock = 25, LatencyBlockWarmUps = 3;
        var samples = engines.ToDictionary(e => e.Name, _ => new List<double>());
        int total = settings.LatencyWarmUps + settings.LatencyKeywords;
        int countedPerBlock = LatencyBlock - LatencyBlockWarmUps;
        for (int block = 0; block * countedPerBlock < total; block++)
            for (int k = 0; k < engines.Count; k++)
            {
                var engine = engines[(k + block) % engines.Count];
                for (int j = 0; j < LatencyBlock; j++)
                {
                    int index = block * countedPerBlock + j - LatencyBlockWarmUps;
                    string keyword = keywords.Texts[Math.Max(index, 0) % keywords.Texts.Count];
                    long start = Stopwatch.GetTimestamp();
                    engine.Embed([keyword]);
                    double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                    if (j >= LatencyBlockWarmUps && index >= settings.LatencyWarmUps && index < total) samples[engine.Name].Add(ms);
                }
            }
        return [.. engines.Select(e => new Latency(e.Name, Stats.Percentile(samples[e.Name], 50), Stats.Percentile(samples[e.Name], 99), samples[e.Name].Count))];
    }

    // The classic recipe costs the same per text whatever the text's length below 128 tokens, so on a busy
    // shared machine it may be measured on a prefix of the workload (stated in the report).
    private Workload InputFor(Engine engine, Workload workload) =>
        engine.Name == OrtBaselines.ClassicName && settings.ClassicPeerTextCap is int cap ? workload.Take(cap) : workload;

    private static double MinCosine(float[][] vectors, float[][] reference)
    {
        double min = 1;
        for (int i = 0; i < vectors.Length; i++)
            min = Math.Min(min, KeyEmbed.Evaluation.StsBenchmark.Cosine(vectors[i], reference[i]));
        return min;
    }
}
