using KeyEmbed.Embedding;
using KeyEmbed.Tests.Fixtures;

namespace KeyEmbed.Tests.Embedding;

/// <summary>A text tokenized once (<see cref="KeyEmbedModel.Prepare"/>) embeds exactly as the text itself, under every long-text mode.</summary>
public sealed class PreparedTextTests
{
    private static readonly string Long = string.Join(' ', Enumerable.Repeat("machine learning reads long documents about natural language", 12));

    private static void SameAsText(KeyEmbedModel model, IReadOnlyList<string> texts, EmbeddingOptions options)
    {
        var prepared = texts.Select(model.Prepare).ToList();
        for (int i = 0; i < texts.Count; i++)
        {
            Assert.Equal(model.CountTokens(texts[i]), prepared[i].Tokens);
            Assert.Equal(model.Tokenizer.UnknownShare(texts[i]), prepared[i].UnknownShare);
        }
        var expected = model.Embed(texts, options);
        var actual = model.EmbedPrepared(prepared, options);
        Assert.Equal(expected.Tokens, actual.Tokens);
        Assert.Equal(expected.Windows, actual.Windows);
        for (int i = 0; i < texts.Count; i++) Assert.Equal(expected.Vectors[i], actual.Vectors[i]);
    }

    [Theory]
    [InlineData(LongTextMode.Windows)]
    [InlineData(LongTextMode.Truncate)]
    public void Bert_texts_short_and_long_embed_as_the_texts_do(LongTextMode mode)
    {
        using var model = KeyEmbedModel.Load(null, new KeyEmbedModelOptions { CacheBytes = 0, MaxSequenceLength = 32 });
        SameAsText(model, ["machine learning", "", "人工智能 and café", Long], new EmbeddingOptions { LongText = mode });
        int windows = model.Embed([Long], new EmbeddingOptions { LongText = mode }).Windows[0];
        Assert.True(mode == LongTextMode.Windows ? windows > 1 : windows == 1, $"{windows} windows");
    }

    [Fact]
    public void Token_vectors_of_a_prepared_text_equal_the_texts_own()
    {
        using var model = KeyEmbedModel.Load(null, new KeyEmbedModelOptions { CacheBytes = 0, MaxSequenceLength = 32 });
        SameTokenVectors(model);
        using var folder = new TinyXLNetFolder();
        using var xlnet = KeyEmbedModel.Load(folder.Path, new KeyEmbedModelOptions { UseGraphCache = false, MaxSequenceLength = 16, Threads = 1, CacheBytes = 0 });
        SameTokenVectors(xlnet);
        Assert.Throws<ArgumentException>(() => xlnet.EmbedTokens(model.Prepare("machine learning")));
    }

    private static void SameTokenVectors(KeyEmbedModel model)
    {
        foreach (var text in new[] { "machine learning", "人工智能 and café", Long })
        {
            var expected = model.EmbedTokens(text).Tokens;
            var actual = model.EmbedTokens(model.Prepare(text)).Tokens;
            Assert.Equal(expected.Select(t => (t.Token, t.Id, t.Start, t.Length)), actual.Select(t => (t.Token, t.Id, t.Start, t.Length)));
            for (int i = 0; i < expected.Count; i++) Assert.Equal(expected[i].Vector, actual[i].Vector);
        }
    }

    [Fact]
    public void Through_the_embedding_cache_and_with_long_texts_refused()
    {
        using var model = KeyEmbedModel.Load(null, new KeyEmbedModelOptions { MaxSequenceLength = 32 });
        SameAsText(model, ["machine learning", "deep learning"], new EmbeddingOptions());
        SameAsText(model, ["machine learning", "natural language"], new EmbeddingOptions());
        var refused = Assert.Throws<KeyEmbedException>(() => model.EmbedPrepared([model.Prepare(Long)], new EmbeddingOptions { LongText = LongTextMode.Error }));
        Assert.Contains("window", refused.Message);
    }

    [Fact]
    public void Xlnet_texts_run_by_segment_recurrence_as_the_texts_do()
    {
        using var folder = new TinyXLNetFolder();
        using var model = KeyEmbedModel.Load(folder.Path, new KeyEmbedModelOptions { UseGraphCache = false, MaxSequenceLength = 16, Threads = 1, CacheBytes = 0 });
        SameAsText(model, ["machine learning", Long], new EmbeddingOptions());
        SameAsText(model, ["machine learning", Long], new EmbeddingOptions { LongText = LongTextMode.Truncate });
    }

    [Fact]
    public void A_text_prepared_by_another_model_is_refused()
    {
        using var one = KeyEmbedModel.Load();
        using var other = KeyEmbedModel.Load();
        Assert.Throws<ArgumentException>(() => other.EmbedPrepared([one.Prepare("machine learning")]));
    }
}
