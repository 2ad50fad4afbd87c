using Google.Protobuf;
using KeyEmbed.Architectures;
using KeyEmbed.Embedding;
using KeyEmbed.Models;
using KeyEmbed.Runtime;

namespace KeyEmbed.Tests.Architectures.Bert;

/// <summary>
/// The float32 plain graph's self-attention: query, key and value from one merged [H, 3H] projection per layer with
/// the 1/√d score scale folded into the query's weights, giving the golden hidden states.
/// </summary>
public sealed class BertPlainAttentionTests
{
    [Fact]
    [Trait("Resource", "built-in model (90 MB graph)")]
    public void Float32_plain_graph_projects_query_key_value_once_per_layer_without_dividing_the_scores()
    {
        using var loaded = LoadedModel.Open("minilm");
        int layers = loaded.Architecture.LayerCount;
        int hidden = loaded.Architecture.HiddenSize;
        var model = loaded.Architecture.BuildGraph(new GraphRequest(layers));
        var graph = model.Graph;

        var merged = graph.Initializer.Where(t => t.Name.EndsWith("/qkv.kernel", StringComparison.Ordinal)).ToList();
        Assert.Equal(layers, merged.Count);
        Assert.All(merged, t => Assert.Equal([hidden, 3L * hidden], t.Dims));
        Assert.DoesNotContain(graph.Initializer, t => t.Name.EndsWith("/query.kernel", StringComparison.Ordinal)
            || t.Name.EndsWith("/key.kernel", StringComparison.Ordinal) || t.Name.EndsWith("/value.kernel", StringComparison.Ordinal));
        // Per layer: the merged projection, attention output, feed-forward up and down.
        var weights = graph.Initializer.Select(t => t.Name).ToHashSet();
        Assert.Equal(4 * layers, graph.Node.Count(n => n.OpType == "MatMul" && weights.Contains(n.Input[1])));
        // The only Divs left are the GELU's x / √2; none divides a MatMul product (the Q·Kᵀ scores).
        var matMulOutputs = graph.Node.Where(n => n.OpType == "MatMul").SelectMany(n => n.Output).ToHashSet();
        Assert.DoesNotContain(graph.Node, n => n.OpType == "Div" && n.Input.Any(matMulOutputs.Contains));

        var names = Enumerable.Range(0, layers + 1).Select(LayerSelection.OutputName).ToList();
        using var session = new EncoderSession(model.ToByteArray());
        BertGolden.AssertMatches("bert-minilm", session.Run(BertGolden.Inputs("bert-minilm"), names));
    }
}
