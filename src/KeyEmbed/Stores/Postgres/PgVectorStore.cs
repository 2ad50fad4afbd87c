using System.Data.Common;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Npgsql;
using NpgsqlTypes;
using Pgvector;
using KeyEmbed.Stores.Folder;

namespace KeyEmbed.Stores.Postgres;

/// <summary>
/// A store in PostgreSQL with the pgvector extension (Npgsql + Pgvector): one table per store with <c>id</c> (unique),
/// <c>text</c>, <c>metadata</c> (jsonb) and <c>embedding vector(N)</c> under an HNSW index (<c>vector_cosine_ops</c>),
/// and the store's <see cref="StoreProfile"/> in <c>keyembed_stores</c>. Rows arrive by binary COPY into a temporary
/// table and move over with <c>INSERT … ON CONFLICT (id) DO NOTHING</c> in one transaction, so any number of
/// indexing processes and service replicas share one table and every id is stored once.
/// </summary>
public sealed partial class PgVectorStore : IVectorStore
{
    /// <summary>The table used when the location names none.</summary>
    public const string DefaultTable = "keyembed";

    private readonly NpgsqlDataSource _source;
    private readonly string _table;
    private readonly string _endpoint;
    private readonly StoreAccess _access;
    private readonly bool _bulkLoad;
    private readonly int? _searchBreadth;
    private readonly HnswGraph _graph;
    private SearchTuning? _tuning;
    private bool _tuningHolds;
    private long _rowsKnown; // the rows at opening (the planner's estimate), plus what this process added since

    private PgVectorStore(NpgsqlDataSource source, string table, string location, string endpoint, StoreAccess access, bool bulkLoad, int? searchBreadth, HnswGraph graph)
    {
        _graph = graph;
        _bulkLoad = bulkLoad;
        _searchBreadth = searchBreadth;
        _source = source;
        _table = table;
        Location = location;
        _endpoint = endpoint;
        _access = access;
    }

    /// <inheritdoc/>
    public string Location { get; }

    /// <inheritdoc/>
    public StoreProfile? Profile { get; private set; }

    /// <summary>The search breadth given when opening (pgvector's <c>hnsw.ef_search</c>); null: the tuned one while it holds, else max(100, 2 × top).</summary>
    public int? SearchBreadth => _searchBreadth;

    /// <inheritdoc/>
    public SearchTuning? Tuning => _tuning;

    /// <summary>The table this store uses.</summary>
    public string Table => _table;

