using Google.Protobuf;
using KeyEmbed.Architectures;
using KeyEmbed.Evaluation;
using KeyEmbed.Models;
using KeyEmbed.Tokenization;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace KeyEmbed.Bench;

/// <summary>
/// <c>-- int8-forms</c>: ONNX Runtime's int8 forms (<see cref="Int8Form"/>) side by side on this CPU: keywords and
/// sentences texts/s with every form and float32 alternating in one process, then each form's accuracy against
/// float32 over the distinct STS sentences (mean / lowest cosine, STS Spearman) and its operators after ORT's
/// optimizer. The static forms are calibrated first on a sample made from the built-in vocabulary (no test text).
/// </summary>
internal static class Int8Forms
{
    public static void Run(string stsPath, int threads, TextWriter output, TextWriter log, int repetitions)
    {
        var sentences = Workloads.DistinctSentences(stsPath);
        var encoder = TextEncoder.Load("minilm");
        Func<string, long[]> tokenize = text => [.. encoder.Encode(text).Ids.Select(i => (long)i)];
        using var loaded = LoadedModel.Open("minilm");
        int last = loaded.Architecture.LayerCount;
        var baseRequest = new GraphRequest(last, [last]) { Precision = ComputePrecision.Int8, Pooling = GraphPooling.MaskedMean };
        var sample = VocabularySample(64, seed: 15);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var calibration = KeyEmbed.Runtime.Int8Calibrator.Calibrate(loaded.Architecture.BuildGraph(baseRequest), [.. sample.Select(t => encoder.Encode(t))], encoder);
        output.WriteLine($"calibration: {sample.Count} texts from the built-in vocabulary ({sample.Average(t => encoder.Encode(t).Length):F1} tokens on average), " +
            $"{calibration.Ranges.Count} int8 layers, {clock.Elapsed.TotalSeconds:F2} s");

        Int8Form[] forms = [Int8Form.DynamicQuantizeMatMul, Int8Form.MatMulIntegerToFloat, Int8Form.UnsignedWeights, Int8Form.StaticMatMulIntegerToFloat, Int8Form.StaticQLinearMatMul];
        foreach (var form in forms)
            GraphOps.Describe(output, $"int8 {form}, pooled", loaded.Architecture.BuildGraph(baseRequest with { Int8Form = form, Int8Calibration = calibration }).ToByteArray());

        var engines = new List<Engine> { Candidate.Create(threads, new KeyEmbedModelOptions { UseGraphCache = false }, "float32") };
        foreach (var form in forms)
            engines.Add(Candidate.Create(threads, new KeyEmbedModelOptions
                { ComputePrecision = ComputePrecision.Int8, Int8Form = form, Int8Calibration = calibration, UseGraphCache = false }, $"int8 {form}"));
        var workloads = new List<Workload> { Workloads.Keywords(sentences, tokenize), Workloads.Sentences(sentences, tokenize) };
        string loadBefore = LoadAverage();
        var harness = new Harness(engines, new HarnessSettings(1, repetitions, 0, 0, null), log);
        var throughput = harness.MeasureThroughput(workloads);
        output.WriteLine($"{threads} threads, engines alternating, 1 warm-up + {repetitions} repetitions, median; load average {loadBefore} at the start, {LoadAverage()} at the end");
        output.WriteLine("| form | keywords texts/s | sentences texts/s | keywords ÷ float32 | sentences ÷ float32 | mean cosine to float32 | lowest | ≥ 0.99 | STS Spearman × 100 |");
        output.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        var pairs = StsBenchmark.Read(stsPath);
        string Collapse(string s) => string.Join(' ', s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        var reference = harness.LastVectors[("float32", "sentences")];
        double Rate(string engine, string workload) => throughput.First(t => t.Engine == engine && t.Workload == workload).TextsPerSecond;
        foreach (var engine in engines)
        {
            var vectors = harness.LastVectors[(engine.Name, "sentences")];
            var byText = workloads[1].Texts.Select((t, i) => (t, i)).ToDictionary(p => p.t, p => vectors[p.i]);
            double spearman = StsBenchmark.Evaluate(pairs, texts => [.. texts.Select(t => byText[Collapse(t)])]).Spearman * 100;
            var cosines = vectors.Select((v, i) => StsBenchmark.Cosine(v, reference[i])).ToArray();
            output.WriteLine($"| {engine.Name} | {Rate(engine.Name, "keywords"):N0} | {Rate(engine.Name, "sentences"):N0} | " +
                $"{Rate(engine.Name, "keywords") / Rate("float32", "keywords"):F2}× | {Rate(engine.Name, "sentences") / Rate("float32", "sentences"):F2}× | " +
                $"{cosines.Average():F4} | {cosines.Min():F4} | {cosines.Count(c => c >= 0.99) * 100.0 / cosines.Length:F1}% | {spearman:F2} |");
        }
    }

    /// <summary>
    /// <paramref name="count"/> pseudo-texts of 3–60 whole words drawn (seeded) from the built-in vocabulary: a
    /// calibration sample that needs no corpus. Word pieces, special and unused entries are left out.
    /// </summary>
    public static List<string> VocabularySample(int count, int seed)
    {
        var words = System.Text.Encoding.UTF8.GetString(BuiltInModels.ReadMiniLmResource(BuiltInModels.MiniLmVocabResource))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(w => w.Length >= 2 && w.All(char.IsAsciiLetterLower)).ToArray();
        var rng = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ => string.Join(' ', Enumerable.Range(0, rng.Next(3, 61)).Select(_ => words[rng.Next(words.Length)])))];
    }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(" / ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";
}
