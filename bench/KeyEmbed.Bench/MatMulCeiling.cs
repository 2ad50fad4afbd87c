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
    public static (double GflopsPerSecond, string Shape) Measure(int threads, int m, int k, int n, TimeSpan perRound, int rounds)
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
            var sw = Stopwatch.StartNew();
            while (sw.Elapsed < perRound) { RunOnce(); runs++; }
            perRun.Add(sw.Elapsed.TotalSeconds / runs);
        }
        double flops = 2.0 * m * k * n;
        return (flops / perRun.Min() / 1e9, $"[{m},{k}]×[{k},{n}]");
    }
}
