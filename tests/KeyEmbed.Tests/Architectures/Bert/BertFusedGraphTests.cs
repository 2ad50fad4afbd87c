using Google.Protobuf;
using KeyEmbed.Architectures;
using KeyEmbed.Embedding;
using KeyEmbed.Models;
using KeyEmbed.Runtime;

namespace KeyEmbed.Tests.Architectures.Bert;

/// <summary>
/// The fused graph (ONNX Runtime's Attention, SkipLayerNormalization, BiasGelu) and the in-graph mean pooling give
/// the answers of the plain ONNX graph: hidden states within 1e-4 of it and of the golden references.
/// </summary>
public sealed class BertFusedGraphTests
{
    public static TheoryData<string, string> Cases => new()
    {
        { "bert-tiny-random", "bert-tiny-random" },
        { "minilm", "bert-minilm" },
    };

    private static string ModelPath(string model) => model == "minilm" ? model : SharedData.Golden(model);

    private static Dictionary<string, DenseTensor<float>> Run(LoadedModel model, GraphRequest request, IEnumerable<string> outputs, string goldenCase)
    {
        using var session = new EncoderSession(model.Architecture.BuildGraph(request).ToByteArray());
        return session.Run(BertGolden.Inputs(goldenCase), [.. outputs]);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Fused_graph_gives_the_plain_graphs_hidden_states_within_1e_4(string model, string goldenCase)
    {
        using var loaded = LoadedModel.Open(ModelPath(model));
        int layers = loaded.Architecture.LayerCount;
        var names = Enumerable.Range(0, layers + 1).Select(LayerSelection.OutputName).ToList();
        var plain = Run(loaded, new GraphRequest(layers) { FusedOperators = false }, names, goldenCase);
        BertGolden.AssertMatches(goldenCase, plain);
        foreach (var request in new[]
        {
            new GraphRequest(layers) { FusedOperators = true },
            new GraphRequest(layers) { FusedOperators = true, FusedAttention = true },
            new GraphRequest(layers) { FusedAttention = true },
        })
        {
            var fused = Run(loaded, request, names, goldenCase);
            foreach (var name in names)
            {
                Assert.Equal(plain[name].Shape, fused[name].Shape);
                float worst = MaxAbsDifference(plain[name].Data, fused[name].Data);
                Assert.True(worst <= BertGolden.Tolerance, $"{goldenCase} {name} (fused operators {request.FusedOperators}, fused attention {request.FusedAttention}): fused vs plain max abs difference {worst:E3}");
            }
            BertGolden.AssertMatches(goldenCase, fused);
        }
    }

    [Fact]
    public void Fused_request_emits_contrib_operators_and_plain_request_does_not()
    {
        using var loaded = LoadedModel.Open(SharedData.Golden("bert-tiny-random"));
        HashSet<string> Ops(GraphRequest request) => loaded.Architecture.BuildGraph(request).Graph.Node.Select(n => n.OpType).ToHashSet();
        var fusedOps = Ops(new GraphRequest(2) { FusedOperators = true });
        var attentionOps = Ops(new GraphRequest(2) { FusedOperators = true, FusedAttention = true });
        var plainOps = Ops(new GraphRequest(2));
        Assert.Subset(fusedOps, new HashSet<string> { "SkipLayerNormalization", "BiasGelu", "Softmax" });
        Assert.DoesNotContain("Attention", fusedOps);
        Assert.Subset(attentionOps, new HashSet<string> { "Attention", "SkipLayerNormalization", "BiasGelu" });
        Assert.DoesNotContain("Softmax", attentionOps);
        Assert.Empty(plainOps.Intersect(["Attention", "SkipLayerNormalization", "BiasGelu", "MultiHeadAttention"]));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void In_graph_mean_pooling_equals_mean_pooling_of_the_hidden_states(string model, string goldenCase)
    {
        using var loaded = LoadedModel.Open(ModelPath(model));
        int last = loaded.Architecture.LayerCount;
        int[] layers = [0, last];
        var hidden = Run(loaded, new GraphRequest(last, layers), layers.Select(LayerSelection.OutputName), goldenCase);
        var pooled = Run(loaded, new GraphRequest(last, layers) { Pooling = GraphPooling.MaskedMean }, layers.Select(GraphRequest.PooledOutputName), goldenCase);
        var mask = BertGolden.Inputs(goldenCase)["attention_mask"].Data;
        foreach (int layer in layers)
        {
            var expected = Pooling.Pool(hidden[LayerSelection.OutputName(layer)], mask, PoolingMode.Mean);
            var actual = pooled[GraphRequest.PooledOutputName(layer)];
            Assert.Equal([expected.Length, expected[0].Length], actual.Shape.Select(d => (int)d));
            for (int row = 0; row < expected.Length; row++)
            {
                float worst = MaxAbsDifference(expected[row], actual.Data.AsSpan(row * expected[row].Length, expected[row].Length));
                Assert.True(worst <= 1e-5f, $"{goldenCase} layer {layer} row {row}: {worst:E3}");
            }
        }
    }

    [Fact]
    public void Graph_pooling_and_int8_requests_are_refused_for_architectures_without_them()
    {
        using var loaded = LoadedModel.Open(SharedData.Golden("xlnet-tiny-bi"));
        var e = Assert.Throws<KeyEmbedException>(() => loaded.GraphBytes(new GraphRequest(1) { Precision = ComputePrecision.Int8 }, null, out _));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Contains("xlnet", e.Message);
    }

    private static float MaxAbsDifference(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Assert.Equal(a.Length, b.Length);
        float worst = 0;
        for (int i = 0; i < a.Length; i++) worst = Math.Max(worst, Math.Abs(a[i] - b[i]));
        return worst;
    }
}
