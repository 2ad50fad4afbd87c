using KeyEmbed.Embedding;
using KeyEmbed.Evaluation;

namespace KeyEmbed.Tests.Evaluation;

public sealed class LayerSweepTests
{
    [Fact]
    public void Six_layers_give_every_hidden_state_then_first_plus_last_and_the_last_two()
    {
        var choices = LayerSweep.LayerChoices(6);
        Assert.Equal(["0", "1", "2", "3", "4", "5", "6", "1,6 sum", "5,6 sum", "5,6 concat"], choices.Select(c => c.Label));
        Assert.Equal([1, 6], choices[7].Layers);
        Assert.Equal(LayerMode.Sum, choices[7].Mode);
        Assert.Equal([5, 6], choices[9].Layers);
        Assert.Equal(LayerMode.Concat, choices[9].Mode);
    }

    [Theory]
    [InlineData(2, new[] { "0", "1", "2", "1,2 sum", "1,2 concat" })]
    [InlineData(1, new[] { "0", "1", "0,1 sum", "0,1 concat" })]
    public void Shallow_models_list_each_layer_pair_once(int layers, string[] expected) =>
        Assert.Equal(expected, LayerSweep.LayerChoices(layers).Select(c => c.Label));

    [Fact]
    public void Configurations_pair_every_layer_choice_with_every_pooling_unnormalized()
    {
        var configurations = LayerSweep.Configurations(6, LayerSweep.DefaultPoolings);
        Assert.Equal(10 * 4, configurations.Count);
        Assert.Equal(["mean", "max", "cls", "mean-max"], configurations.Take(4).Select(c => c.Pooling));
        Assert.All(configurations, c => Assert.False(c.Options.Normalize));
        var last = configurations[^1];
        Assert.Equal(("5,6 concat", "mean-max"), (last.Layers, last.Pooling));
        Assert.Equal([5, 6], last.Options.Layers!);
        Assert.Equal(LayerMode.Concat, last.Options.LayerMode);
        Assert.Equal(PoolingMode.MeanMax, last.Options.Pooling);
    }

    [Theory]
    [InlineData("mean,none")]
    [InlineData("mean,avg")]
    [InlineData("mean,sideways")]
    [InlineData(",")]
    public void Bad_pooling_lists_are_input_errors(string poolings)
    {
        var e = Assert.Throws<KeyEmbedException>(() => LayerSweep.Configurations(6, LayerSweep.ParsePoolings(poolings)));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Contains("pooling", e.Message);
    }

    [Fact]
    public void Evaluate_many_scores_each_configuration_like_evaluate_alone()
    {
        var pairs = new StsPair[]
        {
            new("a", "b", 1, "g"), new("a", "c", 4, "g"), new("b", "c", 2.5, "g"), new("c", "d", 0.5, "g"),
        };
        var vectorsA = new Dictionary<string, float[]> { ["a"] = [1, 0], ["b"] = [0, 1], ["c"] = [1, 1], ["d"] = [-1, 0.2f] };
        var vectorsB = new Dictionary<string, float[]> { ["a"] = [1, 2], ["b"] = [2, 1], ["c"] = [0, 1], ["d"] = [1, 0] };
        float[][] Lookup(IReadOnlyList<string> texts, Dictionary<string, float[]> table) => [.. texts.Select(t => table[t])];

        var both = StsBenchmark.EvaluateMany(pairs, texts => [Lookup(texts, vectorsA), Lookup(texts, vectorsB)]);
        Assert.Equal(StsBenchmark.Evaluate(pairs, texts => Lookup(texts, vectorsA)), both[0]);
        Assert.Equal(StsBenchmark.Evaluate(pairs, texts => Lookup(texts, vectorsB)), both[1]);
        Assert.NotEqual(both[0], both[1]);
    }
}
