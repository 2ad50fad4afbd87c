namespace KeyEmbed.Bench;

/// <summary>
/// KeyEmbed's own embedding pipeline, measured against the peers in the same run: the built-in model through the
/// public facade (<see cref="KeyEmbedModel.Load"/> → <see cref="KeyEmbedModel.Embed(IReadOnlyList{string}, KeyEmbed.Embedding.EmbeddingOptions?, IProgress{int}?, CancellationToken)"/>), tokenizer included, so it
/// pays for everything the peers pay for.
/// </summary>
internal static class Candidate
{
    public const string Name = "KeyEmbed";
    public const string Int8Name = "KeyEmbed int8";

    /// <summary>An engine over a freshly loaded built-in model with the given options.</summary>
    public static Engine Create(int threads, KeyEmbedModelOptions? options = null, string name = Name)
    {
        // The model lives as long as the benchmark process; the harness holds the engine to the end.
        // No embedding cache: every repetition must compute every vector, as the peers do.
        var model = KeyEmbedModel.Load("minilm", (options ?? new KeyEmbedModelOptions()) with { Threads = threads, CacheBytes = 0 });
        return new Engine(name, texts => model.Embed(texts).Vectors);
    }
}
