using System.CommandLine;
using System.Globalization;
using KeyEmbed.Embedding;
using KeyEmbed.Stores;

namespace KeyEmbed.Cli.Commands;

/// <summary>
/// What <c>index</c> and <c>search</c> share: the <c>--store</c> option, and the rule that a store's recorded profile
/// fills the embedding options the command line leaves out (so <c>search --store S --query Q</c> uses the store's
/// model and options; an option given differently is refused by <see cref="StoreProfile.Check"/>, naming both).
/// </summary>
internal static class StoreOptions
{
    public static Option<string> Store() => new("--store")
    {
        Description = "Where vectors live: a folder (USearch HNSW index + SQLite; created by index) or postgres://user[:password]@host:port/database[?table=NAME] (PostgreSQL with pgvector).",
        Required = true,
    };

    public static Option<int?> SearchBreadth() => new("--search-breadth")
    {
        Description = $"How many candidates a search keeps while walking the HNSW graph: more finds more of the true nearest neighbours and costs time in proportion (default: the breadth the store was tuned to by index or tune, scaled with --top; for a store never tuned {Stores.Folder.FolderStoreOptions.DefaultSearchBreadth} for a folder, max(100, 2 x top) for PostgreSQL, at most {Stores.Postgres.PgVectorStore.MaxSearchBreadth} there).",
    };

    public static Option<double?> TargetRecall() => new("--target-recall")
    {
        Description = $"Tune searches to find this share of the exact top 10 (above 0, at most 1; default {SearchTuner.DefaultTargetRecall.ToString(CultureInfo.InvariantCulture)}, or the store's recorded target), measured with {SearchTuner.SampleSize} queries, each between two stored texts.",
    };

    /// <summary>Checks a <c>--target-recall</c> value before any work is done.</summary>
    public static double? CheckedTarget(double? target) =>
        CliApp.NamingFlags(() => { if (target is { } t) SearchTuner.CheckTarget(t); return target; }, ("TargetRecall", "--target-recall"));

    /// <summary>
    /// Tunes the store's search breadth, a progress line per breadth tried on standard error, and says what it found
    /// (on <paramref name="summary"/>): the breadth searches will use, or that no breadth reaches the target and what to do.
    /// </summary>
    public static SearchTuning Tune(CliContext ctx, IVectorStore store, double target, TextWriter summary, IReadOnlyList<float[]>? queries = null)
    {
        ctx.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"tuning the search: how wide a walk finds {target:0.###} of the exact top {SearchTuner.Top} ({(queries is null ? $"{SearchTuner.SampleSize} queries, each between two stored texts" : $"the {queries.Count} queries given")})"));
        var progress = new ReportInOrder<SearchTuningStep>(step => ctx.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  breadth {step.Breadth}: recall@{SearchTuner.Top} {step.Recall:F3}{(step.GaveUp ? " (too far below the target; stopped early)" : "")}, {step.Seconds:F1} s")));
        var tuning = store.TuneSearch(target, progress, queries);
        summary.WriteLine(tuning.Reached
            ? FormattableString.Invariant($"search tuned: breadth {tuning.Breadth} finds {tuning.Recall:F3} of the exact top {SearchTuner.Top} (target {tuning.TargetRecall:0.###}) over {tuning.Rows:N0} rows; searches of {store.Location} use it (scaled with --top) until it holds {2 * tuning.Rows:N0} rows")
            : FormattableString.Invariant($"warning: no search breadth reaches recall {tuning.TargetRecall:0.###} on {store.Location}: the widest walk allowed (breadth {tuning.Breadth}) finds {tuning.Recall:F3} of the exact top {SearchTuner.Top}; searches of it scan every row (exact) until it holds {2 * tuning.Rows:N0} rows. To walk the graph anyway give --search-breadth {tuning.Breadth} (or a lower --target-recall, or --queries FILE of queries like the real ones, to `keyembed tune`); for PostgreSQL a denser index reaches more (?hnsw_m=48&hnsw_ef_construction=200 in a new table; docs/stores.md)"));
        return tuning;
    }

    // Progress<T> posts to the thread pool, so its lines could arrive after the summary; these are written as reported.
    private sealed class ReportInOrder<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }

    /// <summary>Opens a store with the command line's search breadth; an invalid breadth names its flag.</summary>
    public static IVectorStore Open(string location, StoreAccess access, int? searchBreadth) =>
        CliApp.NamingFlags(() => VectorStores.Open(location, access, searchBreadth: searchBreadth), (nameof(Stores.Folder.FolderStoreOptions.SearchBreadth), "--search-breadth"));

    /// <summary>The model to load and the options to embed with: the command line's, gaps filled from <paramref name="profile"/>.</summary>
    public static (KeyEmbedModel Model, EmbeddingOptions Options) Load(Command command, ParseResult parse, EmbeddingOptionSet shared, StoreProfile? profile)
    {
        var options = shared.EmbeddingOptions(parse);
        var modelOptions = shared.ModelOptions(parse);
        string? model = shared.Model(parse);
        if (profile is not null)
        {
            model ??= profile.Model;
            options = options with
            {
                Layers = options.Layers ?? profile.Layers,
                LayerMode = Given(command, parse, "--layer-mode") ? options.LayerMode : EmbeddingOptions.ParseLayerMode(profile.LayerMode),
                Pooling = options.Pooling ?? EmbeddingOptions.ParsePooling(profile.Pooling),
                ExcludeSpecialTokens = Given(command, parse, "--exclude-special") ? options.ExcludeSpecialTokens : profile.ExcludeSpecial,
                Normalize = options.Normalize ?? profile.Normalize,
                Dimensions = options.Dimensions ?? profile.Dimensions,
            };
            if (!Given(command, parse, "--precision"))
                modelOptions = modelOptions with { ComputePrecision = EmbeddingOptionSet.ParseComputePrecision(profile.Precision) };
        }
        if (options.Pooling == PoolingMode.None)
            throw KeyEmbedException.Input("--pooling none gives token vectors; a store keeps one vector per text (use another pooling)");
        var loaded = KeyEmbedModel.Load(model, modelOptions);
        try
        {
            EmbeddingOptionSet.Resolve(loaded, options);
            return (loaded, options);
        }
        catch
        {
            loaded.Dispose();
            throw;
        }
    }

    private static bool Given(Command command, ParseResult parse, string name) =>
        command.Options.FirstOrDefault(o => o.Name == name) is { } option && parse.GetResult(option) is { Implicit: false };
}
