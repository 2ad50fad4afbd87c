using KeyEmbed.Server;

namespace KeyEmbed.Cli.Commands;

/// <summary>
/// Loads a model for <c>keyembed serve</c> as the service's <see cref="IEmbeddingBackend"/>. The adapter from the
/// library's model facade to the backend interface belongs here and only here; until the facade exists, serving a
/// model fails with a message saying so (the service itself is complete and tested over a fake backend).
/// </summary>
internal static class ModelBackend
{
    public static IEmbeddingBackend Load(string model) =>
        throw new KeyEmbedException(ErrorKind.Runtime,
            $"Cannot serve '{model}': this build has no model loader for the server yet (the KeyEmbedModel → IEmbeddingBackend adapter is missing).");
}
