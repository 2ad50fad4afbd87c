using System.Text;
using KeyEmbed.Architectures;
using KeyEmbed.Embedding;
using KeyEmbed.Evaluation;
using KeyEmbed.Onnx;

namespace KeyEmbed.Tests.Performance;

/// <summary>
/// int8 compute stays within its bound (docs/performance.md, "int8"). On the benchmark machine (AVX-512 VNNI) every one
/// of the 2,551 STS sentences is at cosine ≥ 0.99 to float32 (lowest 0.9924); on this test's sample graph version 5
/// measured mean 0.9982, lowest 0.9939. The test allows mean ≥ 0.996 and lowest ≥ 0.985: other CPUs run other ONNX
/// Runtime int8 kernels (AVX2 without VNNI sums products in saturating 16-bit steps), and the int8 graph before its
/// smoothed and outlier-split inputs (sample: 0.993 / 0.980) still fails both.
/// </summary>
public sealed class ComputePrecisionTests
{
    private const double Int8MeanCosineBound = 0.996;
    private const double Int8LowestCosineBound = 0.985;

    [Fact]
    public void Int8_vectors_stay_within_the_stated_cosine_bounds_of_the_reference_vectors()
    {
        var texts = File.ReadAllLines(SharedData.Golden("minilm-sts-test", "texts.txt"), Encoding.UTF8);
        var reference = NpyFile.Read(SharedData.Golden("minilm-sts-test", "vectors.npy"));
        int width = (int)reference.Shape[1];
        // Every 8th sentence: a spread of lengths, in a few seconds.
        int[] picked = [.. Enumerable.Range(0, texts.Length).Where(i => i % 8 == 0)];
        using var int8 = KeyEmbedModel.Load("minilm", new KeyEmbedModelOptions { ComputePrecision = ComputePrecision.Int8, UseGraphCache = false });
        using var fp32 = KeyEmbedModel.Load("minilm", new KeyEmbedModelOptions { UseGraphCache = false });
        var int8Vectors = int8.Embed([.. picked.Select(i => texts[i])]).Vectors;
        var fp32Vectors = fp32.Embed([.. picked.Select(i => texts[i])]).Vectors;
        double worstInt8 = 1, worstFp32 = 1;
        double sumInt8 = 0;
        for (int k = 0; k < picked.Length; k++)
        {
            var expected = reference.Data.AsSpan(picked[k] * width, width).ToArray();
            worstInt8 = Math.Min(worstInt8, StsBenchmark.Cosine(int8Vectors[k], expected));
            sumInt8 += StsBenchmark.Cosine(int8Vectors[k], expected);
            worstFp32 = Math.Min(worstFp32, StsBenchmark.Cosine(fp32Vectors[k], expected));
        }
        Assert.True(worstFp32 >= 0.9999, $"float32 worst cosine {worstFp32:F6}");
        double meanInt8 = sumInt8 / picked.Length;
        Assert.True(meanInt8 >= Int8MeanCosineBound, $"int8 mean cosine {meanInt8:F6} < {Int8MeanCosineBound}");
        Assert.True(worstInt8 >= Int8LowestCosineBound, $"int8 worst cosine {worstInt8:F6} < {Int8LowestCosineBound}");
        // Int8 really ran: its answers differ from float32's.
        Assert.True(worstInt8 < 0.99999, $"int8 vectors equal the float32 ones (worst cosine {worstInt8:F7}); was int8 used?");
    }

    [Fact]
    public void Int8_with_fused_kernels_and_attention_agrees_with_plain_int8_and_float32()
    {
        using var model = KeyEmbed.Models.LoadedModel.Open("minilm");
        var inputs = KeyEmbed.Tests.Architectures.Bert.BertGolden.Inputs("bert-minilm");
        float[] Run(GraphRequest request)
        {
            using var session = new KeyEmbed.Runtime.EncoderSession(Google.Protobuf.MessageExtensions.ToByteArray(model.Architecture.BuildGraph(request)));
            return session.Run(inputs, [GraphRequest.PooledOutputName(6)])[GraphRequest.PooledOutputName(6)].Data;
        }
        var fp32 = Run(new GraphRequest(6, [6]) { Pooling = GraphPooling.MaskedMean });
        var plain = Run(new GraphRequest(6, [6]) { Precision = ComputePrecision.Int8, Pooling = GraphPooling.MaskedMean });
        var fused = Run(new GraphRequest(6, [6]) { Precision = ComputePrecision.Int8, Pooling = GraphPooling.MaskedMean, FusedOperators = true, FusedAttention = true });
        double Cosine(float[] a, float[] b, int row) => StsBenchmark.Cosine(a.AsSpan(row * 384, 384).ToArray(), b.AsSpan(row * 384, 384).ToArray());
        for (int row = 0; row < 4; row++)
        {
            // Two int8 approximations of the same float32 answer: each near it, and near each other.
            Assert.True(Cosine(fp32, plain, row) >= Int8LowestCosineBound, $"row {row}: plain int8 vs float32 {Cosine(fp32, plain, row):F5}");
            Assert.True(Cosine(fp32, fused, row) >= Int8LowestCosineBound, $"row {row}: fused int8 vs float32 {Cosine(fp32, fused, row):F5}");
            Assert.True(Cosine(plain, fused, row) >= 0.995, $"row {row}: plain vs fused int8 {Cosine(plain, fused, row):F5}");
        }
    }

