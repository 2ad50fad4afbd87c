namespace KeyEmbed.Embedding;

/// <summary>One cached embedding: the vector and what the model saw for the text.</summary>
/// <param name="Vector">The float32 vector (the cache keeps its own copy).</param>
/// <param name="Tokens">Tokens the model saw, special tokens included.</param>
/// <param name="Windows">Windows the text was cut into.</param>
internal readonly record struct CachedEmbedding(float[] Vector, int Tokens, int Windows);

/// <summary>
/// A bounded least-recently-used cache of embeddings keyed by (options, text). One cache belongs to one loaded model
/// (and its compute precision), so the model is part of the key by construction. Bounded by an estimate of the bytes
/// it holds (vector, text and bookkeeping); adding beyond the bound evicts the least recently used entries.
/// Thread-safe. Vectors are copied in and out, so callers may modify what they get.
/// </summary>
internal sealed class EmbeddingCache
{
    // Dictionary entry, list node, key tuple and array headers: a rough per-entry overhead.
    private const int EntryOverheadBytes = 160;

    private readonly Dictionary<(string Options, string Text), LinkedListNode<Entry>> _index = [];
    private readonly LinkedList<Entry> _recency = new();
    private readonly Lock _lock = new();

    public EmbeddingCache(long maxBytes)
    {
        if (maxBytes < 1) throw new ArgumentOutOfRangeException(nameof(maxBytes), maxBytes, "the cache bound must be at least one byte");
        MaxBytes = maxBytes;
    }

    /// <summary>The bound on <see cref="Bytes"/>.</summary>
    public long MaxBytes { get; }

    /// <summary>Estimated bytes held now.</summary>
    public long Bytes { get; private set; }

    /// <summary>Entries held now.</summary>
    public int Count { get { lock (_lock) return _index.Count; } }

    /// <summary>Lookups answered from the cache since it was made.</summary>
    public long Hits { get; private set; }

    /// <summary>Lookups that found nothing since it was made.</summary>
    public long Misses { get; private set; }

    /// <summary>The options part of a key: every field of a resolved plan that changes the float vector.</summary>
    public static string OptionsKey(ResolvedEmbeddingOptions plan) =>
        $"layers {string.Join(",", plan.Layers)}; {plan.LayerMode}; {plan.Pooling}; exclude {plan.ExcludeSpecialTokens}; normalize {plan.Normalize}; dims {plan.Dimensions}";

    public bool TryGet(string options, string text, out CachedEmbedding embedding)
    {
        lock (_lock)
        {
            if (!_index.TryGetValue((options, text), out var node))
            {
                Misses++;
                embedding = default;
                return false;
            }
            _recency.Remove(node);
            _recency.AddFirst(node);
            Hits++;
            var stored = node.Value.Embedding;
            embedding = stored with { Vector = (float[])stored.Vector.Clone() };
            return true;
        }
    }

    public void Add(string options, string text, CachedEmbedding embedding)
    {
        long size = SizeOf(options, text, embedding);
        if (size > MaxBytes) return; // one entry larger than the whole cache is not kept
        var copy = embedding with { Vector = (float[])embedding.Vector.Clone() };
        lock (_lock)
        {
            if (_index.Remove((options, text), out var existing))
            {
                _recency.Remove(existing);
                Bytes -= existing.Value.Size;
            }
            var node = _recency.AddFirst(new Entry(options, text, copy, size));
            _index[(options, text)] = node;
            Bytes += size;
            while (Bytes > MaxBytes && _recency.Last is { } oldest)
            {
                _recency.RemoveLast();
                _index.Remove((oldest.Value.Options, oldest.Value.Text));
                Bytes -= oldest.Value.Size;
            }
        }
    }

    public void Clear()
    {
        lock (_lock)
        {
            _index.Clear();
            _recency.Clear();
            Bytes = 0;
        }
    }

    private static long SizeOf(string options, string text, CachedEmbedding embedding) =>
        EntryOverheadBytes + 4L * embedding.Vector.Length + 2L * text.Length + 2L * options.Length;

    private sealed record Entry(string Options, string Text, CachedEmbedding Embedding, long Size);
}
