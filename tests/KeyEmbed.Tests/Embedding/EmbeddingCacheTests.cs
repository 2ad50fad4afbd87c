using KeyEmbed.Embedding;

namespace KeyEmbed.Tests.Embedding;

public sealed class EmbeddingCacheTests
{
    private static CachedEmbedding Vector(float value, int width = 4) => new(Enumerable.Repeat(value, width).ToArray(), 3, 1);

    [Fact]
    public void A_stored_embedding_comes_back_for_the_same_options_and_text_only()
    {
        var cache = new EmbeddingCache(1 << 20);
        cache.Add("mean", "apple", Vector(1));
        Assert.True(cache.TryGet("mean", "apple", out var hit));
        Assert.Equal([1f, 1f, 1f, 1f], hit.Vector);
        Assert.Equal(3, hit.Tokens);
        Assert.False(cache.TryGet("max", "apple", out _));
        Assert.False(cache.TryGet("mean", "Apple", out _));
        Assert.Equal((1L, 2L), (cache.Hits, cache.Misses));
    }

    [Fact]
    public void The_least_recently_used_entry_is_evicted_when_the_byte_bound_is_passed()
    {
        var probe = new EmbeddingCache(1 << 20);
        probe.Add("o", "a", Vector(0));
        long entry = probe.Bytes;
        var cache = new EmbeddingCache(3 * entry);
        cache.Add("o", "a", Vector(1));
        cache.Add("o", "b", Vector(2));
        cache.Add("o", "c", Vector(3));
        Assert.True(cache.TryGet("o", "a", out _)); // "a" is now the most recent; "b" the least
        cache.Add("o", "d", Vector(4));
        Assert.Equal(3, cache.Count);
        Assert.True(cache.Bytes <= cache.MaxBytes);
        Assert.False(cache.TryGet("o", "b", out _));
        Assert.True(cache.TryGet("o", "a", out _));
        Assert.True(cache.TryGet("o", "c", out _));
        Assert.True(cache.TryGet("o", "d", out _));
    }

    [Fact]
    public void Callers_cannot_change_what_the_cache_holds()
    {
        var cache = new EmbeddingCache(1 << 20);
        var original = Vector(1);
        cache.Add("o", "t", original);
        original.Vector[0] = 99;
        Assert.True(cache.TryGet("o", "t", out var first));
        first.Vector[1] = 99;
        Assert.True(cache.TryGet("o", "t", out var second));
        Assert.Equal([1f, 1f, 1f, 1f], second.Vector);
    }

    [Fact]
    public void Adding_an_existing_key_replaces_it_without_counting_it_twice()
    {
        var cache = new EmbeddingCache(1 << 20);
        cache.Add("o", "t", Vector(1));
        long bytes = cache.Bytes;
        cache.Add("o", "t", Vector(2));
        Assert.Equal(1, cache.Count);
        Assert.Equal(bytes, cache.Bytes);
        Assert.True(cache.TryGet("o", "t", out var hit));
        Assert.Equal(2f, hit.Vector[0]);
    }

    [Fact]
    public void The_facade_answers_repeated_texts_from_the_cache_with_the_same_vectors()
    {
        using var model = KeyEmbedModel.Load("minilm", new KeyEmbedModelOptions { UseGraphCache = false, CacheBytes = 1 << 20 });
        var first = model.Embed(["red apple", "green pear"]);
        var second = model.Embed(["green pear", "blue plum", "red apple"]);
        var stats = model.CacheStatistics;
        Assert.Equal(3, stats.Entries);
        Assert.Equal(2, stats.Hits);
        Assert.Equal(first.Vectors[1], second.Vectors[0]);
        Assert.Equal(first.Vectors[0], second.Vectors[2]);
        Assert.Equal(first.Tokens[0], second.Tokens[2]);
        // Other options are other keys.
        model.Embed(["red apple"], new EmbeddingOptions { Pooling = PoolingMode.Max });
        Assert.Equal(4, model.CacheStatistics.Entries);
    }

    [Fact]
    public void A_text_cut_to_the_window_is_cached_apart_from_the_same_text_by_windows()
    {
        using var model = KeyEmbedModel.Load("minilm", new KeyEmbedModelOptions { UseGraphCache = false, CacheBytes = 1 << 20, MaxSequenceLength = 8 });
        string text = "the quick brown fox jumps over the lazy dog and runs far away into the woods";
        var windowed = model.Embed([text]);
        var cut = new EmbeddingOptions { LongText = LongTextMode.Truncate };
        var truncated = model.Embed([text], cut);
        Assert.True(windowed.Windows[0] > 1);
        Assert.NotEqual(windowed.Vectors[0], truncated.Vectors[0]);
        Assert.Equal(2, model.CacheStatistics.Entries);
        Assert.Equal(windowed.Vectors[0], model.Embed([text]).Vectors[0]);
        Assert.Equal(truncated.Vectors[0], model.Embed([text], cut).Vectors[0]);
        Assert.Equal(2, model.CacheStatistics.Hits);
    }
}
