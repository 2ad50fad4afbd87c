using System.CommandLine;
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
        Description = $"How many candidates a search keeps while walking the HNSW graph: more finds more of the true nearest neighbours and costs time in proportion (default: {Stores.Folder.FolderStoreOptions.DefaultSearchBreadth} for a folder store, max(100, 2 x top) for PostgreSQL, at most {Stores.Postgres.PgVectorStore.MaxSearchBreadth} there).",
    };

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
