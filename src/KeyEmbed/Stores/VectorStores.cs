using System.Security.Cryptography;
using System.Text;
using KeyEmbed.Stores.Folder;
using KeyEmbed.Stores.Postgres;

namespace KeyEmbed.Stores;

/// <summary>How a store is opened.</summary>
public enum StoreAccess
{
    /// <summary>Searching only: the store must exist; the folder store memory-maps its index.</summary>
    Read,
    /// <summary>Adding too: a missing store is created (the folder, or the PostgreSQL table and its HNSW index).</summary>
    Write,
}

/// <summary>Opens the store a <c>--store</c> value names, and the small rules stores share (ids, shards).</summary>
public static class VectorStores
{
    /// <summary>
    /// <c>postgres://user[:password]@host:port/database[?table=NAME]</c> (or <c>postgresql://</c>, or an Npgsql connection
    /// string such as <c>Host=...;Database=...</c>) opens a PostgreSQL table; anything else is a folder.
    /// </summary>
    /// <param name="location">The store: a folder, or PostgreSQL.</param>
    /// <param name="access">Read or write.</param>
    /// <param name="folderOptions">Settings of a folder store this call creates, and its search breadth.</param>
    /// <param name="bulkLoad">PostgreSQL: build the HNSW index once after the load (<see cref="PgVectorStore.Open"/>).</param>
    /// <param name="searchBreadth">
    /// How many candidates a search keeps while it walks the HNSW graph, whichever the store (null: the store's
    /// default, <see cref="FolderStoreOptions.DefaultSearchBreadth"/> or pgvector's max(100, 2 × top)).
    /// </param>
    public static IVectorStore Open(string location, StoreAccess access, FolderStoreOptions? folderOptions = null, bool bulkLoad = false, int? searchBreadth = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(location);
        if (PgVectorStore.IsPostgres(location)) return PgVectorStore.Open(location, access, bulkLoad, searchBreadth);
        folderOptions ??= new FolderStoreOptions();
        if (searchBreadth is { } breadth) folderOptions = folderOptions with { SearchBreadth = breadth };
        return FolderStore.Open(location, access, folderOptions);
    }

    /// <summary>The id a text without one gets: the first 128 bits of its UTF-8 SHA-256, as 32 hex digits.</summary>
    public static string ContentId(string text) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)).AsSpan(0, 16));

    /// <summary>
    /// Which of <paramref name="count"/> shards an id belongs to: SHA-256 of the id, first 8 bytes as an unsigned
    /// number, modulo the count. Deterministic across machines and runs, and the same id (a repeated text) always lands
    /// in the same shard, so shards never race on one row.
    /// </summary>
    public static int ShardOf(string id, int count)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(id), hash);
        return (int)(System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(hash) % (ulong)count);
    }

    /// <summary>Parses <c>I/N</c> (0 ≤ I &lt; N): this process takes shard I of N.</summary>
    public static (int Index, int Count) ParseShard(string text, string option = "shard")
    {
        var parts = text.Split('/', StringSplitOptions.TrimEntries);
        if (parts.Length == 2 && int.TryParse(parts[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int index)
            && int.TryParse(parts[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int count)
            && count >= 1 && index < count)
            return (index, count);
        throw KeyEmbedException.Input($"{option}: '{text}' is not a shard; give I/N with 0 <= I < N, e.g. 0/3 (a Kubernetes Indexed Job's JOB_COMPLETION_INDEX is I)");
    }
}
