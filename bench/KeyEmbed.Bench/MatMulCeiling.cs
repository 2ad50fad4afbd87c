using System.Diagnostics;
using Google.Protobuf;
using KeyEmbed.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace KeyEmbed.Bench;

/// <summary>
/// The fp32 hardware ceiling as ONNX Runtime reaches it: one MatMul of the model's widest shape
/// ([M,384]×[384,1536], the feed-forward up-projection, M token rows) on the same threads, in GFLOP/s. The fastest round
/// counts: other work on the machine can only slow a round down, never speed it up.
/// </summary>
internal static class MatMulCeiling
{
    /// <param name="cpuTime">Seconds of the process's CPU time (user + system) instead of wall time: GFLOP per CPU-second,
    /// steadier on a shared machine (with one thread, the ceiling of one core while it runs).</param>
    public static (double GflopsPerSecond, string Shape) Measure(int threads, int m, int k, int n, TimeSpan perRound, int rounds, bool cpuTime = false)
    {
        var rng = new Random(7);
        var b = new GraphBuilder("matmul_ceiling");
        string a = b.Input("a", ElementType.Float, (long)m, (long)k);
        string w = b.Initializer("w", [.. Enumerable.Range(0, k * n).Select(_ => (float)(rng.NextDouble() - 0.5))], k, n);
        b.Output("c", b.MatMul(a, w), ElementType.Float, (long)m, (long)n);

        using var options = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        using var session = new InferenceSession(b.Build().ToByteArray(), options);
        var input = new float[m * k];
        for (int i = 0; i < input.Length; i++) input[i] = (float)(rng.NextDouble() - 0.5);
        var output = new float[m * n];
        using var inputValue = OrtValue.CreateTensorValueFromMemory(input, [m, k]);
        using var outputValue = OrtValue.CreateTensorValueFromMemory(output, [m, n]);
        using var runOptions = new RunOptions();
        void RunOnce() => session.Run(runOptions, ["a"], [inputValue], ["c"], [outputValue]);

        for (int i = 0; i < 10; i++) RunOnce();
        var perRun = new List<double>();
        for (int round = 0; round < rounds; round++)
        {
            int runs = 0;
            var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            while (sw.Elapsed < perRound) { RunOnce(); runs++; }
            double seconds = cpuTime ? (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds : sw.Elapsed.TotalSeconds;
            perRun.Add(seconds / runs);
        }
        double flops = 2.0 * m * k * n;
        return (flops / perRun.Min() / 1e9, $"[{m},{k}]×[{k},{n}]");
    }

    /// <summary>
    /// The floor of the linear layers alone: the 24 weight MatMuls of all-MiniLM-L6-v2 (per layer Q·K·V [384,1152],
    /// attention output [384,384], feed-forward [384,1536] and [1536,384]; 42 MB of float32 weights) chained on M
    /// token rows, nothing else. Fastest and median run in ms. For a few rows every weight is read once per run from beyond the
    /// 2 MB L2 caches, so this is a memory-bandwidth floor, not a FLOP one.
    /// </summary>
    public static (double FastestMs, double MedianMs) LinearLayersFloorMs(int threads, int m, int runs)
    {
        var rng = new Random(11);
        float[] Random(int count) => [.. Enumerable.Range(0, count).Select(_ => (float)(rng.NextDouble() - 0.5) * 0.1f)];
        var b = new GraphBuilder("linear_floor");
        string x = b.Input("x", ElementType.Float, (long)m, 384L);
        var outputs = new List<string>();
        for (int layer = 0; layer < 6; layer++)
        {
            outputs.Add(b.MatMul(x, b.Initializer($"qkv{layer}", Random(384 * 1152), 384, 1152)));
            string attention = b.MatMul(x, b.Initializer($"o{layer}", Random(384 * 384), 384, 384));
            string up = b.MatMul(attention, b.Initializer($"up{layer}", Random(384 * 1536), 384, 1536));
            x = b.MatMul(up, b.Initializer($"down{layer}", Random(1536 * 384), 1536, 384));
        }
        b.Output("y", x, ElementType.Float, (long)m, 384L);
        for (int i = 0; i < outputs.Count; i++) b.Output($"projection{i}", outputs[i], ElementType.Float, (long)m, 1152L);
        using var options = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        using var session = new InferenceSession(b.Build().ToByteArray(), options);
        using var input = OrtValue.CreateTensorValueFromMemory(Random(m * 384), [m, 384]);
        using var runOptions = new RunOptions();
        string[] names = ["y", .. Enumerable.Range(0, outputs.Count).Select(i => $"projection{i}")];
        var times = new List<double>();
        for (int i = 0; i < runs + 20; i++)
        {
            long start = Stopwatch.GetTimestamp();
            using var result = session.Run(runOptions, ["x"], [input], names);
            if (i >= 20) times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        return (times.Min(), Stats.Median(times));
    }
}
