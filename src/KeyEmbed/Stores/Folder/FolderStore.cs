using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Cloud.Unum.USearch;
using Microsoft.Data.Sqlite;

namespace KeyEmbed.Stores.Folder;

/// <summary>Settings of a folder store made by this process (an existing store keeps its own).</summary>
public sealed record FolderStoreOptions
{
    /// <summary>
    /// How the HNSW index holds vectors: <c>int8</c> (default: a quarter of the memory; the graph builds about twice as
    /// fast on real embeddings and searches 2–3× faster, at the same recall; scores are exact cosines from the float32
    /// copy, the rows the index ranks first rescored exactly) or <c>float32</c>. docs/stores.md has the measurements.
    /// </summary>
    public string IndexPrecision { get; init; } = "int8";

    /// <summary>Rows added between two saves of the index file (the texts and vectors are committed at every add regardless).</summary>
    public int SaveEveryRows { get; init; } = 100_000;

    /// <summary>
    /// How many candidates a search keeps while it walks the HNSW graph (USearch's search expansion, pgvector's
    /// <c>ef_search</c>): the index is asked for max(top, breadth) nearest rows and the first top are kept. Larger finds
    /// more of the true nearest neighbours and costs time about in proportion. Null (the default): the breadth the
    /// store was tuned to (<see cref="FolderStore.TuneSearch"/>, which <c>index</c> runs) while that tuning holds,
    /// else <see cref="DefaultSearchBreadth"/>.
    /// </summary>
    public int? SearchBreadth { get; init; }

    /// <summary>
    /// The breadth of a store never tuned (or grown past its tuning). Set by the hardest case, random unit vectors (no
    /// clusters for the walk to follow): over 100,000 random 384-dimensional ones recall@10 was 0.59 at 1,024, 0.92 at
    /// 4,096 and 0.97 at 6,144 (float32 and int8 alike); real embeddings reach 1.000 with far less (docs/stores.md).
    /// </summary>
    public const int DefaultSearchBreadth = 6144;

    /// <summary>
    /// Threads that insert one batch's vectors into the HNSW index at once (default 1: while <c>index</c> runs, the
    /// model already uses every core). Rebuilding a missing or damaged index on opening uses every core regardless.
    /// </summary>
    public int AddThreads { get; init; } = 1;

    /// <summary>How many candidates an insert keeps while it links a new vector into the graph (benchmarks compare; a loaded index keeps USearch's default).</summary>
    internal int ExpansionAdd { get; init; } = DefaultExpansionAdd;

    internal const int DefaultExpansionAdd = 128;

    /// <summary>With an int8 index: how many of the rows it ranks first are rescored exactly (at least 10 × top).</summary>
    internal int RescoreRows { get; init; }
}

/// <summary>
/// The embedded store: a folder holding <c>store.db</c> (SQLite through Microsoft.Data.Sqlite: the recorded
/// <see cref="StoreProfile"/>, and per text its id, text, metadata and float32 vector, keyed by a row number) and
/// <c>index.usearch</c> (a USearch HNSW index over those row numbers, ranking by cosine: in stores made now as the inner
/// product of unit vectors, which costs a third of the arithmetic; older stores keep their cosine index).
/// <para>
/// SQLite is the truth: every <see cref="Add"/> is one transaction (write-ahead log), and the index is a cache of it
/// saved to a temporary file and renamed over the old one. The index holds rows in row-number order, so after a
/// process is killed it covers a prefix of the committed rows; opening adds the rest (and rebuilds an index that does
/// not fit). A reader memory-maps an up-to-date index (USearch "view"); one writer at a time holds <c>write.lock</c>.
/// </para>
/// </summary>
public sealed class FolderStore : IVectorStore
{
    private const string Format = "keyembed-store/1";
    private const string DatabaseFile = "store.db";
    private const string IndexFile = "index.usearch";
    private const int MaxSearchBreadth = 100_000;
    private const int RescoreFactor = 10;
    private const int RescoreWalkShare = 4;

    // The graph's shape, fixed when the index is made (connectivity is kept in the index file; the C# binding cannot
    // pass the add expansion to an index loaded from a file, so it stays USearch's default there and is set to the
    // same value here). Search breadth is per search: see FolderStoreOptions.SearchBreadth.
    private const ulong Connectivity = 16;

