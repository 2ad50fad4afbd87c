namespace KeyEmbed.Stores;

/// <summary>One text to keep: its id (given, or the content hash of the text), the text and optional metadata (a JSON object).</summary>
public sealed record StoreItem(string Id, string Text, string? Metadata = null);

/// <summary>A stored text found by a search, with its cosine similarity to the query.</summary>
public sealed record StoreHit(string Id, string Text, float Score, string? Metadata);

/// <summary>
/// Where vectors live beyond one process: an embedded folder (USearch HNSW index + SQLite, <see cref="Folder.FolderStore"/>)
/// or a PostgreSQL table with pgvector (<see cref="Postgres.PgVectorStore"/>). Both keep texts, ids and metadata next
/// to the vectors, record the <see cref="StoreProfile"/> that made them and commit every <see cref="Add"/> whole or
/// not at all. Open one with <see cref="VectorStores.Open"/>.
/// </summary>
public interface IVectorStore : IDisposable
{
    /// <summary>The store as the user named it (folder path, or the PostgreSQL URL without its password).</summary>
    string Location { get; }

    /// <summary>The profile recorded in the store; null while nothing has been stored yet.</summary>
    StoreProfile? Profile { get; }

    /// <summary>
    /// Records <paramref name="profile"/> if the store has none yet, otherwise checks it matches the recorded one
    /// (an input error naming both when not). <paramref name="action"/> names the caller in that message.
    /// </summary>
    void Claim(StoreProfile profile, string action);

    /// <summary>How many texts are stored.</summary>
    long Count();

    /// <summary>Which of <paramref name="ids"/> are stored already.</summary>
    IReadOnlySet<string> Existing(IReadOnlyCollection<string> ids);

    /// <summary>
    /// Stores texts with their vectors in one commit; ids already present are left as they are (so a rerun, or two
    /// processes racing on one id, store it once). Returns how many were new.
    /// </summary>
    int Add(IReadOnlyList<StoreItem> items, IReadOnlyList<float[]> vectors);

    /// <summary>The <paramref name="top"/> stored texts nearest to <paramref name="query"/> by cosine, best first; <paramref name="exact"/> compares with every stored vector instead of the HNSW index.</summary>
    IReadOnlyList<StoreHit> Search(float[] query, int top, bool exact = false);

    /// <summary>The stored vector of <paramref name="id"/>, or null when the id is not stored.</summary>
    float[]? Vector(string id);

    /// <summary>
    /// The store's recorded search tuning (<see cref="TuneSearch"/>), or null when it was never tuned. Searches walk
    /// its breadth while it holds for the store's size, unless a breadth was given when opening.
    /// </summary>
    SearchTuning? Tuning { get; }

    /// <summary>
    /// Whether a search that does not ask for exact results scans every row anyway: the tuning found no breadth that
    /// reaches its target recall and still holds, and no breadth was given when opening (<see cref="SearchTuning.ScansFor"/>).
    /// </summary>
    bool SearchesExactly { get; }

    /// <summary>
    /// Measures the smallest search breadth whose top 10 holds <paramref name="targetRecall"/> of the exact top 10
    /// (<see cref="SearchTuner"/>: midpoints of two stored vectors as queries, or <paramref name="queries"/>, vectors of the
    /// texts searches will ask, made like the stored ones), records it in the store and returns it. Needs write access and
    /// a non-empty store; costs about a hundred exact searches and a few hundred graph searches.
    /// </summary>
    SearchTuning TuneSearch(double targetRecall = SearchTuner.DefaultTargetRecall, IProgress<SearchTuningStep>? progress = null, IReadOnlyList<float[]>? queries = null);

    /// <summary>Throws a <see cref="KeyEmbedException"/> naming the store unless it answers now (readiness checks).</summary>
    void Ping();
}
