using System.Text.Json;
using Google.Protobuf;
using KeyEmbed.Architectures;
using KeyEmbed.Models;
using KeyEmbed.Tokenization;
using Microsoft.ML.OnnxRuntime;

namespace KeyEmbed.Bench;

/// <summary>
/// <c>-- profile float32|int8</c>: ONNX Runtime's own profiler over the sentences workload in KeyEmbed's batches;
/// prints the share of run time per operator type (where the time goes).
/// </summary>
internal static class Profile
{
    /// <param name="batchSize">Rows per run: 64 (throughput) or 1 (one text per call, where per-operator overhead shows).</param>
    public static void Run(List<string> sentences, ComputePrecision precision, int threads, TextWriter output, int batchSize = 64)
    {
        using var model = LoadedModel.Open("minilm");
        var request = new GraphRequest(6, [6]) { Pooling = GraphPooling.MaskedMean, Precision = precision,
            FusedOperators = Environment.GetEnvironmentVariable("KEYEMBED_FUSED") == "1", FusedAttention = Environment.GetEnvironmentVariable("KEYEMBED_FUSED") == "1" };
        using var options = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1, EnableProfiling = true,
            ProfileOutputPathPrefix = Path.Combine(Path.GetTempPath(), "keyembed-profile"), GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        using var session = new InferenceSession(model.Architecture.BuildGraph(request).ToByteArray(), options);
        var encoder = TextEncoder.Load("minilm");
        var rows = sentences.Select(s => encoder.Encode(s)).OrderByDescending(e => e.Length).ToList();
        if (batchSize == 1) rows = [.. rows.TakeLast(500)];
        var wall = System.Diagnostics.Stopwatch.StartNew();
        for (int start = 0; start < rows.Count; start += batchSize)
        {
            var batch = encoder.Pad(rows.GetRange(start, Math.Min(batchSize, rows.Count - start)));
            var inputs = batch.ToModelInputs();
            var values = inputs.ToDictionary(p => p.Key, p => OrtValue.CreateTensorValueFromMemory(p.Value.Data, p.Value.Shape));
            using var runOptions = new RunOptions();
            using var results = session.Run(runOptions, [.. values.Keys], [.. values.Values], [GraphRequest.PooledOutputName(6)]);
            foreach (var v in values.Values) v.Dispose();
        }
        wall.Stop();
        string file = session.EndProfiling();
        using var doc = JsonDocument.Parse(File.ReadAllText(file));
        var byOp = new Dictionary<string, double>();
        var byNode = new Dictionary<string, double>();
        foreach (var e in doc.RootElement.EnumerateArray())
            if (e.TryGetProperty("cat", out var cat) && cat.GetString() == "Node" && e.TryGetProperty("args", out var a) && a.TryGetProperty("op_name", out var op)
                && e.GetProperty("name").GetString()!.EndsWith("_kernel_time", StringComparison.Ordinal))
            {
                byOp[op.GetString()!] = byOp.GetValueOrDefault(op.GetString()!) + e.GetProperty("dur").GetDouble();
                string node = e.GetProperty("name").GetString()![..^"_kernel_time".Length];
                byNode[node] = byNode.GetValueOrDefault(node) + e.GetProperty("dur").GetDouble();
            }
        File.Delete(file);
        double total = byOp.Values.Sum();
        int runs = (rows.Count + batchSize - 1) / batchSize;
        output.WriteLine($"{precision}, {rows.Count} texts in {runs} runs of up to {batchSize}: {total / 1e6:F2} s in kernels, {wall.Elapsed.TotalSeconds:F2} s wall " +
            $"({total / runs / 1e3:F3} / {wall.Elapsed.TotalMilliseconds / runs:F3} ms per run)");
        foreach (var (op, us) in byOp.OrderByDescending(p => p.Value))
            output.WriteLine($"  {op,-28} {us / 1e6,7:F3} s {100 * us / total,5:F1}%");
        output.WriteLine("  nodes of the first layer:");
        foreach (var (node, us) in byNode.Where(p => p.Key.Contains("layer_0", StringComparison.Ordinal)).OrderByDescending(p => p.Value))
            output.WriteLine($"    {node,-60} {us / 1e6,7:F3} s {100 * us / total,5:F1}%");
    }

    /// <summary>
    /// Median ms of ONNX Runtime's Run alone (no tokenizer, no pipeline) on the pooled graph for one text of
    /// <paramref name="tokens"/> tokens: what the model costs a single keyword, apart from KeyEmbed's own code.
    /// </summary>
    public static double RunOnlyMs(bool fused, int threads, int tokens, int runs = 300)
    {
        using var model = LoadedModel.Open("minilm");
        var request = new GraphRequest(6, [6]) { Pooling = GraphPooling.MaskedMean, FusedOperators = fused, FusedAttention = fused };
        using var options = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        using var session = new InferenceSession(model.Architecture.BuildGraph(request).ToByteArray(), options);
        long[] ids = [101, .. Enumerable.Range(0, tokens - 2).Select(i => 2000L + i * 37), 102];
        using var idsValue = OrtValue.CreateTensorValueFromMemory(ids, [1, tokens]);
        using var maskValue = OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1L, tokens).ToArray(), [1, tokens]);
        using var typesValue = OrtValue.CreateTensorValueFromMemory(new long[tokens], [1, tokens]);
        using var runOptions = new RunOptions();
        var times = new List<double>();
        for (int i = 0; i < runs + 30; i++)
        {
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            using var result = session.Run(runOptions, ["input_ids", "attention_mask", "token_type_ids"], [idsValue, maskValue, typesValue], [GraphRequest.PooledOutputName(6)]);
            if (i >= 30) times.Add(System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        return Stats.Median(times);
    }
}
