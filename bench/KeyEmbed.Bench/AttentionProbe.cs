using System.Diagnostics;
using Google.Protobuf;
using KeyEmbed.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace KeyEmbed.Bench;

/// <summary>
/// <c>-- attention [rows] [tokens]</c>: self-attention alone (12 heads of 32, the built-in model's shape) on an already
/// projected [rows, tokens, 3·384] Q/K/V input, in the forms a graph can take: KeyEmbed's plain operators (Transpose,
/// MatMul, additive mask, Softmax, MatMul), com.microsoft MultiHeadAttention with the key padding mask, and
/// MultiHeadAttention without a mask (the only case where ORT's CPU kernel takes its flash-attention path). Median ms
/// per run on 1 and 2 threads, alternating forms.
/// </summary>
internal static class AttentionProbe
{
    private const int Heads = 12, HeadSize = 32, Hidden = Heads * HeadSize;

    public static void Run(int rows, int tokens, TextWriter output, int runs = 30)
    {
        var rng = new Random(5);
        var qkv = new float[rows * tokens * 3 * Hidden];
        for (int i = 0; i < qkv.Length; i++) qkv[i] = (float)(rng.NextDouble() * 2 - 1);
        var maskFloat = new float[rows * tokens];
        var maskInt = new int[rows * tokens];
        Array.Fill(maskFloat, 1f);
        Array.Fill(maskInt, 1);
        // One row padded by a few tokens, as in a length-sorted batch.
        for (int t = tokens - 8; t < tokens; t++) { maskFloat[(rows - 1) * tokens + t] = 0; maskInt[(rows - 1) * tokens + t] = 0; }
        var forms = new (string Name, byte[] Graph, bool IntMask, bool Mask)[]
        {
            ("plain operators, additive mask", Plain(), false, true),
            ("MultiHeadAttention, key padding mask", Mha(withMask: true), true, true),
            ("MultiHeadAttention, no mask (flash path)", Mha(withMask: false), false, false),
        };
        double flops = 4.0 * rows * Heads * tokens * (double)tokens * HeadSize;
        foreach (int threads in new[] { 1, 2 })
        {
            var sessions = forms.Select(f => new InferenceSession(f.Graph, new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL })).ToArray();
            using var qkvValue = OrtValue.CreateTensorValueFromMemory(qkv, [rows, tokens, 3 * Hidden]);
            using var floatMask = OrtValue.CreateTensorValueFromMemory(maskFloat, [rows, tokens]);
            using var intMask = OrtValue.CreateTensorValueFromMemory(maskInt, [rows, tokens]);
            using var runOptions = new RunOptions();
            var times = forms.Select(_ => new List<double>()).ToArray();
            for (int r = 0; r < runs + 3; r++)
                for (int f = 0; f < forms.Length; f++)
                {
                    var names = forms[f].Mask ? new[] { "qkv", "mask" } : ["qkv"];
                    var values = forms[f].Mask ? new[] { qkvValue, forms[f].IntMask ? intMask : floatMask } : [qkvValue];
                    var sw = Stopwatch.StartNew();
                    using (sessions[f].Run(runOptions, names, values, ["context"])) { }
                    if (r >= 3) times[f].Add(sw.Elapsed.TotalMilliseconds);
                }
            for (int f = 0; f < forms.Length; f++)
            {
                double ms = Stats.Median(times[f]);
                output.WriteLine($"{threads} thread(s), {rows} rows × {tokens} tokens, {forms[f].Name}: median {ms:F2} ms ({flops / ms / 1e6:F0} GFLOP/s of Q·Kᵀ and P·V)");
            }
            foreach (var s in sessions) s.Dispose();
        }
    }

    // KeyEmbed's plain float32 attention (BertGraph.SelfAttention with the merged projection), from Q/K/V onwards.
    private static byte[] Plain()
    {
        var b = new GraphBuilder("attention_plain");
        string qkv = b.Input("qkv", ElementType.Float, "batch", "sequence", (long)(3 * Hidden));
        string mask = b.Input("mask", ElementType.Float, "batch", "sequence");
        string additive = b.Mul(b.Sub(b.Scalar(1f), b.Unsqueeze(mask, 1, 2)), b.Scalar(-10000f));
        string heads = b.Transpose(b.Reshape(qkv, 0, 0, 3, Heads, HeadSize), 2, 0, 3, 1, 4);
        var parts = b.Split(heads, 0, 1, 1, 1);
        string Part(int i) => b.Squeeze(parts[i], 0);
        string scores = b.MatMul(Part(0), b.Transpose(Part(1), 0, 1, 3, 2));
        string probabilities = b.Softmax(b.Add(scores, additive), -1);
        string context = b.Reshape(b.Transpose(b.MatMul(probabilities, Part(2)), 0, 2, 1, 3), 0, 0, Hidden);
        b.Output("context", context, ElementType.Float, "batch", "sequence", (long)Hidden);
        return b.Build().ToByteArray();
    }

    private static byte[] Mha(bool withMask)
    {
        var b = new GraphBuilder("attention_mha");
        string qkv = b.Input("qkv", ElementType.Float, "batch", "sequence", (long)(3 * Hidden));
        string mask = withMask ? b.Input("mask", ElementType.Int32, "batch", "sequence") : "";
        var parts = b.Split(qkv, -1, Hidden, Hidden, Hidden);
        string context = b.Node("MultiHeadAttention", withMask ? [parts[0], parts[1], parts[2], "", mask] : [parts[0], parts[1], parts[2]],
            new Dictionary<string, object> { ["num_heads"] = (long)Heads, ["scale"] = 1f }, domain: "com.microsoft");
        b.Output("context", context, ElementType.Float, "batch", "sequence", (long)Hidden);
        return b.Build().ToByteArray();
    }
}
