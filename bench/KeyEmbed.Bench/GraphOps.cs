using Google.Protobuf;
using KeyEmbed.Architectures;
using KeyEmbed.Models;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace KeyEmbed.Bench;

/// <summary>
/// What ONNX Runtime makes of a graph: the operator counts of the graph as built and after ORT's own optimizer
/// (ORT_ENABLE_ALL, written out through <c>SessionOptions.OptimizedModelFilePath</c>). Shows which fusions fired.
/// </summary>
internal static class GraphOps
{
    public static void Print(TextWriter output)
    {
        using var model = LoadedModel.Open("minilm");
        int last = model.Architecture.LayerCount;
        Describe(output, "KeyEmbed plain graph", model.Architecture.BuildGraph(new GraphRequest(last, [last])).ToByteArray());
        Describe(output, "KeyEmbed fused graph", model.Architecture.BuildGraph(new GraphRequest(last, [last]) { FusedOperators = true, FusedAttention = true }).ToByteArray());
        Describe(output, "KeyEmbed int8 graph, pooled", model.Architecture.BuildGraph(new GraphRequest(last, [last])
            { FusedOperators = true, FusedAttention = true, Precision = ComputePrecision.Int8, Pooling = GraphPooling.MaskedMean }).ToByteArray());
        Describe(output, "original all-MiniLM-L6-v2 graph", BuiltInModels.ReadMiniLmResource(BuiltInModels.MiniLmModelResource));
    }

    public static void Describe(TextWriter output, string title, byte[] graph)
    {
        string optimizedPath = Path.Combine(Path.GetTempPath(), $"keyembed-optimized-{Environment.ProcessId}.onnx");
        using (var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            OptimizedModelFilePath = optimizedPath,
            IntraOpNumThreads = 1,
        })
        using (new InferenceSession(graph, options)) { }
        var optimized = File.ReadAllBytes(optimizedPath);
        File.Delete(optimizedPath);
        output.WriteLine($"{title}: as built {Counts(graph)}");
        output.WriteLine($"{title}: after ORT_ENABLE_ALL {Counts(optimized)}");
    }

    private static string Counts(byte[] graph) =>
        string.Join(", ", ModelProto.Parser.ParseFrom(graph).Graph.Node
            .GroupBy(n => (n.Domain is "" or "ai.onnx" ? "" : n.Domain + ".") + n.OpType)
            .OrderByDescending(g => g.Count()).Select(g => $"{g.Key} {g.Count()}"));
}
