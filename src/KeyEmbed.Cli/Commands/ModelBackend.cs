using KeyEmbed.Server;

namespace KeyEmbed.Cli.Commands;

/// <summary>Loads a model for <c>keyembed serve</c> as the service's <see cref="IEmbeddingBackend"/>.</summary>
internal static class ModelBackend
{
    /// <summary>
    /// Loads the model and embeds one text with its defaults, so a model the service cannot use (no tokenizer, a
    /// tokenizer that does not fit the weights, a graph ONNX Runtime refuses) stops <c>serve</c> before
    /// <c>/health</c> says ready, instead of failing every request. It also builds the default graph before the first request.
    /// </summary>
    public static IEmbeddingBackend Load(string model, KeyEmbedModelOptions options)
    {
        var backend = KeyEmbedModelBackend.Load(model, options);
        try
        {
            backend.EmbedBatch(["KeyEmbed 你好"], new Embedding.EmbeddingOptions());
            return backend;
        }
        catch
        {
            backend.Dispose();
            throw;
        }
    }
}