    /// <summary>Whether <paramref name="location"/> names PostgreSQL (a <c>postgres://</c> URL or a connection string).</summary>
    public static bool IsPostgres(string location) =>
        location.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) || location.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase)
        || ConnectionStringLike().IsMatch(location);

    /// <summary>Opens the store: checks the server answers and has pgvector; for writing, creates the extension and the profile table.</summary>
    /// <param name="location">A <c>postgres://</c> URL or a connection string.</param>
    /// <param name="access">Read or write.</param>
    /// <param name="bulkLoad">
    /// For a writer that loads many rows and then calls <see cref="BuildIndex"/> (as <c>keyembed index</c> does): a
    /// table this writer creates gets its HNSW index only in <see cref="BuildIndex"/>, built once over all the rows
    /// instead of maintained row by row. Until then a search scans the table (exact results, slower).
    /// </param>
    /// <param name="searchBreadth">
    /// How many candidates a search keeps while it walks the HNSW graph (pgvector's <c>hnsw.ef_search</c>, at most
    /// <see cref="MaxSearchBreadth"/>); null: max(100, 2 × top), which real embeddings need (docs/stores.md).
    /// </param>
    public static PgVectorStore Open(string location, StoreAccess access, bool bulkLoad = false, int? searchBreadth = null)
    {
        if (searchBreadth is < 1 or > MaxSearchBreadth)
            throw KeyEmbedException.Input($"search breadth must be between 1 and {MaxSearchBreadth} for PostgreSQL (pgvector's hnsw.ef_search allows no more; got {searchBreadth})", nameof(FolderStoreOptions.SearchBreadth));
        var (builder, table, shown, graph) = ParseLocation(location);
        builder.Timeout = builder.Timeout == 15 ? 5 : builder.Timeout;
        // Npgsql's 30 s default is short for inserting a chunk into a large HNSW index on a small server (found by the
        // 100,000-vector benchmark); a user's own setting (Command Timeout, ?command_timeout=) is kept.
        if (builder.CommandTimeout == DefaultNpgsqlCommandTimeout) builder.CommandTimeout = DefaultCommandTimeoutSeconds;
        var endpoint = $"{builder.Host}:{builder.Port}";
        var dataSourceBuilder = new NpgsqlDataSourceBuilder(builder.ConnectionString);
        dataSourceBuilder.UseVector();
        var store = new PgVectorStore(dataSourceBuilder.Build(), table, shown, endpoint, access, bulkLoad && access == StoreAccess.Write, searchBreadth, graph);
        try
        {
            store.Initialize();
            return store;
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    private void Initialize()
    {
        Run(connection =>
        {
            if (_access == StoreAccess.Write)
            {
                using var transaction = connection.BeginTransaction();
                Execute(connection, "SELECT pg_advisory_xact_lock(7318455150120)", transaction);
                try { Execute(connection, "CREATE EXTENSION IF NOT EXISTS vector", transaction); }
                catch (PostgresException e) when (e.SqlState is "58P01" or "0A000" or "42501")
                {
                    throw KeyEmbedException.Input($"PostgreSQL at {_endpoint} cannot enable pgvector ({e.MessageText}); install the extension (README: 'Stores') or ask the database owner to run CREATE EXTENSION vector");
                }
                Execute(connection, "CREATE TABLE IF NOT EXISTS keyembed_stores (name text PRIMARY KEY, profile text NOT NULL)", transaction);
                // Added after the first release: tables made before get the column from their next writer.
                Execute(connection, "ALTER TABLE keyembed_stores ADD COLUMN IF NOT EXISTS search_tuning text", transaction);
                transaction.Commit();
                // Connections learn the database's types when they open; one opened before the extension existed
                // would not know 'vector'. Reload them for every connection of this data source.
                _source.ReloadTypes();
            }
            if (ReadProfile(connection) is { } profile)
            {
                Profile = profile;
                _tuning = ReadTuning(connection);
                _rowsKnown = EstimatedRows(connection);
                _tuningHolds = _tuning is { } tuning && tuning.HoldsFor(_rowsKnown);
            }
            else if (_access == StoreAccess.Read)
                throw KeyEmbedException.Input($"{Location}: there is no KeyEmbed store table '{_table}' in this database; index a corpus into it first (table={_table})");
            return 0;
        });
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
        Run(connection =>
        {
            using var transaction = connection.BeginTransaction();
            // Several shards start at once: one creates the table, the others find it.
            Execute(connection, "SELECT pg_advisory_xact_lock(7318455150120)", transaction);
            if (ReadProfile(connection, transaction) is { } existing)
            {
                transaction.Commit();
                existing.Check(profile, Location, action);
                Profile = existing;
                return 0;
            }
            Execute(connection, $"CREATE TABLE IF NOT EXISTS {_table} (row bigserial PRIMARY KEY, id text NOT NULL UNIQUE, text text NOT NULL, metadata jsonb, embedding vector({profile.Dimensions}) NOT NULL)", transaction);
            if (!_bulkLoad) Execute(connection, CreateIndexSql, transaction);
            using (var insert = new NpgsqlCommand("INSERT INTO keyembed_stores (name, profile) VALUES ($1, $2)", connection, transaction))
            {
                insert.Parameters.AddWithValue(_table);
                insert.Parameters.AddWithValue(profile.ToJson());
                insert.ExecuteNonQuery();
            }
            transaction.Commit();
            Profile = profile;
            return 0;
        });
    }

    /// <inheritdoc/>
    public long Count() => Profile is null ? 0 : Run(connection =>
    {
        using var command = new NpgsqlCommand($"SELECT count(*) FROM {_table}", connection);
        return (long)command.ExecuteScalar()!;
    });

    /// <inheritdoc/>
    public IReadOnlySet<string> Existing(IReadOnlyCollection<string> ids)
    {
        var found = new HashSet<string>(StringComparer.Ordinal);
        if (Profile is null || ids.Count == 0) return found;
        return Run(connection =>
        {
            using var command = new NpgsqlCommand($"SELECT id FROM {_table} WHERE id = ANY($1)", connection);
            command.Parameters.AddWithValue(ids.ToArray());
            using var reader = command.ExecuteReader();
            while (reader.Read()) found.Add(reader.GetString(0));
            return found;
        });
    }

    /// <inheritdoc/>
    public int Add(IReadOnlyList<StoreItem> items, IReadOnlyList<float[]> vectors)
    {
        var profile = StoreProfile.ForInsert(Profile, _access, items.Count, vectors, Location);
        if (items.Count == 0) return 0;
        return Run(connection =>
        {
            using var transaction = connection.BeginTransaction();
            string incoming = $"keyembed_incoming_{profile.Dimensions}";
            Execute(connection, $"CREATE TEMP TABLE IF NOT EXISTS {incoming} (id text, text text, metadata jsonb, embedding vector({profile.Dimensions})) ON COMMIT DELETE ROWS", transaction);
            using (var copy = connection.BeginBinaryImport($"COPY {incoming} (id, text, metadata, embedding) FROM STDIN (FORMAT BINARY)"))
            {
                for (int i = 0; i < items.Count; i++)
                {
                    copy.StartRow();
                    copy.Write(items[i].Id, NpgsqlDbType.Text);
                    copy.Write(items[i].Text, NpgsqlDbType.Text);
                    if (items[i].Metadata is { } metadata) copy.Write(metadata, NpgsqlDbType.Jsonb);
                    else copy.WriteNull();
                    copy.Write(new Vector(vectors[i]), "vector");
                }
                copy.Complete();
            }
            int added;
            using (var move = new NpgsqlCommand($"INSERT INTO {_table} (id, text, metadata, embedding) SELECT id, text, metadata, embedding FROM {incoming} ON CONFLICT (id) DO NOTHING", connection, transaction))
                added = move.ExecuteNonQuery();
            transaction.Commit();
            // A service adding through /v1/index outgrows its tuning here, not only when it is next opened.
            if (_tuning is { } tuning) _tuningHolds = tuning.HoldsFor(Interlocked.Add(ref _rowsKnown, added));
            return added;
        });
    }

    /// <inheritdoc/>
    public IReadOnlyList<StoreHit> Search(float[] query, int top, bool exact = false) => Search(query, top, exact, breadth: null);

    private IReadOnlyList<StoreHit> Search(float[] query, int top, bool exact, int? breadth)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (top < 1) throw KeyEmbedException.Input($"top must be at least 1 (got {top})", nameof(KeyEmbed.Similarity.KeywordOptions.Top));
        if (Profile is not { } profile) return [];
        profile.CheckWidth(query, Location, "query");
        return Run(connection =>
        {
            using var transaction = connection.BeginTransaction();
            PrepareSearch(connection, transaction, top, exact, breadth);
            using var command = new NpgsqlCommand(
                $"SELECT id, text, metadata::text, 1 - (embedding <=> $1) FROM {_table} ORDER BY embedding <=> $1 LIMIT $2", connection, transaction);
            command.Parameters.AddWithValue(new Vector(query));
            command.Parameters.AddWithValue(top);
            var hits = new List<StoreHit>(top);
            using (var reader = command.ExecuteReader())
                while (reader.Read())
                    hits.Add(new StoreHit(reader.GetString(0), reader.GetString(1), (float)reader.GetDouble(3), reader.IsDBNull(2) ? null : reader.GetString(2)));
            transaction.Commit();
            return (IReadOnlyList<StoreHit>)hits;
        });
    }

    /// <inheritdoc/>
    public bool SearchesExactly => _searchBreadth is null && _tuningHolds && _tuning is { Reached: false };

    // ef_search bounds how many rows the HNSW scan can return. The planner may prefer a sequential scan on a small or
    // freshly loaded table (no statistics yet); the index is what a search means, so it is required here. Exact (asked
    // for, or because the tuning found no ef_search that reaches its target) turns index scans off instead.
    private void PrepareSearch(NpgsqlConnection connection, NpgsqlTransaction transaction, int top, bool exact, int? breadth)
    {
        if (exact || (breadth is null && SearchesExactly)) Execute(connection, "SET LOCAL enable_indexscan = off", transaction);
        else
        {
            Execute(connection, $"SET LOCAL hnsw.ef_search = {(breadth is { } b ? Math.Clamp(Math.Max(b, top), 1, MaxSearchBreadth) : EfSearchFor(top))}", transaction);
            Execute(connection, "SET LOCAL enable_seqscan = off", transaction);
        }
    }

    /// <summary>The query plan PostgreSQL chooses for a top-<paramref name="top"/> search as <see cref="Search(float[], int, bool)"/> runs it (tests check which index is used).</summary>
    internal string ExplainSearch(float[] query, int top) => Run(connection =>
    {
        using var transaction = connection.BeginTransaction();
        PrepareSearch(connection, transaction, top, exact: false, breadth: null);
        using var command = new NpgsqlCommand($"EXPLAIN SELECT id FROM {_table} ORDER BY embedding <=> $1 LIMIT $2", connection, transaction);
        command.Parameters.AddWithValue(new Vector(query));
        command.Parameters.AddWithValue(top);
        var lines = new List<string>();
        using (var reader = command.ExecuteReader()) while (reader.Read()) lines.Add(reader.GetString(0));
        transaction.Commit();
        return string.Join("\n", lines);
    });

    /// <inheritdoc/>
    public float[]? Vector(string id) => Profile is null ? null : Run(connection =>
    {
        using var command = new NpgsqlCommand($"SELECT embedding FROM {_table} WHERE id = $1", connection);
        command.Parameters.AddWithValue(id);
        return command.ExecuteScalar() is Vector vector ? vector.ToArray() : null;
    });

    private string CreateIndexSql => $"CREATE INDEX IF NOT EXISTS {_table}_embedding_hnsw ON {_table} USING hnsw (embedding vector_cosine_ops) WITH (m = {_graph.M}, ef_construction = {_graph.EfConstruction})";

    /// <summary>The HNSW index's settings as it was built (null while the table has none).</summary>
    internal string? IndexDefinition() => Run(connection =>
    {
        using var command = new NpgsqlCommand("SELECT indexdef FROM pg_indexes WHERE indexname = $1", connection);
        command.Parameters.AddWithValue($"{_table}_embedding_hnsw");
        return command.ExecuteScalar() as string;
    });

    /// <summary>
    /// Makes sure the table has its HNSW index: builds it over the rows stored so far when a bulk-loading writer left it
    /// out (one process builds it, others wait and find it; writers of other shards wait for the build). Nothing to do
    /// when it exists. The build may run long on a large table; the command timeout does not apply to it.
    /// </summary>
    public void BuildIndex()
    {
        if (Profile is null || _access != StoreAccess.Write) return;
        Run(connection =>
        {
            using var transaction = connection.BeginTransaction();
            Execute(connection, "SELECT pg_advisory_xact_lock(7318455150121)", transaction);
            // pgvector builds the graph in memory when maintenance_work_mem holds it (else far slower, on disk).
            using (var memory = new NpgsqlCommand("SELECT pg_size_bytes(current_setting('maintenance_work_mem')) < pg_size_bytes('1GB')", connection, transaction))
                if ((bool)memory.ExecuteScalar()!) Execute(connection, "SET LOCAL maintenance_work_mem = '1GB'", transaction);
            using (var build = new NpgsqlCommand(CreateIndexSql, connection, transaction) { CommandTimeout = 0 })
                build.ExecuteNonQuery();
            transaction.Commit();
            return 0;
        });
    }

    /// <summary>Whether the table has its HNSW index now.</summary>
    internal bool HasIndex() => Run(connection =>
    {
        using var command = new NpgsqlCommand("SELECT to_regclass($1) IS NOT NULL", connection);
        command.Parameters.AddWithValue($"{_table}_embedding_hnsw");
        return (bool)command.ExecuteScalar()!;
    });

    /// <summary>The largest search breadth pgvector takes (<c>hnsw.ef_search</c>'s upper bound).</summary>
    public const int MaxSearchBreadth = 1000;

    /// <summary>The <c>hnsw.ef_search</c> a top-<paramref name="top"/> search runs with: it bounds both the walk and how many rows the scan can return, so it is at least top.</summary>
    internal int EfSearchFor(int top) => Math.Clamp(Math.Max(
        _searchBreadth ?? (_tuningHolds ? _tuning!.BreadthFor(top, MaxSearchBreadth) : Math.Max(100, 2 * top)), top), 1, MaxSearchBreadth);

    /// <inheritdoc/>
    public SearchTuning TuneSearch(double targetRecall = SearchTuner.DefaultTargetRecall, IProgress<SearchTuningStep>? progress = null, IReadOnlyList<float[]>? queries = null)
    {
        SearchTuner.CheckTarget(targetRecall);
        if (_access != StoreAccess.Write) throw new InvalidOperationException("The store was opened for reading; tuning records its result.");
        if (Profile is not { } profile) throw KeyEmbedException.Input($"store '{Location}' is empty; index a corpus into it first");
        foreach (var query in queries ?? []) profile.CheckWidth(query, Location, "tuning query");
        if (!HasIndex()) throw KeyEmbedException.Input($"{Location}: table '{_table}' has no HNSW index yet (an `index` run did not finish); run `keyembed index` again to build it, then tune");
        long rows = Count();
        if (rows == 0) throw KeyEmbedException.Input($"store '{Location}' is empty; index a corpus into it first");
        var sample = queries is not null ? [] : Run(connection =>
        {
            // A fixed pseudo-random order of the ids: the same rows every time the table holds the same ids.
            using var command = new NpgsqlCommand($"SELECT id, embedding FROM {_table} ORDER BY md5(id) LIMIT $1", connection);
            command.Parameters.AddWithValue(2 * SearchTuner.SampleSize);
            var picked = new List<(string Id, float[] Vector)>();
            using var reader = command.ExecuteReader();
            while (reader.Read()) picked.Add((reader.GetString(0), reader.GetFieldValue<Vector>(1).ToArray()));
            return picked;
        });
        var tuningQueries = queries is null ? SearchTuner.MidpointQueries(sample) : SearchTuner.GivenQueries(queries);
        var exact = tuningQueries.Select(q => (IReadOnlyList<(string, float)>)[.. Search(q.Vector, SearchTuner.Top + SearchTuner.ExcludedPerQuery, exact: true).Select(h => (h.Id, h.Score))]).ToList();
        var tuning = SearchTuner.Tune(rows, tuningQueries, exact,
            (query, top, breadth) => [.. Search(query, top, exact: false, breadth).Select(h => (h.Id, h.Score))], MaxSearchBreadth, targetRecall, progress);
        Run(connection =>
        {
            using var command = new NpgsqlCommand("UPDATE keyembed_stores SET search_tuning = $1 WHERE name = $2", connection);
            command.Parameters.AddWithValue(tuning.ToJson());
            command.Parameters.AddWithValue(_table);
            return command.ExecuteNonQuery();
        });
        _tuning = tuning;
        Interlocked.Exchange(ref _rowsKnown, rows);
        _tuningHolds = true;
        return tuning;
    }

    private SearchTuning? ReadTuning(NpgsqlConnection connection)
    {
        // to_jsonb reads the column whether or not this database's keyembed_stores has it yet (made by an older version).
        using var command = new NpgsqlCommand("SELECT to_jsonb(s) ->> 'search_tuning' FROM keyembed_stores s WHERE name = $1", connection);
        command.Parameters.AddWithValue(_table);
        return SearchTuning.FromJson(command.ExecuteScalar() as string);
    }

    // The planner's row estimate (cheap at any size); an exact count while the table has never been analysed.
    private long EstimatedRows(NpgsqlConnection connection)
    {
        using var estimate = new NpgsqlCommand("SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass($1)", connection);
        estimate.Parameters.AddWithValue(_table);
        if (estimate.ExecuteScalar() is long rows && rows >= 0) return rows;
        using var count = new NpgsqlCommand($"SELECT count(*) FROM {_table}", connection);
        return (long)count.ExecuteScalar()!;
    }

    /// <inheritdoc/>
    public void Ping() => Run(connection =>
    {
        using var command = new NpgsqlCommand("SELECT 1", connection);
        return command.ExecuteScalar();
    });

    /// <inheritdoc/>
    public void Dispose() => _source.Dispose();

    private StoreProfile? ReadProfile(NpgsqlConnection connection, NpgsqlTransaction? transaction = null)
    {
        using var exists = new NpgsqlCommand("SELECT to_regclass('keyembed_stores') IS NOT NULL", connection, transaction);
        if (!(bool)exists.ExecuteScalar()!) return null;
        using var command = new NpgsqlCommand("SELECT profile FROM keyembed_stores WHERE name = $1", connection, transaction);
        command.Parameters.AddWithValue(_table);
        return command.ExecuteScalar() is string json ? StoreProfile.FromJson(json, Location) : null;
    }

    /// <summary>Seconds one statement may run unless the location says otherwise.</summary>
    public const int DefaultCommandTimeoutSeconds = 300;
    private const int DefaultNpgsqlCommandTimeout = 30;

    // Every database call goes through here: a connection from the pool, and connection failures as one line naming
    // the host and port (an input error: the --store value or the server's state is for the user to fix). A statement
    // that outlives the command timeout on an open connection is not a connection failure and says so.
    private T Run<T>(Func<NpgsqlConnection, T> work)
    {
        NpgsqlConnection? connection = null;
        try
        {
            connection = _source.OpenConnection();
            return work(connection);
        }
        catch (NpgsqlException e) when (connection is not null && e is not PostgresException && e.InnerException is TimeoutException)
        {
            int seconds = connection.CommandTimeout;
            throw new KeyEmbedException(ErrorKind.Runtime,
                $"PostgreSQL at {_endpoint} did not finish a statement on store table '{_table}' within {seconds} s (the command timeout); " +
                "the server is busy or the table is locked: retry, or allow longer with ?command_timeout=SECONDS in the postgres:// URL (Command Timeout=SECONDS in a connection string, 0 = no limit)", e);
        }
        catch (NpgsqlException e) when (e is not PostgresException && (e.InnerException is SocketException or TimeoutException or IOException || e.Message.Contains("timeout", StringComparison.OrdinalIgnoreCase)))
        {
            string reason = (e.InnerException?.Message ?? e.Message).TrimEnd('.');
            throw KeyEmbedException.Input($"cannot reach PostgreSQL at {_endpoint} ({reason}); check the host and port in the store URL and that the server is running");
        }
        catch (SocketException e)
        {
            throw KeyEmbedException.Input($"cannot reach PostgreSQL at {_endpoint} ({e.Message.TrimEnd('.')}); check the host and port in the store URL and that the server is running");
        }
        catch (PostgresException e) when (e.SqlState is "28P01" or "28000" or "3D000")
        {
            throw KeyEmbedException.Input($"PostgreSQL at {_endpoint} refused the connection: {e.MessageText}");
        }
        catch (PostgresException e)
        {
            throw new KeyEmbedException(ErrorKind.Runtime, $"PostgreSQL at {_endpoint} failed on store table '{_table}': {e.MessageText} (SQLSTATE {e.SqlState})", e);
        }
        finally
        {
            connection?.Dispose();
        }
    }

    private static void Execute(NpgsqlConnection connection, string sql, NpgsqlTransaction? transaction = null)
    {
        using var command = new NpgsqlCommand(sql, connection, transaction);
        command.ExecuteNonQuery();
    }

    /// <summary>
    /// <c>postgres://user[:password]@host[:port]/database[?table=NAME]</c>, or a connection string with an optional
    /// <c>Table=NAME</c> key → connection settings, table, and the location to show (password left out).
    /// </summary>
    internal static (NpgsqlConnectionStringBuilder Builder, string Table, string Shown) Parse(string location)
    {
        var (builder, table, shown, _) = ParseLocation(location);
        return (builder, table, shown);
    }

    /// <summary>
    /// The HNSW graph's shape, used when this store builds the index (an existing index keeps its own): pgvector's
    /// <c>m</c> (links per node) and <c>ef_construction</c> (candidates kept while inserting). pgvector's defaults,
    /// 16 and 64, suit real embeddings; hard data (random vectors) needs a denser graph for high recall (docs/stores.md).
    /// </summary>
    internal readonly record struct HnswGraph(int M, int EfConstruction)
    {
        public static readonly HnswGraph Default = new(16, 64);
    }

    private static (NpgsqlConnectionStringBuilder Builder, string Table, string Shown, HnswGraph Graph) ParseLocation(string location)
    {
        var builder = new NpgsqlConnectionStringBuilder();
        string table = DefaultTable;
        int? m = null, efConstruction = null;
        string shown;
        if (location.Contains("://", StringComparison.Ordinal))
        {
            if (!Uri.TryCreate(location, UriKind.Absolute, out var uri) || uri.Host.Length == 0)
                throw KeyEmbedException.Input($"store: '{Redact(location)}' is not a PostgreSQL URL; write postgres://user[:password]@host:port/database[?table=NAME]");
            builder.Host = uri.Host;
            builder.Port = uri.IsDefaultPort || uri.Port < 0 ? 5432 : uri.Port;
            var user = uri.UserInfo.Split(':', 2);
            if (user[0].Length > 0) builder.Username = Uri.UnescapeDataString(user[0]);
            if (user.Length == 2) builder.Password = Uri.UnescapeDataString(user[1]);
            string database = Uri.UnescapeDataString(uri.AbsolutePath.Trim('/'));
            if (database.Length > 0) builder.Database = database;
            foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var kv = pair.Split('=', 2);
                string key = Uri.UnescapeDataString(kv[0]);
                string value = kv.Length == 2 ? Uri.UnescapeDataString(kv[1]) : "";
                if (key.Equals("table", StringComparison.OrdinalIgnoreCase)) table = value;
                else if (key.Equals("command_timeout", StringComparison.OrdinalIgnoreCase))
                    builder.CommandTimeout = int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int seconds)
                        ? seconds
                        : throw KeyEmbedException.Input($"store: command_timeout '{value}' is not a whole number of seconds (0 = no limit)");
                else if (key.Equals("hnsw_m", StringComparison.OrdinalIgnoreCase)) m = GraphSetting(key, value);
                else if (key.Equals("hnsw_ef_construction", StringComparison.OrdinalIgnoreCase)) efConstruction = GraphSetting(key, value);
                else throw KeyEmbedException.Input($"store: unknown URL parameter '{key}'; KeyEmbed reads ?table=NAME, &command_timeout=SECONDS, &hnsw_m=N and &hnsw_ef_construction=N");
            }
            shown = $"postgres://{(user[0].Length > 0 ? user[0] + "@" : "")}{builder.Host}:{builder.Port}/{database}?table={table}";
        }
        else
        {
            var generic = new DbConnectionStringBuilder { ConnectionString = location };
            if (generic.TryGetValue("table", out var value)) { table = value?.ToString() ?? ""; generic.Remove("table"); }
            if (generic.TryGetValue("hnsw_m", out value)) { m = GraphSetting("hnsw_m", value?.ToString() ?? ""); generic.Remove("hnsw_m"); }
            if (generic.TryGetValue("hnsw_ef_construction", out value)) { efConstruction = GraphSetting("hnsw_ef_construction", value?.ToString() ?? ""); generic.Remove("hnsw_ef_construction"); }
            try { builder.ConnectionString = generic.ConnectionString; }
            catch (ArgumentException e) { throw KeyEmbedException.Input($"store: not a PostgreSQL connection string ({e.Message})"); }
            shown = $"Host={builder.Host};Port={builder.Port};Database={builder.Database};Table={table}";
        }
        if (!TableName().IsMatch(table))
            throw KeyEmbedException.Input($"store: table name '{table}' must be lower-case letters, digits and underscores, starting with a letter or underscore (at most 50 characters)");
        var graph = new HnswGraph(m ?? HnswGraph.Default.M, efConstruction ?? Math.Max(HnswGraph.Default.EfConstruction, 2 * (m ?? HnswGraph.Default.M)));
        if (graph.M is < 2 or > 100)
            throw KeyEmbedException.Input($"store: hnsw_m must be between 2 and 100 (pgvector's bounds; got {graph.M})");
        if (graph.EfConstruction < 2 * graph.M || graph.EfConstruction > 1000)
            throw KeyEmbedException.Input($"store: hnsw_ef_construction must be between 2 × hnsw_m ({2 * graph.M}) and 1000 (pgvector's bounds; got {graph.EfConstruction})");
        return (builder, table, shown, graph);
    }

    private static int GraphSetting(string key, string value) =>
        int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int number)
            ? number
            : throw KeyEmbedException.Input($"store: {key} '{value}' is not a whole number");

    private static string Redact(string location) => Regex.Replace(location, "://([^:@/]+):[^@/]*@", "://$1:***@");

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,49}$")]
    private static partial Regex TableName();

    [GeneratedRegex(@"(^|;)\s*(host|server)\s*=", RegexOptions.IgnoreCase)]
    private static partial Regex ConnectionStringLike();
}
