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
        var started = Stopwatch.GetTimestamp();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var unique = items.Where(item => seen.Add(item.Id)).ToList();
        var existing = store.Existing([.. unique.Select(i => i.Id)]);
        var fresh = unique.Where(i => !existing.Contains(i.Id)).ToList();
        double storeSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        if (fresh.Count == 0) return new StoreWriteResult(0, items.Count, 0, storeSeconds);
        started = Stopwatch.GetTimestamp();
        var vectors = embed([.. fresh.Select(i => i.Text)]);
        double embedSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        started = Stopwatch.GetTimestamp();
        int added = store.Add(fresh, vectors);
        storeSeconds += Stopwatch.GetElapsedTime(started).TotalSeconds;
        return new StoreWriteResult(added, items.Count - added, embedSeconds, storeSeconds);
    }
}
