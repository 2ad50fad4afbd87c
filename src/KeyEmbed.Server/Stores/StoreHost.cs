using KeyEmbed.Embedding;
using KeyEmbed.Server.Http;
using KeyEmbed.Stores;

namespace KeyEmbed.Server.Stores;

/// <summary>
/// The vector store a service is attached to (<see cref="ServerOptions.Store"/>), and the embedding options its
/// vectors need: the store's recorded profile, or the model's defaults for an empty store (claimed by the first index).
/// </summary>
internal sealed class StoreHost(ServerOptions options)
{
    private readonly object _gate = new();
    private EmbeddingOptions? _options;

    public IVectorStore? Store { get; } = options.Store;

    /// <summary>The store, or a 404 saying none is attached.</summary>
    public IVectorStore Required => Store ?? throw new ApiException(ApiErrorKind.NotFound,
        "No vector store is attached to this service; start it with keyembed serve --store FOLDER|postgres://... (docs/stores.md).");

    /// <summary>
    /// The options to embed with for this store, checked once against what <paramref name="backend"/> makes (a
    /// mismatch — another model or options — is an error naming both, for every request until fixed).
    /// </summary>
    public EmbeddingOptions OptionsFor(IEmbeddingBackend backend, bool claim)
    {
        var store = Required;
        lock (_gate)
        {
            if (_options is not null && (store.Profile is not null || !claim)) return _options;
            var options = store.Profile is { } recorded ? recorded.ToOptions() : EmbeddingOptions.Default;
            var made = backend.ProfileFor(options)
                ?? throw new ApiException(ApiErrorKind.NotFound, "This service's model cannot write vector stores.");
            if (store.Profile is { } existing) existing.Check(made, store.Location, "service");
            else if (claim) store.Claim(made, "service");
            _options = options;
            return options;
        }
    }
}

/// <summary>Whether the service is draining (SIGTERM received, or stopping): <c>/health/ready</c> answers 503 from then on.</summary>
internal sealed class DrainState
{
    private int _draining;

    public bool Draining => Volatile.Read(ref _draining) == 1;

    /// <summary>Starts draining; true the first time.</summary>
    public bool Begin() => Interlocked.Exchange(ref _draining, 1) == 0;
}