    private readonly SqliteConnection _db;
    private readonly FileStream? _writeLock;
    private readonly string _folder;
    private readonly StoreAccess _access;
    private readonly ReaderWriterLockSlim _indexLock = new();
    private readonly object _dbLock = new();
    private readonly int _saveEvery;
    private readonly int? _searchBreadth;
    private readonly int _addThreads;
    private readonly int _rescoreRows;
    private readonly int _expansionAdd;
    private string _indexPrecision;
    private SearchTuning? _tuning;
    private float[]? _int8Center;
    private bool _unitIndex; // the index holds unit vectors and ranks by inner product (stores made from now on)
    private bool _awaitingInt8Center; // an int8 store under Int8CenterSample rows without its center yet
    private USearchIndex? _index;
    private long _indexedUpTo;
    private long _unsaved;

    private FolderStore(string location, string folder, SqliteConnection db, FileStream? writeLock, StoreAccess access, FolderStoreOptions options)
    {
        Location = location;
        _folder = folder;
        _db = db;
        _writeLock = writeLock;
        _access = access;
        _saveEvery = Math.Max(1, options.SaveEveryRows);
        _searchBreadth = options.SearchBreadth;
        _addThreads = Math.Max(1, options.AddThreads);
        _rescoreRows = options.RescoreRows;
        _expansionAdd = options.ExpansionAdd;
        _indexPrecision = options.IndexPrecision;
    }

    /// <inheritdoc/>
    public string Location { get; }

    /// <inheritdoc/>
    public StoreProfile? Profile { get; private set; }

    /// <summary>How many candidates a top-10 search keeps while it walks the HNSW graph now (<see cref="FolderStoreOptions.SearchBreadth"/>).</summary>
    public int SearchBreadth
    {
        get
        {
            _indexLock.EnterReadLock();
            try { return BreadthFor(SearchTuner.Top); }
            finally { _indexLock.ExitReadLock(); }
        }
    }

    /// <inheritdoc/>
    public SearchTuning? Tuning => _tuning;

    /// <summary>The precision the HNSW index keeps vectors in (float32 or int8).</summary>
    public string IndexPrecision => _indexPrecision;

    /// <summary>How many rows the HNSW index holds (after opening: every committed row).</summary>
    internal long IndexedRows
    {
        get
        {
            _indexLock.EnterReadLock();
            try { return _index is null ? 0 : (long)_index.Size(); }
            finally { _indexLock.ExitReadLock(); }
        }
    }

    /// <summary>How many entries the HNSW index holds under each stored row (tests: every row exactly once).</summary>
    internal IReadOnlyDictionary<string, int> IndexEntriesById()
    {
        var rows = new List<(string Id, long Row)>();
        lock (_dbLock)
        {
            using var command = _db.CreateCommand();
            command.CommandText = "SELECT id, row FROM items";
            using var reader = command.ExecuteReader();
            while (reader.Read()) rows.Add((reader.GetString(0), reader.GetInt64(1)));
        }
        _indexLock.EnterReadLock();
        try { return rows.ToDictionary(r => r.Id, r => _index is null ? 0 : (int)_index.Count((ulong)r.Row)); }
        finally { _indexLock.ExitReadLock(); }
    }

