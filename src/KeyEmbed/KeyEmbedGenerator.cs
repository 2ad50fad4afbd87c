using KeyEmbed.Embedding;
using Microsoft.Extensions.AI;

namespace KeyEmbed;

/// <summary>
/// <see cref="KeyEmbedModel"/> as Microsoft.Extensions.AI's <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/>, so
/// code written against that abstraction (vector stores, semantic search, caching/logging middleware) can use a local
/// BERT or XLNet model. Each call embeds its texts with the generator's <see cref="EmbeddingOptions"/>;
/// <see cref="EmbeddingGenerationOptions.Dimensions"/> truncates (and, when normalizing, renormalizes) per call.
/// </summary>
/// <remarks>
/// Disposal: a generator made by <see cref="Load"/>, or with <c>ownsModel: true</c>, disposes its model when it is
/// disposed; otherwise the model stays the caller's, and disposing the generator only stops it from being used.
/// Safe to use from several threads, as the model is.
/// </remarks>
public sealed class KeyEmbedGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    /// <summary>The provider name in <see cref="Metadata"/>.</summary>
    public const string ProviderName = "keyembed";

    private readonly KeyEmbedModel _model;
    private readonly EmbeddingOptions _options;
    private readonly bool _ownsModel;
    private bool _disposed;

    /// <summary>
    /// Wraps <paramref name="model"/>. <paramref name="options"/> (default: the model's defaults) say which layers and
    /// pooling every call uses; they are checked against the model here. Quantized precisions are not allowed: the
    /// abstraction's vectors are float32.
    /// </summary>
    public KeyEmbedGenerator(KeyEmbedModel model, EmbeddingOptions? options = null, bool ownsModel = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
        _options = options ?? EmbeddingOptions.Default;
        if (_options.Precision != VectorPrecision.Float32)
            throw KeyEmbedException.Input($"the embedding generator returns float32 vectors; precision {_options.Precision} is for stored output");
        var plan = model.Resolve(_options);
        if (plan.Pooling == PoolingMode.None)
            throw KeyEmbedException.Input("the embedding generator returns one vector per text; pooling 'none' gives token vectors");
        _ownsModel = ownsModel;
        Metadata = new EmbeddingGeneratorMetadata(ProviderName, null, model.Info.Name, plan.Dimensions);
    }

    /// <summary>Loads a model (see <see cref="KeyEmbedModel.Load"/>) into a generator that owns and disposes it.</summary>
    public static KeyEmbedGenerator Load(string? model = null, EmbeddingOptions? options = null, KeyEmbedModelOptions? modelOptions = null)
    {
        var loaded = KeyEmbedModel.Load(model, modelOptions);
        try { return new KeyEmbedGenerator(loaded, options, ownsModel: true); }
        catch { loaded.Dispose(); throw; }
    }

    /// <summary>Provider <c>keyembed</c>, the model's name as the model id, and the output width of the generator's options.</summary>
    public EmbeddingGeneratorMetadata Metadata { get; }

    /// <summary>The model the generator embeds with.</summary>
    public KeyEmbedModel Model => _model;

    /// <summary>
    /// Embeds <paramref name="values"/>, one <see cref="Embedding{T}"/> per value in order, on a thread-pool thread.
    /// <see cref="EmbeddingGenerationOptions.Dimensions"/> keeps the first N values; a <see cref="EmbeddingGenerationOptions.ModelId"/>
    /// other than this model's is an error. <see cref="GeneratedEmbeddings{TEmbedding}.Usage"/> counts the tokens the model saw.
    /// </summary>
    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (options?.ModelId is { } modelId && !string.Equals(modelId, Metadata.DefaultModelId, StringComparison.Ordinal))
            throw KeyEmbedException.Input($"this generator embeds with model '{Metadata.DefaultModelId}', not '{modelId}'");
        var embeddingOptions = options?.Dimensions is { } dimensions ? _options with { Dimensions = dimensions } : _options;
        var texts = values as IReadOnlyList<string> ?? [.. values];
        var result = await Task.Run(() => _model.Embed(texts, embeddingOptions, cancellation: cancellationToken), cancellationToken).ConfigureAwait(false);
        var created = DateTimeOffset.UtcNow;
        var embeddings = new GeneratedEmbeddings<Embedding<float>>(result.Vectors.Length);
        foreach (var vector in result.Vectors)
            embeddings.Add(new Embedding<float>(vector) { ModelId = Metadata.DefaultModelId, CreatedAt = created });
        long tokens = result.Tokens.Sum(t => (long)t);
        embeddings.Usage = new UsageDetails { InputTokenCount = tokens, TotalTokenCount = tokens };
        return embeddings;
    }

    /// <summary>
    /// <see cref="EmbeddingGeneratorMetadata"/>, <see cref="KeyEmbedModel"/>, or the generator itself when asked for a type it is;
    /// null for anything else or a non-null key.
    /// </summary>
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(EmbeddingGeneratorMetadata)) return Metadata;
        if (serviceType == typeof(KeyEmbedModel)) return _model;
        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    /// <summary>Stops the generator; disposes the model too when the generator owns it (see the class remarks).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_ownsModel) _model.Dispose();
    }
}
