using Google.Protobuf;
using KeyEmbed.Architectures;
using KeyEmbed.Evaluation;
using KeyEmbed.Onnx;
using KeyEmbed.Runtime;
using KeyEmbed.Tokenization;

namespace KeyEmbed.Tests.Performance;

/// <summary>
/// ONNX Runtime's int8 forms (<see cref="Int8Form"/>; docs/performance.md, "int8 forms"): each builds and runs, the
/// dynamic ones give the default form's answers, the static ones are calibrated from a sample and stay near float32.
/// </summary>
public sealed class Int8FormTests
{
    private static readonly string[] CalibrationTexts =
    [
        "A man is playing a guitar.", "The cat sat on the mat while it rained outside.", "stock markets", "weather forecast for tomorrow",
        "Three children are running through a field of tall grass near the river.", "apple", "How do I reset my password?",
    ];

    private static float[] Run(KeyEmbed.Models.LoadedModel model, GraphRequest request, IReadOnlyDictionary<string, DenseTensor<long>> inputs)
    {
        using var session = new EncoderSession(model.Architecture.BuildGraph(request).ToByteArray());
        return session.Run(inputs, [GraphRequest.PooledOutputName(6)])[GraphRequest.PooledOutputName(6)].Data;
    }

    private static double Cosine(float[] a, float[] b, int row) => StsBenchmark.Cosine(a.AsSpan(row * 384, 384).ToArray(), b.AsSpan(row * 384, 384).ToArray());

    [Fact]
    public void Every_int8_form_runs_and_the_dynamic_ones_agree_with_the_default()
    {
        using var model = KeyEmbed.Models.LoadedModel.Open("minilm");
        var encoder = TextEncoder.Load("minilm");
        var request = new GraphRequest(6, [6]) { Precision = ComputePrecision.Int8, Pooling = GraphPooling.MaskedMean };
        var calibration = Int8Calibrator.Calibrate(model.Architecture.BuildGraph(request), [.. CalibrationTexts.Select(t => encoder.Encode(t))], encoder);
        var inputs = KeyEmbed.Tests.Architectures.Bert.BertGolden.Inputs("bert-minilm");
        var fp32 = Run(model, new GraphRequest(6, [6]) { Pooling = GraphPooling.MaskedMean }, inputs);
        var dynamic = Run(model, request, inputs);
        int rows = fp32.Length / 384;
        foreach (var form in new[] { Int8Form.MatMulIntegerToFloat, Int8Form.UnsignedWeights })
        {
            // The same integer products (u8u8 only shifts the weights by their zero point): the default's answers.
            var other = Run(model, request with { Int8Form = form }, inputs);
            for (int row = 0; row < rows; row++)
                Assert.True(Cosine(dynamic, other, row) >= 0.99999, $"{form}, row {row}: {Cosine(dynamic, other, row):F7} to the default form");
        }
        foreach (var form in new[] { Int8Form.StaticMatMulIntegerToFloat, Int8Form.StaticQLinearMatMul })
        {
            var other = Run(model, request with { Int8Form = form, Int8Calibration = calibration }, inputs);
            for (int row = 0; row < rows; row++)
            {
                Assert.True(Cosine(fp32, other, row) >= 0.9, $"{form}, row {row}: {Cosine(fp32, other, row):F5} to float32");
                // Static scales differ from the per-run ones: not the default's answers.
                Assert.True(Cosine(dynamic, other, row) < 0.999999, $"{form}, row {row}: same answers as the dynamic form; were the static scales used?");
            }
        }
    }

    [Fact]
    public void Calibration_records_a_range_per_int8_layer_that_holds_what_the_sample_produced()
    {
        using var model = KeyEmbed.Models.LoadedModel.Open("minilm");
        var encoder = TextEncoder.Load("minilm");
        var graph = model.Architecture.BuildGraph(new GraphRequest(6, [6]) { Precision = ComputePrecision.Int8, Pooling = GraphPooling.MaskedMean });
        var calibration = Int8Calibrator.Calibrate(graph, [.. CalibrationTexts.Select(t => encoder.Encode(t))], encoder, batchSize: 3);
        var weights = graph.Graph.Node.Where(n => n.OpType == "DynamicQuantizeMatMul").Select(n => n.Input[1]).ToList();
        Assert.Equal(24, weights.Count);
        Assert.Equal(weights.Order(StringComparer.Ordinal), calibration.Ranges.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, range) in calibration.Ranges)
        {
            Assert.True(range.InputMin < range.InputMax && range.ProductMin < range.ProductMax, $"{name}: empty range {range}");
            Assert.True(float.IsFinite(range.InputMin) && float.IsFinite(range.ProductMax), $"{name}: {range}");
        }
        // A different sample gives different ranges, hence a different cache key.
        var other = Int8Calibrator.Calibrate(graph, [encoder.Encode("one short text")], encoder);
        Assert.NotEqual(calibration.Digest(), other.Digest());
        var request = new GraphRequest(6, [6]) { Precision = ComputePrecision.Int8, Int8Form = Int8Form.StaticQLinearMatMul };
        Assert.NotEqual((request with { Int8Calibration = calibration }).CacheKey, (request with { Int8Calibration = other }).CacheKey);
        Assert.NotEqual(request.CacheKey, (request with { Int8Form = Int8Form.UnsignedWeights }).CacheKey);
        // The default form keeps the cache key it always had.
        Assert.DoesNotContain("int8 form", new GraphRequest(6, [6]) { Precision = ComputePrecision.Int8 }.CacheKey, StringComparison.Ordinal);
    }

    [Fact]
    public void A_static_form_without_calibration_is_refused_when_the_graph_is_built()
    {
        using var model = KeyEmbed.Models.LoadedModel.Open("minilm");
        Assert.Throws<InvalidOperationException>(() => model.Architecture.BuildGraph(
            new GraphRequest(6, [6]) { Precision = ComputePrecision.Int8, Int8Form = Int8Form.StaticMatMulIntegerToFloat }));
    }

    [Theory]
    [InlineData(-2f, 6f)]
    [InlineData(0.5f, 3f)]
    [InlineData(-4f, -1f)]
    public void Uint8_parameters_cover_the_range_and_zero_exactly(float min, float max)
    {
        var (scale, zeroPoint) = QuantizedLinear.Uint8Parameters(min, max);
        float low = Math.Min(min, 0), high = Math.Max(max, 0);
        Assert.Equal((high - low) / 255f, scale, 6);
        // The range's ends land on 0 and 255 (0 itself on the zero point, exactly representable).
        Assert.InRange(MathF.Round(low / scale) + zeroPoint, -0.5f, 0.5f);
        Assert.InRange(MathF.Round(high / scale) + zeroPoint, 254.5f, 255.5f);
    }
}