    /// <summary>Opens (or, for <see cref="StoreAccess.Write"/>, creates) the store in <paramref name="location"/>.</summary>
    public static FolderStore Open(string location, StoreAccess access, FolderStoreOptions? options = null)
    {
        options ??= new FolderStoreOptions();
        if (options.IndexPrecision is not ("float32" or "int8"))
            throw KeyEmbedException.Input($"index precision must be float32 or int8 (got '{options.IndexPrecision}')");
        if (options.SearchBreadth is < 1 or > MaxSearchBreadth)
            throw KeyEmbedException.Input($"search breadth must be between 1 and {MaxSearchBreadth} (got {options.SearchBreadth})", nameof(FolderStoreOptions.SearchBreadth));
        string folder = Path.GetFullPath(location);
        string database = Path.Combine(folder, DatabaseFile);
        if (access == StoreAccess.Read)
        {
            if (!Directory.Exists(folder))
                throw KeyEmbedException.Input($"store '{location}' not found; index a corpus into it first");
            if (!File.Exists(database))
                throw KeyEmbedException.Input($"'{location}' is not a KeyEmbed store (it has no {DatabaseFile})");
        }
        else
        {
            if (File.Exists(folder))
                throw KeyEmbedException.Input($"'{location}' is a file, not a store folder; give a new or existing store folder");
            if (Directory.Exists(folder) && !File.Exists(database) && Directory.EnumerateFileSystemEntries(folder).Any())
                throw KeyEmbedException.Input($"'{location}' is not a KeyEmbed store (no {DatabaseFile}) and is not empty; give a new or empty folder");
            Directory.CreateDirectory(folder);
        }

        FileStream? writeLock = null;
        if (access == StoreAccess.Write)
        {
            try { writeLock = new FileStream(Path.Combine(folder, "write.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException)
            {
                throw KeyEmbedException.Input($"store '{location}' is being written by another process (write.lock is held); a folder store takes one writer at a time — use PostgreSQL for several");
            }
        }
        var mode = access == StoreAccess.Write ? SqliteOpenMode.ReadWriteCreate : SqliteOpenMode.ReadWrite;
        var db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = database, Mode = mode, Pooling = false }.ToString());
        FolderStore? store = null;
        try
        {
            db.Open();
            store = new FolderStore(location, folder, db, writeLock, access, options);
            store.Initialize();
            return store;
        }
        catch (SqliteException e)
        {
            Dispose(store, db, writeLock);
            throw KeyEmbedException.Input($"'{location}' is not a KeyEmbed store: {DatabaseFile} is unreadable ({e.Message.TrimEnd('.')})");
        }
        catch
        {
            Dispose(store, db, writeLock);
            throw;
        }

        static void Dispose(FolderStore? store, SqliteConnection db, FileStream? writeLock)
        {
            if (store is not null) { store.Dispose(); return; }
            db.Dispose();
            writeLock?.Dispose();
        }
    }

    private void Initialize()
    {
        if (_access == StoreAccess.Write)
        {
            Execute("PRAGMA journal_mode=WAL");
            Execute("PRAGMA synchronous=NORMAL");
            Execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
            Execute("CREATE TABLE IF NOT EXISTS items (row INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, text TEXT NOT NULL, metadata TEXT, vector BLOB NOT NULL)");
            if (Meta("format") is null)
            {
                SetMeta("format", Format);
                SetMeta("index_precision", _indexPrecision);
                SetMeta(IndexMetricKey, UnitIndexMetric);
            }
        }
        string? format = HasTable("meta") ? Meta("format") : null;
        if (format != Format)
            throw KeyEmbedException.Input($"'{Location}' is not a KeyEmbed store ({DatabaseFile} has no {Format} marker{(format is null ? "" : $"; found '{format}'")})");
        _indexPrecision = Meta("index_precision") ?? "float32";
        _unitIndex = Meta(IndexMetricKey) == UnitIndexMetric;
        _tuning = SearchTuning.FromJson(Meta(TuningKey));
        if (Meta(Int8CenterKey) is { } center) _int8Center = MemoryMarshal.Cast<byte, float>(Convert.FromBase64String(center)).ToArray();
        // Counted once here, not on every add: a store made before the center, already past the sample, never gets one.
        else _awaitingInt8Center = _indexPrecision == "int8" && Scalar<long>("SELECT count(*) FROM items") < Int8CenterSample;
        if (Meta("profile") is { } profile)
        {
            Profile = StoreProfile.FromJson(profile, Location);
            OpenIndex();
        }
    }

    /// <inheritdoc/>
    public void Claim(StoreProfile profile, string action)
    {
        ArgumentNullException.ThrowIfNull(profile);
        if (Profile is { } recorded)
        {
            recorded.Check(profile, Location, action);
            return;
        }
        if (_access != StoreAccess.Write) throw KeyEmbedException.Input($"store '{Location}' is empty; index a corpus into it first");
        lock (_dbLock) SetMeta("profile", profile.ToJson());
        Profile = profile;
        OpenIndex();
    }

    /// <inheritdoc/>
    public long Count()
    {
        lock (_dbLock) return Scalar<long>("SELECT count(*) FROM items");
    }

    /// <inheritdoc/>
    public IReadOnlySet<string> Existing(IReadOnlyCollection<string> ids)
    {
        var found = new HashSet<string>(StringComparer.Ordinal);
        lock (_dbLock)
        {
            foreach (var chunk in ids.Chunk(500))
            {
                using var command = _db.CreateCommand();
                command.CommandText = "SELECT id FROM items WHERE id IN (" + string.Join(",", chunk.Select((_, i) => "$p" + i)) + ")";
                for (int i = 0; i < chunk.Length; i++) command.Parameters.AddWithValue("$p" + i, chunk[i]);
                using var reader = command.ExecuteReader();
                while (reader.Read()) found.Add(reader.GetString(0));
            }
        }
        return found;
    }

    /// <inheritdoc/>
    public int Add(IReadOnlyList<StoreItem> items, IReadOnlyList<float[]> vectors)
    {
        var profile = StoreProfile.ForInsert(Profile, _access, items.Count, vectors, Location);
        var keys = new List<ulong>();
        var added = new List<float[]>();
        float[]? newCenter = null;
        lock (_dbLock)
        {
            using var transaction = _db.BeginTransaction();
            long before = _awaitingInt8Center ? Scalar<long>("SELECT count(*) FROM items", transaction) : 0;
            if (_awaitingInt8Center && before + vectors.Count >= Int8CenterSample)
            {
                // The store reaches enough rows to estimate the center now: from the rows stored so far and this chunk.
                newCenter = Int8Center([.. StoredVectors(transaction), .. vectors]);
                SetMeta(Int8CenterKey, Convert.ToBase64String(MemoryMarshal.AsBytes(newCenter.AsSpan())), transaction);
                // Rows indexed whole before this must be indexed again: the index file goes first, so a writer killed
                // from here on leaves a store whose index is rebuilt (centred) when it is next opened.
                if (before > 0) File.Delete(Path.Combine(_folder, IndexFile));
            }
            using var insert = _db.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText = "INSERT OR IGNORE INTO items (id, text, metadata, vector) VALUES ($id, $text, $metadata, $vector); SELECT CASE WHEN changes() = 1 THEN last_insert_rowid() ELSE 0 END";
            var id = insert.Parameters.Add("$id", SqliteType.Text);
            var text = insert.Parameters.Add("$text", SqliteType.Text);
            var metadata = insert.Parameters.Add("$metadata", SqliteType.Text);
            var blob = insert.Parameters.Add("$vector", SqliteType.Blob);
            for (int i = 0; i < items.Count; i++)
            {
                id.Value = items[i].Id;
                text.Value = items[i].Text;
                metadata.Value = (object?)items[i].Metadata ?? DBNull.Value;
                blob.Value = MemoryMarshal.AsBytes(vectors[i].AsSpan()).ToArray();
                long row = (long)insert.ExecuteScalar()!;
                if (row > 0) { keys.Add((ulong)row); added.Add(vectors[i]); }
            }
            transaction.Commit();
        }
        if (newCenter is not null)
        {
            _indexLock.EnterWriteLock();
            try
            {
                _int8Center = newCenter;
                _awaitingInt8Center = false;
                if (_index!.Size() > 0)
                {
                    // Index every committed row again, centred, this chunk's included, and save at once.
                    _index.Dispose();
                    _index = NewIndex(profile);
                    _indexedUpTo = 0;
                    lock (_dbLock) CatchUp(Scalar<long>("SELECT max(row) FROM items"));
                    SaveIndex();
                    keys.Clear();
                }
            }
            finally { _indexLock.ExitWriteLock(); }
        }
        if (keys.Count > 0)
        {
            _indexLock.EnterWriteLock();
            try
            {
                AddToIndex([.. keys], [.. added], _addThreads);
                _indexedUpTo = (long)keys[^1];
                _unsaved += keys.Count;
                if (_unsaved >= _saveEvery) SaveIndex();
            }
            finally { _indexLock.ExitWriteLock(); }
        }
        return keys.Count;
    }

    /// <inheritdoc/>
    public IReadOnlyList<StoreHit> Search(float[] query, int top, bool exact = false) => Search(query, top, exact, breadth: null);

    // The walk's breadth for a top-`top` search (under the index lock): the one given when opening, else the tuned one
    // while it holds for the index's size, else the fixed default.
    private int BreadthFor(int top)
    {
        if (_searchBreadth is { } given) return Math.Max(top, given);
        if (_tuning is { } tuning && tuning.HoldsFor(_index is null ? 0 : (long)_index.Size())) return tuning.BreadthFor(top, MaxSearchBreadth);
        return Math.Max(top, FolderStoreOptions.DefaultSearchBreadth);
    }

    /// <inheritdoc/>
    public bool SearchesExactly
    {
        get
        {
            if (_searchBreadth is not null || _tuning is not { Reached: false } tuning) return false;
            _indexLock.EnterReadLock();
            try { return tuning.ScansFor(_index is null ? 0 : (long)_index.Size()); }
            finally { _indexLock.ExitReadLock(); }
        }
    }

    private IReadOnlyList<StoreHit> Search(float[] query, int top, bool exact, int? breadth)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (top < 1) throw KeyEmbedException.Input($"top must be at least 1 (got {top})", nameof(KeyEmbed.Similarity.KeywordOptions.Top));
        if (Profile is not { } profile) return [];
        profile.CheckWidth(query, Location, "query");
        if (breadth is null && SearchesExactly) exact = true;
        List<(long Row, float Score)> candidates;
        if (exact) candidates = ExactTop(query, top);
        else
        {
            _indexLock.EnterReadLock();
            try
            {
                // USearch walks the graph keeping max(its search expansion, count) candidates, and the binding cannot
                // change the expansion of an index loaded from a file (it stays at 64, far too few for recall on
                // hard data): asking for the breadth's worth of rows is what widens the search.
                int walk = Math.Max(top, breadth ?? BreadthFor(top));
                int found = _index!.Search(ForIndex(query), walk, out ulong[] rows, out float[] distances);
                // An int8 index orders rows by approximate cosines: rescore 10 × top of them exactly below, and more
                // with a wider walk, so that widening the walk (as tuning does) can always find more of the true order.
                int keep = Math.Min(found, _indexPrecision == "int8" ? Math.Max(Math.Max(RescoreFactor * top, walk / RescoreWalkShare), _rescoreRows) : top);
                candidates = [.. Enumerable.Range(0, keep).Select(i => ((long)rows[i], 1f - distances[i]))];
            }
            finally { _indexLock.ExitReadLock(); }
        }
        if (candidates.Count == 0) return [];
        var hits = new List<StoreHit>(candidates.Count);
        lock (_dbLock)
        {
            using var command = _db.CreateCommand();
            command.CommandText = "SELECT row, id, text, metadata, vector FROM items WHERE row IN (" + string.Join(",", candidates.Select(c => c.Row)) + ")";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                // Scores are exact cosines from the stored float32 vector, whatever precision the index keeps.
                var vector = MemoryMarshal.Cast<byte, float>((byte[])reader.GetValue(4)).ToArray();
                hits.Add(new StoreHit(reader.GetString(1), reader.GetString(2), TensorPrimitives.CosineSimilarity(query, vector),
                    reader.IsDBNull(3) ? null : reader.GetString(3)));
            }
        }
        return [.. hits.OrderByDescending(h => h.Score).ThenBy(h => h.Id, StringComparer.Ordinal).Take(top)];
    }

    /// <inheritdoc/>
    public SearchTuning TuneSearch(double targetRecall = SearchTuner.DefaultTargetRecall, IProgress<SearchTuningStep>? progress = null, IReadOnlyList<float[]>? queries = null)
    {
        SearchTuner.CheckTarget(targetRecall);
        if (_access != StoreAccess.Write) throw new InvalidOperationException("The store was opened for reading; tuning records its result.");
        if (Profile is not { } profile) throw KeyEmbedException.Input($"store '{Location}' is empty; index a corpus into it first");
        foreach (var query in queries ?? []) profile.CheckWidth(query, Location, "tuning query");
        var sample = new List<(long Row, string Id, float[] Vector)>();
        long rows;
        lock (_dbLock)
        {
            rows = Scalar<long>("SELECT count(*) FROM items");
            if (rows == 0) throw KeyEmbedException.Input($"store '{Location}' is empty; index a corpus into it first");
            long first = Scalar<long>("SELECT min(row) FROM items"), last = Scalar<long>("SELECT max(row) FROM items");
            // Rows are numbered densely in commit order; a row at or after each sampled position stands for it.
            using var command = _db.CreateCommand();
            command.CommandText = "SELECT row, id, vector FROM items WHERE row >= $from ORDER BY row LIMIT 1";
            var from = command.Parameters.Add("$from", SqliteType.Integer);
            var seen = new HashSet<long>();
            // Given queries need no sample of stored rows.
            if (queries is null)
            foreach (int position in SearchTuner.SamplePositions(last - first + 1))
            {
                from.Value = first + position;
                using var reader = command.ExecuteReader();
                if (reader.Read() && seen.Add(reader.GetInt64(0)))
                    sample.Add((reader.GetInt64(0), reader.GetString(1), MemoryMarshal.Cast<byte, float>((byte[])reader.GetValue(2)).ToArray()));
            }
        }
        var tuningQueries = queries is null ? SearchTuner.MidpointQueries([.. sample.Select(s => (s.Id, s.Vector))]) : SearchTuner.GivenQueries(queries);
        var exactRows = ExactTopMany([.. tuningQueries.Select(q => q.Vector)], SearchTuner.Top + SearchTuner.ExcludedPerQuery);
        var ids = IdsOf(exactRows.SelectMany(r => r).Select(hit => hit.Row).Distinct());
        var tuning = SearchTuner.Tune(rows, tuningQueries,
            [.. exactRows.Select(r => (IReadOnlyList<(string, float)>)[.. r.Select(hit => (ids[hit.Row], hit.Score))])],
            (query, top, breadth) => [.. Search(query, top, exact: false, breadth).Select(h => (h.Id, h.Score))], MaxSearchBreadth, targetRecall, progress);
        lock (_dbLock) SetMeta(TuningKey, tuning.ToJson());
        _tuning = tuning;
        return tuning;
    }

    private const string TuningKey = "search_tuning";

    // The exact top k rows of every query in one pass over the stored vectors (tuning's truth): one read of the table
    // however many queries, each query's comparisons spread over the cores.
    private List<List<(long Row, float Score)>> ExactTopMany(IReadOnlyList<float[]> queries, int k)
    {
        var units = queries.Select(q => { var u = new float[q.Length]; float n = TensorPrimitives.Norm(q); if (n > 0) TensorPrimitives.Divide(q, n, u); return u; }).ToArray();
        var comparer = Comparer<(float Score, long Row)>.Create((a, b) => a.Score != b.Score ? a.Score.CompareTo(b.Score) : b.Row.CompareTo(a.Row));
        var best = units.Select(_ => new PriorityQueue<long, (float Score, long Row)>(comparer)).ToArray();
        var rows = new List<long>();
        var vectors = new List<float[]>();
        void Compare()
        {
            Parallel.For(0, units.Length, q =>
            {
                for (int i = 0; i < vectors.Count; i++)
                {
                    float score = TensorPrimitives.Dot(units[q], vectors[i]);
                    if (best[q].Count < k) best[q].Enqueue(rows[i], (score, rows[i]));
                    else best[q].EnqueueDequeue(rows[i], (score, rows[i]));
                }
            });
            rows.Clear();
            vectors.Clear();
        }
        lock (_dbLock)
        {
            using var command = _db.CreateCommand();
            command.CommandText = "SELECT row, vector FROM items";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var vector = MemoryMarshal.Cast<byte, float>((byte[])reader.GetValue(1)).ToArray();
                float norm = TensorPrimitives.Norm(vector);
                if (norm > 0) TensorPrimitives.Divide(vector, norm, vector);
                rows.Add(reader.GetInt64(0));
                vectors.Add(vector);
                if (vectors.Count == 4096) Compare();
            }
            Compare();
        }
        return [.. best.Select(queue =>
        {
            var list = new List<(long Row, float Score)>(queue.Count);
            while (queue.TryDequeue(out long row, out var key)) list.Add((row, key.Score));
            list.Reverse();
            return list;
        })];
    }

    private Dictionary<long, string> IdsOf(IEnumerable<long> rows)
    {
        var ids = new Dictionary<long, string>();
        lock (_dbLock)
            foreach (var chunk in rows.Chunk(500))
            {
                using var command = _db.CreateCommand();
                command.CommandText = "SELECT row, id FROM items WHERE row IN (" + string.Join(",", chunk) + ")";
                using var reader = command.ExecuteReader();
                while (reader.Read()) ids[reader.GetInt64(0)] = reader.GetString(1);
            }
        return ids;
    }

    /// <inheritdoc/>
    public float[]? Vector(string id)
    {
        lock (_dbLock)
        {
            using var command = _db.CreateCommand();
            command.CommandText = "SELECT vector FROM items WHERE id = $id";
            command.Parameters.AddWithValue("$id", id);
            return command.ExecuteScalar() is byte[] blob ? MemoryMarshal.Cast<byte, float>(blob).ToArray() : null;
        }
    }

    /// <inheritdoc/>
    public void Ping()
    {
        lock (_dbLock) _ = Scalar<long>("SELECT count(*) FROM meta");
    }

    /// <summary>Writes the index file now (to a temporary name, then renamed over the old one).</summary>
    public void Flush()
    {
        if (_access != StoreAccess.Write || _index is null) return;
        _indexLock.EnterWriteLock();
        try { SaveIndex(); }
        finally { _indexLock.ExitWriteLock(); }
    }

    /// <summary>Saves the index if rows were added since the last save, and closes the store.</summary>
    public void Dispose()
    {
        try { if (_unsaved > 0) Flush(); }
        finally
        {
            _index?.Dispose();
            _db.Dispose();
            _writeLock?.Dispose();
            _indexLock.Dispose();
        }
    }

    private void SaveIndex()
    {
        string path = Path.Combine(_folder, IndexFile);
        string temporary = path + ".tmp";
        _index!.Save(temporary);
        File.Move(temporary, path, overwrite: true);
        _unsaved = 0;
    }

    // The index on disk covers rows 1..k of the committed rows when it was saved after them; load it (memory-map it
    // when reading and nothing is missing), add what it lacks, rebuild it when it does not fit the database.
    private void OpenIndex()
    {
        var profile = Profile!;
        string path = Path.Combine(_folder, IndexFile);
        long rows = Scalar<long>("SELECT count(*) FROM items");
        long lastRow = rows == 0 ? 0 : Scalar<long>("SELECT max(row) FROM items");
        USearchIndex? index = null;
        if (File.Exists(path))
        {
            try
            {
                index = new USearchIndex(path, view: _access == StoreAccess.Read);
                long size = (long)index.Size();
                long covered = size == 0 || size > rows ? 0 : Scalar<long>($"SELECT row FROM items ORDER BY row LIMIT 1 OFFSET {size - 1}");
                bool fits = (long)index.Dimensions() == profile.Dimensions && size <= rows && (size == 0 || index.Contains((ulong)covered));
                if (!fits) { index.Dispose(); index = null; }
                else
                {
                    _indexedUpTo = covered;
                    if (covered < lastRow && _access == StoreAccess.Read)
                    {
                        // A view cannot grow: load it into memory to add the rows a killed writer committed but did not index.
                        index.Dispose();
                        index = new USearchIndex(path, view: false);
                    }
                }
            }
            catch (USearchException)
            {
                index?.Dispose();
                index = null;
            }
        }
        if (index is null)
        {
            index = NewIndex(profile);
            _indexedUpTo = 0;
        }
        _index = index;
        CatchUp(lastRow);
    }

    // A store made before index_metric was recorded keeps the cosine index it has (its file holds the metric).
    private USearchIndex NewIndex(StoreProfile profile) =>
        new(_unitIndex ? MetricKind.Ip : MetricKind.Cos, _indexPrecision == "int8" ? ScalarKind.Int8 : ScalarKind.Float32, (ulong)profile.Dimensions, Connectivity, (ulong)_expansionAdd);

    private List<float[]> StoredVectors(SqliteTransaction transaction)
    {
        using var command = _db.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT vector FROM items ORDER BY row";
        using var reader = command.ExecuteReader();
        var vectors = new List<float[]>();
        while (reader.Read()) vectors.Add(MemoryMarshal.Cast<byte, float>((byte[])reader.GetValue(0)).ToArray());
        return vectors;
    }

    private void CatchUp(long lastRow)
    {
        if (_indexedUpTo >= lastRow) return;
        using var command = _db.CreateCommand();
        command.CommandText = "SELECT row, vector FROM items WHERE row > $after ORDER BY row";
        command.Parameters.AddWithValue("$after", _indexedUpTo);
        using var reader = command.ExecuteReader();
        var keys = new List<ulong>();
        var vectors = new List<float[]>();
        void Flush()
        {
            if (keys.Count == 0) return;
            AddToIndex([.. keys], [.. vectors], Environment.ProcessorCount);
            _unsaved += keys.Count;
            keys.Clear();
            vectors.Clear();
        }
        while (reader.Read())
        {
            keys.Add((ulong)reader.GetInt64(0));
            vectors.Add(MemoryMarshal.Cast<byte, float>((byte[])reader.GetValue(1)).ToArray());
            if (keys.Count == 4096) Flush();
        }
        Flush();
        _indexedUpTo = lastRow;
        if (_access == StoreAccess.Read) _unsaved = 0;
    }

    // The binding adds one vector after the other on the calling thread, growing the index to exactly the rows it adds
    // (every growth re-hashes the key table: quadratic over many batches). Here capacity grows by half at least, and
    // with several threads the native index takes concurrent adds into the capacity reserved for the whole batch.
    private void AddToIndex(ulong[] keys, float[][] vectors, int threads)
    {
        var index = _index!;
        if (_int8Center is not null || _unitIndex) vectors = [.. vectors.Select(ForIndex)];
        if (!USearchNative.TryHandle(index, out IntPtr handle))
        {
            index.Add(keys, vectors);
            return;
        }
        ulong needed = index.Size() + (ulong)keys.Length, capacity = index.Capacity();
        if (capacity < needed) USearchNative.Reserve(handle, Math.Max(needed, capacity + capacity / 2));
        threads = Math.Min(threads, Environment.ProcessorCount);
        if (threads <= 1 || keys.Length < 2 * threads) index.Add(keys, vectors);
        else Parallel.For(0, keys.Length, new ParallelOptions { MaxDegreeOfParallelism = threads }, i => USearchNative.Add(handle, keys[i], vectors[i]));
    }

    // An int8 index quantizes each vector on its own scale (USearch: the unit vector × 127). Raw BERT and XLNet layers
    // give anisotropic vectors, all within a few degrees of one common direction (cosines 0.95-0.999 to each other):
    // quantized whole, what tells them apart is lost below one int8 step, and recall@10 fell to 0.03 on such data
    // (docs/stores.md). So an int8 store indexes each unit vector minus a fixed center, the mean unit vector of its
    // first chunk, and the index's cosine of the remainders ranks close to the cosine of the vectors (the true order is
    // restored by the exact rescoring of 10 × top rows). The center is estimated once the store holds Int8CenterSample
    // rows (`index` writes 1,024 at a time; the service's small requests reach it later, and the few rows indexed whole
    // until then are indexed again). A store made before this, already past that size without a center, indexes the
    // vectors whole as it did.
    private const string Int8CenterKey = "int8_center";
    private const string IndexMetricKey = "index_metric";
    private const string UnitIndexMetric = "inner-product-of-unit-vectors";
    private const int Int8CenterSample = 256;

    private static float[] Int8Center(IReadOnlyList<float[]> vectors)
    {
        var center = new float[vectors[0].Length];
        var unit = new float[center.Length];
        foreach (var vector in vectors)
        {
            float norm = TensorPrimitives.Norm(vector);
            if (norm == 0 || !float.IsFinite(norm)) continue;
            TensorPrimitives.Divide(vector, norm, unit);
            TensorPrimitives.Add(center, unit, center);
        }
        TensorPrimitives.Multiply(center, 1f / vectors.Count, center);
        return center;
    }

    // What the index holds for a vector (and is asked with for a query): the vector itself in a cosine index made
    // without a center; else its unit vector, minus the int8 center when there is one, and, in an inner-product
    // index, brought back to unit length so that the inner product ranks as the cosine does. The inner product is one
    // dot product where the cosine takes three, which makes inserts (what `index` spends beside the model) about 1.5×
    // cheaper at the same recall (docs/stores.md).
    private float[] ForIndex(float[] vector)
    {
        var center = _int8Center;
        if (center is null && !_unitIndex) return vector;
        float norm = TensorPrimitives.Norm(vector);
        var shifted = new float[vector.Length];
        if (norm == 0 || !float.IsFinite(norm)) return shifted;
        TensorPrimitives.Divide(vector, norm, shifted);
        if (center is not null)
        {
            TensorPrimitives.Subtract(shifted, center, shifted);
            // A vector equal to the center has no direction left; the unit vector itself stands in for it.
            if (TensorPrimitives.Norm(shifted) < 1e-6f) TensorPrimitives.Divide(vector, norm, shifted);
            else if (_unitIndex) TensorPrimitives.Divide(shifted, TensorPrimitives.Norm(shifted), shifted);
        }
        return shifted;
    }

    private List<(long Row, float Score)> ExactTop(float[] query, int top)
    {
        var best = new PriorityQueue<long, (float Score, long Row)>(Comparer<(float Score, long Row)>.Create((a, b) =>
            a.Score != b.Score ? a.Score.CompareTo(b.Score) : b.Row.CompareTo(a.Row)));
        lock (_dbLock)
        {
            using var command = _db.CreateCommand();
            command.CommandText = "SELECT row, vector FROM items";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                long row = reader.GetInt64(0);
                var vector = MemoryMarshal.Cast<byte, float>((byte[])reader.GetValue(1));
                float score = TensorPrimitives.CosineSimilarity(query, vector);
                if (best.Count < top) best.Enqueue(row, (score, row));
                else best.EnqueueDequeue(row, (score, row));
            }
        }
        var list = new List<(long, float)>(best.Count);
        while (best.TryDequeue(out long row, out var key)) list.Add((row, key.Score));
        list.Reverse();
        return list;
    }

    private bool HasTable(string name)
    {
        using var command = _db.CreateCommand();
        command.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $name";
        command.Parameters.AddWithValue("$name", name);
        return (long)command.ExecuteScalar()! > 0;
    }

    private string? Meta(string key)
    {
        using var command = _db.CreateCommand();
        command.CommandText = "SELECT value FROM meta WHERE key = $key";
        command.Parameters.AddWithValue("$key", key);
        return command.ExecuteScalar() as string;
    }

    private void SetMeta(string key, string value, SqliteTransaction? transaction = null)
    {
        using var command = _db.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "INSERT INTO meta (key, value) VALUES ($key, $value) ON CONFLICT (key) DO UPDATE SET value = excluded.value";
        command.Parameters.AddWithValue("$key", key);
        command.Parameters.AddWithValue("$value", value);
        command.ExecuteNonQuery();
    }

    private T Scalar<T>(string sql, SqliteTransaction? transaction = null)
    {
        using var command = _db.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return (T)Convert.ChangeType(command.ExecuteScalar()!, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    private void Execute(string sql)
    {
        using var command = _db.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
