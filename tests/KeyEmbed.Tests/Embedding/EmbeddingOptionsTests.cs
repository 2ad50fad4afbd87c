using KeyEmbed.Embedding;

namespace KeyEmbed.Tests.Embedding;

public sealed class EmbeddingOptionsTests
{
    [Fact]
    public void Defaults_come_from_the_model_raw_BERT_uses_the_second_to_last_layer()
    {
        var plan = EmbeddingOptions.Default.Resolve(EmbeddingDefaults.RawBert, layerCount: 12, hiddenSize: 768);
        Assert.Equal([11], plan.Layers);
        Assert.Equal(PoolingMode.Mean, plan.Pooling);
        Assert.False(plan.Normalize);
        Assert.Equal(768, plan.Dimensions);
        Assert.Equal(11, plan.HighestLayer);
        Assert.Equal(["hidden_states.11"], plan.OutputNames);
    }

    [Fact]
    public void A_sentence_transformers_model_defaults_to_the_normalized_mean_of_the_last_layer()
    {
        var plan = EmbeddingOptions.Default.Resolve(EmbeddingDefaults.SentenceTransformersMean, 6, 384);
        Assert.Equal([6], plan.Layers);
        Assert.True(plan.Normalize);
    }

    [Fact]
    public void Concat_of_two_layers_with_mean_max_doubles_the_width_twice_and_the_highest_layer_cuts_the_graph()
    {
        var options = new EmbeddingOptions { Layers = [-4, -1], LayerMode = LayerMode.Concat, Pooling = PoolingMode.MeanMax };
        var plan = options.Resolve(EmbeddingDefaults.RawBert, 12, 768);
        Assert.Equal([9, 12], plan.Layers);
        Assert.Equal(4 * 768, plan.FullDimensions);
        Assert.Equal(12, plan.HighestLayer);
        Assert.Equal(["hidden_states.9", "hidden_states.12"], plan.OutputNames);
    }

    [Fact]
    public void Cls_pooling_means_first_for_BERT_and_last_real_for_XLNet()
    {
        var options = new EmbeddingOptions { Pooling = PoolingMode.Cls };
        Assert.Equal(PoolingMode.First, options.Resolve(EmbeddingDefaults.RawBert, 2, 8).Pooling);
        Assert.Equal(PoolingMode.LastReal, options.Resolve(EmbeddingDefaults.RawXLNet, 2, 8).Pooling);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(769)]
    public void Dimensions_outside_the_output_width_name_the_valid_range(int dimensions)
    {
        var e = Assert.Throws<KeyEmbedException>(() => new EmbeddingOptions { Dimensions = dimensions }.Resolve(EmbeddingDefaults.RawBert, 12, 768));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Contains("dimensions must be between 1 and 768", e.Message);
    }

    [Fact]
    public void A_layer_outside_the_model_is_an_input_error_with_the_range()
    {
        var e = Assert.Throws<KeyEmbedException>(() => new EmbeddingOptions { Layers = [-14] }.Resolve(EmbeddingDefaults.RawBert, 12, 768));
        Assert.Contains("-13..12", e.Message);
    }

    [Fact]
    public void An_empty_layer_list_is_rejected()
    {
        var e = Assert.Throws<KeyEmbedException>(() => new EmbeddingOptions { Layers = [] }.Resolve(EmbeddingDefaults.RawBert, 12, 768));
        Assert.Contains("at least one layer", e.Message);
    }

    [Fact]
    public void Excluding_special_tokens_with_cls_pooling_is_rejected()
    {
        var options = new EmbeddingOptions { Pooling = PoolingMode.Cls, ExcludeSpecialTokens = true };
        var e = Assert.Throws<KeyEmbedException>(() => options.Resolve(EmbeddingDefaults.RawXLNet, 2, 8));
        Assert.Contains("'last'", e.Message);
    }

    [Fact]
    public void Layer_lists_and_names_parse_and_bad_ones_say_what_is_wrong()
    {
        Assert.Equal([-2, -1], EmbeddingOptions.ParseLayers("-2, -1"));
        Assert.Equal(PoolingMode.MeanMax, EmbeddingOptions.ParsePooling("mean-max"));
        Assert.Equal(PoolingMode.LastReal, EmbeddingOptions.ParsePooling("last"));
        Assert.Equal(LayerMode.Concat, EmbeddingOptions.ParseLayerMode("concat"));
        Assert.Equal(VectorPrecision.Binary, EmbeddingOptions.ParsePrecision("binary"));
        Assert.Contains("'x'", Assert.Throws<KeyEmbedException>(() => EmbeddingOptions.ParseLayers("-1,x")).Message);
        Assert.Contains(EmbeddingOptions.PoolingNames, Assert.Throws<KeyEmbedException>(() => EmbeddingOptions.ParsePooling("avgmax")).Message);
        Assert.Throws<KeyEmbedException>(() => EmbeddingOptions.ParseLayerMode("product"));
        Assert.Throws<KeyEmbedException>(() => EmbeddingOptions.ParsePrecision("int4"));
    }
}
