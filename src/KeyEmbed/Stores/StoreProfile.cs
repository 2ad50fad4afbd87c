using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using KeyEmbed.Embedding;

namespace KeyEmbed.Stores;

/// <summary>
/// What made a store's vectors: the model (by the content hash of its weights) and the embedding options. Every store
/// records one when it is created and refuses an insert or a query made any other way, naming both.
/// </summary>
/// <param name="Model">The model as it was named (built-in name or path); informative only, not compared.</param>
/// <param name="ModelHash">SHA-256 over the model's weight files; two runs match only with equal hashes.</param>
/// <param name="Layers">Absolute hidden-state numbers.</param>
/// <param name="LayerMode">sum, mean or concat.</param>
/// <param name="Pooling">The pooling's name.</param>
/// <param name="ExcludeSpecial">Whether special tokens were left out of pooling.</param>
/// <param name="Normalize">Whether vectors are L2-normalized.</param>
/// <param name="Dimensions">Vector width.</param>
/// <param name="Precision">Arithmetic of the model's linear layers (float32 or int8).</param>
public sealed record StoreProfile(
    string Model,
    string ModelHash,
    IReadOnlyList<int> Layers,
    string LayerMode,
    string Pooling,
    bool ExcludeSpecial,
    bool Normalize,
    int Dimensions,
    string Precision)
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>Throws unless <paramref name="vector"/> has this profile's width (the store at <paramref name="location"/>).</summary>
    internal void CheckWidth(float[] vector, string location, string what)
    {
        if (vector.Length != Dimensions)
            throw KeyEmbedException.Input($"store {location} holds {Dimensions}-dimensional vectors; this {what} has {vector.Length} dimensions");
    }

    /// <summary>The checks every store makes before an insert; returns the claimed profile the vectors fit.</summary>
    internal static StoreProfile ForInsert(StoreProfile? claimed, StoreAccess access, int itemCount, IReadOnlyList<float[]> vectors, string location)
    {
        if (access != StoreAccess.Write) throw new InvalidOperationException("The store was opened for reading.");
        if (itemCount != vectors.Count) throw new ArgumentException("One vector per item.", nameof(vectors));
        var profile = claimed ?? throw new InvalidOperationException("Claim the store with a profile before adding.");
        foreach (var vector in vectors) profile.CheckWidth(vector, location, "vector");
        return profile;
    }

    /// <summary>The profile of vectors <paramref name="model"/> makes under <paramref name="options"/>.</summary>
    public static StoreProfile Of(KeyEmbedModel model, EmbeddingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var plan = model.Resolve(options);
        if (plan.Pooling == PoolingMode.None)
            throw KeyEmbedException.Input("a store keeps one vector per text; pooling 'none' gives token vectors (use another pooling)");
        return new StoreProfile(model.Info.Name, WeightsHash(model), [.. plan.Layers], plan.LayerMode.ToString().ToLowerInvariant(),
            EmbeddingOptions.FormatPooling(plan.Pooling), plan.ExcludeSpecialTokens, plan.Normalize, plan.Dimensions,
            model.ComputePrecision.ToString().ToLowerInvariant());
    }

    // SHA-256 over the weight files (remembered per file by the graph cache, so a large checkpoint is hashed once).
    private static string WeightsHash(KeyEmbedModel model) =>
        new Runtime.GraphCache().ContentHash(model.Loaded.Files.WeightFiles);

    /// <summary>The embedding options this profile records (to embed queries or new texts the store's way).</summary>
    public EmbeddingOptions ToOptions() => new()
    {
        Layers = Layers,
        LayerMode = EmbeddingOptions.ParseLayerMode(LayerMode),
        Pooling = EmbeddingOptions.ParsePooling(Pooling),
        ExcludeSpecialTokens = ExcludeSpecial,
        Normalize = Normalize,
        Dimensions = Dimensions,
    };

    /// <summary>Whether vectors made under <paramref name="other"/> can be stored beside or compared with these.</summary>
    public bool Matches(StoreProfile other) =>
        ModelHash == other.ModelHash && Layers.SequenceEqual(other.Layers) && LayerMode == other.LayerMode && Pooling == other.Pooling
        && ExcludeSpecial == other.ExcludeSpecial && Normalize == other.Normalize && Dimensions == other.Dimensions && Precision == other.Precision;

    /// <summary>
    /// Throws an input error naming both profiles unless <paramref name="run"/> matches this (the store's) profile.
    /// </summary>
    public void Check(StoreProfile run, string store, string action)
    {
        if (Matches(run)) return;
        throw KeyEmbedException.Input(
            $"store {store} holds vectors of {Describe()}; this {action} uses {run.Describe()}: run with the store's model and options, or use another store");
    }

    /// <summary>One line: model, short hash, layers, layer mode, pooling, normalization, dimensions, precision.</summary>
    public string Describe()
    {
        var parts = new List<string>
        {
            $"model {Model} (weights {ModelHash[..Math.Min(12, ModelHash.Length)]})",
            "layers " + string.Join(",", Layers.Select(l => l.ToString(CultureInfo.InvariantCulture))) + (Layers.Count > 1 ? " " + LayerMode : ""),
            "pooling " + Pooling + (ExcludeSpecial ? " without special tokens" : ""),
            Normalize ? "normalized" : "not normalized",
            $"{Dimensions} dimensions",
            Precision,
        };
        return string.Join(", ", parts);
    }

    /// <summary>The profile as JSON (stored by every store).</summary>
    public string ToJson() => JsonSerializer.Serialize(new Wire(Model, ModelHash, [.. Layers], LayerMode, Pooling, ExcludeSpecial, Normalize, Dimensions, Precision), Json);

    /// <summary>Reads a profile written by <see cref="ToJson"/>; <paramref name="where"/> names the store in errors.</summary>
    public static StoreProfile FromJson(string json, string where)
    {
        try
        {
            var wire = JsonSerializer.Deserialize<Wire>(json, Json) ?? throw new JsonException("null");
            if (wire.ModelHash is null || wire.Layers is null || wire.Pooling is null || wire.LayerMode is null || wire.Precision is null || wire.Dimensions < 1)
                throw new JsonException("a field is missing");
            return new StoreProfile(wire.Model ?? "?", wire.ModelHash, wire.Layers, wire.LayerMode, wire.Pooling, wire.ExcludeSpecial, wire.Normalize, wire.Dimensions, wire.Precision);
        }
        catch (JsonException e)
        {
            throw KeyEmbedException.Input($"{where}: the recorded model profile is unreadable ({e.Message}); the store was not written by this version of KeyEmbed");
        }
    }

    private sealed record Wire(
        [property: JsonPropertyName("model")] string? Model,
        [property: JsonPropertyName("model_hash")] string? ModelHash,
        [property: JsonPropertyName("layers")] int[]? Layers,
        [property: JsonPropertyName("layer_mode")] string? LayerMode,
        [property: JsonPropertyName("pooling")] string? Pooling,
        [property: JsonPropertyName("exclude_special")] bool ExcludeSpecial,
        [property: JsonPropertyName("normalize")] bool Normalize,
        [property: JsonPropertyName("dimensions")] int Dimensions,
        [property: JsonPropertyName("precision")] string? Precision);
}
