using KeyEmbed.Server;

namespace KeyEmbed.Cli.Commands;

/// <summary>Loads a model for <c>keyembed serve</c> as the service's <see cref="IEmbeddingBackend"/>.</summary>
internal static class ModelBackend
{
    public static IEmbeddingBackend Load(string model, KeyEmbedModelOptions options) => KeyEmbedModelBackend.Load(model, options);
}
