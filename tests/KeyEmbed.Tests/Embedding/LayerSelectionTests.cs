using KeyEmbed.Embedding;

namespace KeyEmbed.Tests.Embedding;

public sealed class LayerSelectionTests
{
    private static readonly GoldenHiddenStates Bert = GoldenHiddenStates.Bert;

    [Theory]
    [InlineData(0, 0)]
    [InlineData(3, 3)]
    [InlineData(-1, 3)]
    [InlineData(-2, 2)]
    [InlineData(-4, 0)]
    public void Python_style_indexes_map_onto_hidden_states_0_to_L(int index, int expected) =>
        Assert.Equal(expected, LayerSelection.Resolve(index, layerCount: 3));

    [Theory]
    [InlineData(4)]
    [InlineData(-5)]
    [InlineData(13)]
    public void An_index_outside_the_model_names_the_valid_range(int index)
    {
        var e = Assert.Throws<KeyEmbedException>(() => LayerSelection.Resolve(index, layerCount: 3));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Contains("-4..3", e.Message);
        Assert.Contains($"layer {index}", e.Message);
    }

    [Fact]
    public void Two_indexes_for_the_same_layer_are_rejected()
    {
        var e = Assert.Throws<KeyEmbedException>(() => LayerSelection.Resolve([-1, 3], layerCount: 3));
        Assert.Contains("hidden state 3", e.Message);
    }

    [Fact]
    public void Sum_of_the_last_two_golden_layers_is_their_element_wise_sum()
    {
        var combined = LayerSelection.Select(Bert.Outputs(), LayerSelection.Resolve([-2, -1], 3), LayerMode.Sum);
        Assert.Equal(Bert.States[3].Shape, combined.Shape);
        for (int i = 0; i < combined.Data.Length; i++)
            Assert.Equal(Bert.States[2].Data[i] + Bert.States[3].Data[i], combined.Data[i], 1e-6f);
    }

    [Fact]
    public void Mean_of_three_golden_layers_divides_their_sum_by_three()
    {
        var combined = LayerSelection.Select(Bert.Outputs(), [1, 2, 3], LayerMode.Mean);
        for (int i = 0; i < combined.Data.Length; i++)
            Assert.Equal((Bert.States[1].Data[i] + Bert.States[2].Data[i] + Bert.States[3].Data[i]) / 3f, combined.Data[i], 1e-5f);
    }

    [Fact]
    public void Concat_places_each_layer_side_by_side_per_token_in_the_order_given()
    {
        var combined = LayerSelection.Select(Bert.Outputs(), [3, 0], LayerMode.Concat);
        int h = Bert.Hidden;
        Assert.Equal([Bert.Batch, Bert.Seq, 2L * h], combined.Shape);
        for (int b = 0; b < Bert.Batch; b++)
            for (int t = 0; t < Bert.Seq; t++)
                for (int k = 0; k < h; k++)
                {
                    int row = (b * Bert.Seq + t) * 2 * h;
                    Assert.Equal(Bert.At(3, b, t, k), combined.Data[row + k]);
                    Assert.Equal(Bert.At(0, b, t, k), combined.Data[row + h + k]);
                }
    }

    [Fact]
    public void Pooled_sum_of_layers_equals_the_sum_of_pooled_layers_for_mean_pooling()
    {
        // Mean pooling is linear, so pooling the summed layers must equal summing the per-layer means.
        var summed = LayerSelection.Select(Bert.Outputs(), LayerSelection.Resolve([-2, -1], Bert.LayerCount), LayerMode.Sum);
        var pooled = Pooling.Pool(summed, Bert.AttentionMask, PoolingMode.Mean);
        var a = Pooling.Pool(Bert.States[2], Bert.AttentionMask, PoolingMode.Mean);
        var b = Pooling.Pool(Bert.States[3], Bert.AttentionMask, PoolingMode.Mean);
        for (int r = 0; r < Bert.Batch; r++)
            for (int k = 0; k < Bert.Hidden; k++)
                Assert.Equal(a[r][k] + b[r][k], pooled[r][k], 1e-5f);
    }

    [Fact]
    public void A_single_layer_is_returned_as_is()
    {
        var one = LayerSelection.Select(Bert.Outputs(), [2], LayerMode.Concat);
        Assert.Same(Bert.States[2], one);
    }
}
