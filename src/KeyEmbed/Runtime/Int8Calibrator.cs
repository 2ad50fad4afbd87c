using Google.Protobuf;
using KeyEmbed.Architectures;
using KeyEmbed.Tokenization;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace KeyEmbed.Runtime;

/// <summary>
/// Calibration for the static int8 forms (<see cref="Int8Form.StaticMatMulIntegerToFloat"/>,
/// <see cref="Int8Form.StaticQLinearMatMul"/>): a sample of texts through the dynamic int8 graph, recording each
/// quantized layer's ranges (docs/performance.md, "int8 forms").
/// </summary>
internal static class Int8Calibrator
{
    /// <summary>
    /// Runs the dynamic int8 graph (DynamicQuantizeMatMul form) on the sample and records, for each int8 layer, its
    /// input's range and its product's range before the bias (the node's output per column, minus that column's bias).
    /// </summary>
    public static Int8Calibration Calibrate(ModelProto dynamicGraph, IReadOnlyList<EncodedText> sample, TextEncoder encoder, int batchSize = 16)
    {
        var graph = dynamicGraph.Clone();
        var layers = graph.Graph.Node.Where(n => n.OpType == "DynamicQuantizeMatMul").ToList();
        var initializers = graph.Graph.Initializer.ToDictionary(t => t.Name);
        foreach (var name in layers.SelectMany(n => new[] { n.Input[0], n.Output[0] }).Distinct())
            graph.Graph.Output.Add(new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1 } } });
        using var options = new SessionOptions { IntraOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        using var session = new InferenceSession(graph.ToByteArray(), options);
        var ranges = layers.ToDictionary(n => n.Input[1], _ => new Int8Range(float.MaxValue, float.MinValue, float.MaxValue, float.MinValue));
        var names = layers.SelectMany(n => new[] { n.Input[0], n.Output[0] }).Distinct().ToArray();
        for (int start = 0; start < sample.Count; start += batchSize)
        {
            var batch = encoder.Pad([.. sample.Skip(start).Take(batchSize)]);
            var values = batch.ToModelInputs().ToDictionary(p => p.Key, p => OrtValue.CreateTensorValueFromMemory(p.Value.Data, p.Value.Shape));
            using var runOptions = new RunOptions();
            using var results = session.Run(runOptions, [.. values.Keys], [.. values.Values], names);
            foreach (var v in values.Values) v.Dispose();
            var byName = names.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => results[p.i]);
            foreach (var node in layers)
            {
                var input = byName[node.Input[0]].GetTensorDataAsSpan<float>();
                var product = byName[node.Output[0]].GetTensorDataAsSpan<float>();
                float[] bias = node.Input.Count > 4 && node.Input[4] != "" ? Floats(initializers[node.Input[4]]) : new float[1];
                int columns = bias.Length;
                var r = ranges[node.Input[1]];
                float inMin = r.InputMin, inMax = r.InputMax, outMin = r.ProductMin, outMax = r.ProductMax;
                foreach (float v in input) { inMin = Math.Min(inMin, v); inMax = Math.Max(inMax, v); }
                for (int i = 0; i < product.Length; i++)
                {
                    float v = product[i] - (columns > 1 ? bias[i % columns] : bias[0]);
                    outMin = Math.Min(outMin, v);
                    outMax = Math.Max(outMax, v);
                }
                ranges[node.Input[1]] = new Int8Range(inMin, inMax, outMin, outMax);
            }
        }
        return new Int8Calibration(ranges);
    }

    private static float[] Floats(TensorProto t) =>
        t.RawData.Length > 0 ? System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(t.RawData.Span).ToArray() : [.. t.FloatData];

}
