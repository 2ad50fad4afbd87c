using System.Diagnostics;
using Google.Protobuf;
using KeyEmbed.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace KeyEmbed.Bench;

/// <summary>
/// <c>-- low-precision</c>: whether ONNX Runtime's CPU build runs the model's widest MatMul ([256,384]×[384,1536], two
/// threads) faster in float16 or bfloat16 than in float32 — what a "same answers, cheaper arithmetic" float32 path
/// would need. Inputs are cast in the graph (the weight cast is folded when the session is built).
/// </summary>
internal static class LowPrecisionProbe
{
    public static void Run(TextWriter output)
    {
        foreach (var (type, name) in new[] { (1, "float32"), (10, "float16"), (16, "bfloat16") })
        {
            const int m = 256, k = 384, n = 1536;
            var rng = new Random(7);
            var b = new GraphBuilder("probe");
            string a = b.Input("a", ElementType.Float, (long)m, (long)k);
            string w = b.Initializer("w", [.. Enumerable.Range(0, k * n).Select(_ => (float)(rng.NextDouble() - 0.5))], k, n);
            string y = type == 1 ? b.MatMul(a, w)
                : b.Node("Cast", [b.MatMul(b.Node("Cast", [a], new Dictionary<string, object> { ["to"] = (long)type }), b.Node("Cast", [w], new Dictionary<string, object> { ["to"] = (long)type }))], new Dictionary<string, object> { ["to"] = 1L });
            b.Output("c", y, ElementType.Float, (long)m, (long)n);
            try
            {
                using var options = new SessionOptions { IntraOpNumThreads = 2, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
                using var session = new InferenceSession(b.Build().ToByteArray(), options);
                var input = new float[m * k];
                using var value = OrtValue.CreateTensorValueFromMemory(input, [m, k]);
                using var ro = new RunOptions();
                for (int i = 0; i < 5; i++) session.Run(ro, ["a"], [value], ["c"]).Dispose();
                var sw = Stopwatch.StartNew();
                int runs = 0;
                while (sw.ElapsedMilliseconds < 1000) { session.Run(ro, ["a"], [value], ["c"]).Dispose(); runs++; }
                output.WriteLine($"{name}: {2.0 * m * k * n * runs / sw.Elapsed.TotalSeconds / 1e9:F0} GFLOP/s");
            }
            catch (OnnxRuntimeException e) { output.WriteLine($"{name}: {e.Message.Split('\n')[0]}"); }
        }
    }
}
