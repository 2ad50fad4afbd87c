using KeyEmbed.Embedding;
using KeyEmbed.Similarity;

namespace KeyEmbed.Tests.Embedding;

/// <summary>A failure about one option carries that option's library name as data (<see cref="KeyEmbedException.Option"/>), so the CLI and server never read it back out of the message.</summary>
public sealed class OptionErrorsTests
{
    private static string? OptionOf(Action action) => Assert.Throws<KeyEmbedException>(action).Option;

    [Fact]
    public void Each_embedding_option_failure_names_its_option()
    {
        var defaults = new EmbeddingDefaults([-1]);
        Assert.Equal(nameof(EmbeddingOptions.Layers), OptionOf(() => EmbeddingOptions.ParseLayers("-1,x")));
        Assert.Equal(nameof(EmbeddingOptions.Layers), OptionOf(() => new EmbeddingOptions { Layers = [9] }.Resolve(defaults, 4, 16)));
        Assert.Equal(nameof(EmbeddingOptions.Layers), OptionOf(() => new EmbeddingOptions { Layers = [-1, 4] }.Resolve(defaults, 4, 16)));
        Assert.Equal(nameof(EmbeddingOptions.LayerMode), OptionOf(() => EmbeddingOptions.ParseLayerMode("product")));
        Assert.Equal(nameof(EmbeddingOptions.Pooling), OptionOf(() => EmbeddingOptions.ParsePooling("median")));
        Assert.Equal(nameof(EmbeddingOptions.Precision), OptionOf(() => EmbeddingOptions.ParsePrecision("int4")));
        Assert.Equal(nameof(EmbeddingOptions.LongText), OptionOf(() => EmbeddingOptions.ParseLongText("cut")));
        Assert.Equal(nameof(EmbeddingOptions.Dimensions), OptionOf(() => new EmbeddingOptions { Dimensions = 99 }.Resolve(defaults, 4, 16)));
        Assert.Equal(nameof(EmbeddingOptions.ExcludeSpecialTokens),
            OptionOf(() => new EmbeddingOptions { ExcludeSpecialTokens = true, Pooling = PoolingMode.First }.Resolve(defaults, 4, 16)));
    }

    [Fact]
    public void Each_keyword_option_failure_names_its_option()
    {
        Assert.Equal(nameof(KeywordOptions.Top), OptionOf(() => new KeywordOptions { Top = 0 }.Validate()));
        Assert.Equal(nameof(KeywordOptions.MaxNgram), OptionOf(() => new KeywordOptions { MinNgram = 3, MaxNgram = 2 }.Validate()));
        Assert.Equal(nameof(KeywordOptions.Diversity), OptionOf(() => new KeywordOptions { Diversity = 2 }.Validate()));
    }

    [Fact]
    public void A_failure_about_no_single_option_names_none()
    {
        var e = Assert.Throws<KeyEmbedException>(() => KeyEmbed.Tokenization.TextEncoder.Load("minilm").Encode("x", maxLength: 2));
        Assert.Null(e.Option);
    }
}
