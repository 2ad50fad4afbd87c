using KeyEmbed.Architectures;
using KeyEmbed.Models;
using KeyEmbed.Runtime;

namespace KeyEmbed.Tests.Architectures.Bert;

public sealed class BertGoldenTests
{
    private static Dictionary<string, DenseTensor<float>> RunAll(string model, string goldenCase)
    {
        using var loaded = LoadedModel.Open(model);
        using var session = loaded.CreateSession(loaded.AllHiddenStates);
        var names = Enumerable.Range(0, loaded.Architecture.LayerCount + 1).Select(k => $"hidden_states.{k}").ToList();
        return session.Run(BertGolden.Inputs(goldenCase), names);
    }

    [Fact]
    public void Tiny_random_safetensors_reproduces_every_hidden_state()
    {
        var result = RunAll(SharedData.Golden("bert-tiny-random"), "bert-tiny-random");
        Assert.Equal(4, result.Count);
        BertGolden.AssertMatches("bert-tiny-random", result);
    }

    [Fact]
    [Trait("Resource", "built-in model (90 MB graph)")]
    public void Built_in_minilm_reproduces_all_seven_hidden_states()
    {
        var result = RunAll("minilm", "bert-minilm");
        Assert.Equal(7, result.Count);
        BertGolden.AssertMatches("bert-minilm", result);
    }

    [Fact]
    public void Graph_cut_after_a_layer_gives_that_layer_only()
    {
        using var loaded = LoadedModel.Open(SharedData.Golden("bert-tiny-random"));
        var graph = loaded.Architecture.BuildGraph(new GraphRequest(1, [1]));
        Assert.Equal(["hidden_states.1"], graph.Graph.Output.Select(o => o.Name));
        // Layers 2 and 3 are not built: their weights are not in the graph.
        Assert.DoesNotContain(graph.Graph.Initializer, t => t.Name.StartsWith("layer_1/", StringComparison.Ordinal));
        using var session = new EncoderSession(Google.Protobuf.MessageExtensions.ToByteArray(graph));
        var result = session.Run(BertGolden.Inputs("bert-tiny-random"), ["hidden_states.1"]);
        BertGolden.AssertMatches("bert-tiny-random", n => (result[n].Data, result[n].Shape), [1]);
    }

    [Fact]
    public void Request_beyond_the_last_layer_is_rejected()
    {
        using var loaded = LoadedModel.Open(SharedData.Golden("bert-tiny-random"));
        var e = Assert.Throws<KeyEmbedException>(() => loaded.Architecture.BuildGraph(new GraphRequest(4)));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Contains("0..3", e.Message);
    }
}