    [Fact]
    public void Int8_graph_quantizes_every_linear_layer()
    {
        using var model = KeyEmbed.Models.LoadedModel.Open("minilm");
        var graph = model.Architecture.BuildGraph(new GraphRequest(6, [6]) { Precision = ComputePrecision.Int8 }).Graph;
        var nodes = graph.Node;
        // Per layer: the merged query·key·value projection, attention output, up, down.
        Assert.Equal(6 * 4, nodes.Count(n => n.OpType == "DynamicQuantizeMatMul"));
        var initializers = graph.Initializer.ToDictionary(t => t.Name, t => t.Dims.ToArray());
        Assert.Equal(6, initializers.Count(p => p.Key.EndsWith("qkv.kernel_int8", StringComparison.Ordinal) && p.Value.SequenceEqual([384L, 3 * 384L])));
        Assert.DoesNotContain(nodes, n => n.OpType == "Div" && n.Input.Any(i => nodes.Any(m => m.OpType == "MatMul" && m.Output.Contains(i))));
        Assert.DoesNotContain(nodes, n => n.OpType == "MatMul" && n.Input.Any(i => i.EndsWith(".kernel", StringComparison.Ordinal)));
        // Beside them, float32 only for a few loud channels: the feed-forward up input's outliers, and the down
        // input's loud channels, computed apart from the up input and multiplied by their down rows …
        var shapes = graph.Initializer.ToDictionary(t => t.Name, t => t.Dims.ToArray());
        List<string> MatMulWeights(string part) => [.. nodes.Where(n => n.OpType == "MatMul").SelectMany(n => n.Input)
            .Where(i => i.Contains(part, StringComparison.Ordinal) && shapes.ContainsKey(i))];
        var upOutliers = MatMulWeights("outlier_kernel");
        Assert.Equal(6, upOutliers.Count);
        Assert.All(upOutliers, k => Assert.InRange(shapes[k][0], 1, 32));
        var downLoudRows = MatMulWeights("output.loud_kernel");
        Assert.Equal(6, downLoudRows.Count);
        Assert.All(downLoudRows, k => Assert.InRange(shapes[k][0], 1, 32));
        Assert.Equal(6, MatMulWeights("intermediate.loud_kernel").Count);
        // … and one per-channel smoothing of each layer's Q/K/V input.
        Assert.Equal(6, nodes.Count(n => n.OpType == "Mul" && n.Input.Any(i => i.Contains("input_smoothing", StringComparison.Ordinal))));
    }

    [Fact]
    public void Per_column_quantization_keeps_each_weight_within_half_a_step()
    {
        var rng = new Random(3);
        int rows = 5, columns = 4;
        var weights = new float[rows * columns];
        for (int i = 0; i < weights.Length; i++) weights[i] = (float)(rng.NextDouble() - 0.5) * (1 + i % columns * 10);
        var (values, scales) = WeightQuantization.PerColumnInt8(weights, rows, columns);
        for (int c = 0; c < columns; c++)
        {
            float max = Enumerable.Range(0, rows).Max(r => Math.Abs(weights[r * columns + c]));
            Assert.Equal(max / 127f, scales[c], 6);
            Assert.Contains(Enumerable.Range(0, rows), r => Math.Abs(values[r * columns + c]) == 127);
            for (int r = 0; r < rows; r++)
                Assert.True(Math.Abs(values[r * columns + c] * scales[c] - weights[r * columns + c]) <= scales[c] / 2 + 1e-7f);
        }
    }
}
