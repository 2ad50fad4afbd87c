using System.Diagnostics;

namespace KeyEmbed.Stores;

/// <summary>What one <see cref="StoreWriter.Add"/> did, and where its time went.</summary>
/// <param name="Added">Texts newly stored.</param>
/// <param name="AlreadyStored">Texts whose id was stored already (by an earlier run, another shard or a repeat in this batch).</param>
/// <param name="EmbedSeconds">Time in the embedding function.</param>
/// <param name="StoreSeconds">Time in the store (looking ids up, writing).</param>
public sealed record StoreWriteResult(int Added, int AlreadyStored, double EmbedSeconds, double StoreSeconds);

/// <summary>
/// The one path texts take into a store, for the CLI and the service alike: repeats within the batch dropped (first
/// wins), ids already stored skipped, only the rest embedded, then one <see cref="IVectorStore.Add"/> commit.
/// </summary>
public static class StoreWriter
{
    /// <summary>Adds <paramref name="items"/>, embedding the new ones with <paramref name="embed"/>.</summary>
    public static StoreWriteResult Add(IVectorStore store, IReadOnlyList<StoreItem> items, Func<IReadOnlyList<string>, IReadOnlyList<float[]>> embed)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(embed);
        var (fresh, lookupSeconds) = Fresh(store, items, null);
        if (fresh.Count == 0) return new StoreWriteResult(0, items.Count, 0, lookupSeconds);
        var (vectors, embedSeconds) = Embed(fresh, embed);
        var (added, writeSeconds) = Write(store, fresh, vectors);
        return new StoreWriteResult(added, items.Count - added, embedSeconds, lookupSeconds + writeSeconds);
    }

    // The items of a batch to embed: first of each id, not stored yet, not in the batch being written now.
    internal static (List<StoreItem> Fresh, double Seconds) Fresh(IVectorStore store, IReadOnlyList<StoreItem> items, IReadOnlySet<string>? inFlight)
    {
        var started = Stopwatch.GetTimestamp();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var unique = items.Where(item => seen.Add(item.Id) && inFlight?.Contains(item.Id) != true).ToList();
        var existing = store.Existing([.. unique.Select(i => i.Id)]);
        return ([.. unique.Where(i => !existing.Contains(i.Id))], Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    internal static (IReadOnlyList<float[]> Vectors, double Seconds) Embed(List<StoreItem> fresh, Func<IReadOnlyList<string>, IReadOnlyList<float[]>> embed)
    {
        var started = Stopwatch.GetTimestamp();
        var vectors = embed([.. fresh.Select(i => i.Text)]);
        return (vectors, Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    internal static (int Added, double Seconds) Write(IVectorStore store, List<StoreItem> fresh, IReadOnlyList<float[]> vectors)
    {
        var started = Stopwatch.GetTimestamp();
        int added = store.Add(fresh, vectors);
        return (added, Stopwatch.GetElapsedTime(started).TotalSeconds);
    }
}

/// <summary>
/// <see cref="StoreWriter.Add"/> for a stream of batches, with the store's write of one batch overlapping the
/// embedding of the next: one write in flight at a time, so batches are still committed one by one in input order
/// (a process killed at any moment leaves whole batches). A batch's ids that the batch in flight carries are not
/// embedded again. A failed write surfaces at the next <see cref="Add"/> or at <see cref="Finish"/>.
/// </summary>
public sealed class StoreWritePipeline(IVectorStore store, Func<IReadOnlyList<string>, IReadOnlyList<float[]>> embed) : IDisposable
{
    private readonly IVectorStore _store = store ?? throw new ArgumentNullException(nameof(store));
    private readonly Func<IReadOnlyList<string>, IReadOnlyList<float[]>> _embed = embed ?? throw new ArgumentNullException(nameof(embed));
    private Task<StoreWriteResult>? _pending;
    private HashSet<string> _inFlight = new(StringComparer.Ordinal);

    /// <summary>Seconds the caller spent waiting for a write to finish (what the store adds to the embedding time).</summary>
    public double WaitSeconds { get; private set; }

    /// <summary>
    /// Embeds the new texts of <paramref name="items"/>, waits for the previous batch's write, and starts this
    /// batch's. Returns the previous batch's result (null for the first batch).
    /// </summary>
    public StoreWriteResult? Add(IReadOnlyList<StoreItem> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        var (fresh, lookupSeconds) = StoreWriter.Fresh(_store, items, _inFlight);
        IReadOnlyList<float[]> vectors = [];
        double embedSeconds = 0;
        if (fresh.Count > 0) (vectors, embedSeconds) = StoreWriter.Embed(fresh, _embed);
        var previous = Wait();
        _inFlight = new HashSet<string>(fresh.Select(i => i.Id), StringComparer.Ordinal);
        _pending = Task.Run(() =>
        {
            var (added, writeSeconds) = fresh.Count == 0 ? (0, 0.0) : StoreWriter.Write(_store, fresh, vectors);
            return new StoreWriteResult(added, items.Count - added, embedSeconds, lookupSeconds + writeSeconds);
        });
        return previous;
    }

    /// <summary>Waits for the last write and returns its result (null when there was none).</summary>
    public StoreWriteResult? Finish()
    {
        var last = Wait();
        _inFlight.Clear();
        return last;
    }

    /// <summary>Waits for a write still in flight (its failure is not rethrown here: <see cref="Finish"/> reports it).</summary>
    public void Dispose()
    {
        try { _pending?.Wait(); }
        catch (AggregateException) { }
        _pending = null;
    }

    private StoreWriteResult? Wait()
    {
        if (_pending is not { } pending) return null;
        var started = Stopwatch.GetTimestamp();
        try { return pending.GetAwaiter().GetResult(); }
        finally
        {
            WaitSeconds += Stopwatch.GetElapsedTime(started).TotalSeconds;
            _pending = null;
        }
    }
}
