using KeyEmbed.Embedding;
using KeyEmbed.Server;

namespace KeyEmbed.Tests.Server;

/// <summary>The service tokenizes each text of an embedding request once: the queue carries the prepared text to the model.</summary>
public sealed class TokenizeOnceTests
{
    /// <summary>The library backend, counting every call that tokenizes.</summary>
    private sealed class CountingBackend(KeyEmbedModelBackend inner) : IEmbeddingBackend, IDisposable
    {
        public int Prepared, Counted, Measured, EmbeddedTexts, Tokenized;
        public List<PreparedInput> Received { get; } = [];

        public ModelFacts Model => inner.Model;
        public TokenizedText Tokenize(string text) { Interlocked.Increment(ref Tokenized); return inner.Tokenize(text); }
        public int CountTokens(string text) { Interlocked.Increment(ref Counted); return inner.CountTokens(text); }
        public double UnknownShare(string text) { Interlocked.Increment(ref Measured); return inner.UnknownShare(text); }
        public PreparedInput Prepare(string text) { Interlocked.Increment(ref Prepared); return inner.Prepare(text); }
        public float[][] EmbedBatch(IReadOnlyList<string> texts, EmbeddingOptions options) { Interlocked.Increment(ref EmbeddedTexts); return inner.EmbedBatch(texts, options); }
        public float[][] EmbedPrepared(IReadOnlyList<PreparedInput> inputs, EmbeddingOptions options) { lock (Received) Received.AddRange(inputs); return inner.EmbedPrepared(inputs, options); }
        public TokenEmbeddings EmbedTokens(string text, EmbeddingOptions options) { Interlocked.Increment(ref EmbeddedTexts); return inner.EmbedTokens(text, options); }
        public TokenEmbeddings EmbedTokens(PreparedInput input, EmbeddingOptions options) { lock (Received) Received.Add(input); return inner.EmbedTokens(input, options); }
        public void Dispose() => inner.Dispose();
    }

    [Theory]
    [InlineData("/embed", """{"texts": ["machine learning", "deep learning", "人工智能"]}""", 3)]
    [InlineData("/v1/embeddings", """{"input": ["machine learning", "deep learning"]}""", 2)]
    [InlineData("/similarity", """{"texts": ["machine learning", "deep learning"]}""", 2)]
    [InlineData("/similarity", """{"query": "machine learning", "candidates": ["deep learning", "bread"]}""", 3)]
    [InlineData("/embed/tokens", """{"text": "machine learning"}""", 1)]
    [InlineData("/keywords", """{"document": "Machine learning models learn from data.", "candidates": ["machine learning", "data", "bread"]}""", 4)]
    public async Task Each_text_is_tokenized_once_and_reaches_the_model_prepared(string route, string json, int texts)
    {
        using var backend = new CountingBackend(KeyEmbedModelBackend.Load(null, new KeyEmbedModelOptions { CacheBytes = 0 }));
        await using var server = await RunningServer.StartAsync(backend);
        var response = await server.PostJsonAsync(route, json);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        Assert.Equal(texts, backend.Prepared);
        Assert.Equal(0, backend.Counted);
        Assert.Equal(0, backend.Measured);
        Assert.Equal(0, backend.Tokenized);
        Assert.Equal(0, backend.EmbeddedTexts);
        Assert.Equal(texts, backend.Received.Count);
        Assert.All(backend.Received, input => Assert.NotNull(input.Encoding));
    }
}
