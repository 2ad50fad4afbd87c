using System.Text.Json;
using System.Text.Json.Serialization;
using KeyEmbed.Server.Stores;
using KeyEmbed.Stores;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace KeyEmbed.Server.Http;

/// <summary>One text for <c>POST /v1/index</c>: an optional id (default: the content hash), the text, optional metadata (an object).</summary>
internal sealed record IndexItem(string? Id, string? Text, JsonElement? Metadata);

/// <summary><c>POST /v1/index</c>: <c>texts</c> (strings) or <c>items</c> (objects with id, text, metadata).</summary>
internal sealed record IndexRequest(List<string?>? Texts, List<IndexItem?>? Items);

/// <summary>What an index request did: texts newly stored, texts already stored (by id), texts now in the store.</summary>
internal sealed record IndexResponse(int Added, int AlreadyStored, long Count);

/// <summary><c>POST /v1/search</c>: <c>query</c> or <c>queries</c>, <c>top</c> (default 10), <c>exact</c> (brute force).</summary>
internal sealed record SearchRequest(string? Query, List<string?>? Queries, int? Top, bool? Exact);

/// <summary>One stored text found, with its cosine similarity; metadata when it has some.</summary>
internal sealed record SearchHit(string Id, string Text, float Score, JsonElement? Metadata);

/// <summary>The <c>keyembed search --format json</c> contract: one result list per query, in order, best first.</summary>
internal sealed record SearchResponse(IReadOnlyList<string> Queries, IReadOnlyList<IReadOnlyList<SearchHit>> Results);

/// <summary>
/// <c>GET /v1/store</c>: where the vectors live, how many there are, what made them, the search tuning, and whether
/// searches scan every row because that tuning found no breadth reaching its target.
/// </summary>
internal sealed record StoreInfo(string Location, long Count, string? Profile, SearchTuning? SearchTuning, bool SearchesExactly);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(IndexRequest))]
[JsonSerializable(typeof(IndexResponse))]
[JsonSerializable(typeof(SearchRequest))]
[JsonSerializable(typeof(SearchResponse))]
[JsonSerializable(typeof(StoreInfo))]
[JsonSerializable(typeof(HealthResponse))]
internal sealed partial class StoreJsonContext : JsonSerializerContext
{
    /// <summary><see cref="Default"/>'s settings with the relaxed output encoder (<see cref="WireJson"/>).</summary>
    public static StoreJsonContext Wire { get; } = new(WireJson.Options());
}

/// <summary>
/// The routes over the attached vector store, and readiness: <c>POST /v1/index</c>, <c>POST /v1/search</c>,
/// <c>GET /v1/store</c>, <c>GET /health/ready</c>. Embedding goes through the batcher like every other route.
/// </summary>
internal static class StoreEndpoints
{
    public static readonly string[] Routes = ["POST /v1/index", "POST /v1/search", "GET /v1/store", "GET /health/ready"];

    /// <summary>Most results one query may ask for.</summary>
    public const int MaxTop = 1000;

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/index", Index).Accepts<IndexRequest>("application/json").Produces<IndexResponse>()
            .WithSummary("Embeds texts into the attached vector store (ids already stored are skipped).");
        app.MapPost("/v1/search", Search).Accepts<SearchRequest>("application/json").Produces<SearchResponse>()
            .WithSummary("The stored texts nearest to each query, best first (the keyembed search JSON contract).");
        app.MapGet("/v1/store", Describe).Produces<StoreInfo>().WithSummary("The attached store: location, count, profile, search tuning (404 when none).");
        app.MapGet("/health/ready", Ready).Produces<HealthResponse>().Produces<HealthResponse>(StatusCodes.Status503ServiceUnavailable)
            .WithSummary("200 only while taking traffic: model loaded, store reachable, not draining (needs no API key).");
    }

    private static async Task<IResult> Index(HttpContext context, ServerState state, StoreHost host)
    {
        var store = host.Required;
        var request = await RequestReader.ReadAsync(context, StoreJsonContext.Wire.IndexRequest, state.Options.MaxBodyBytes);
        var items = Items(request, state.Options);
        var backend = state.Model.Backend;
        var options = host.OptionsFor(backend, claim: true) with { LongText = state.Options.LongText };
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var unique = items.Where(i => seen.Add(i.Id)).ToList();
        var existing = store.Existing([.. unique.Select(i => i.Id)]);
        var fresh = unique.Where(i => !existing.Contains(i.Id)).ToList();
        int added = 0;
        if (fresh.Count > 0)
        {
            var texts = fresh.Select(i => i.Text).ToList();
            var (inputs, tokens) = RequestValidation.Prepare(backend, texts, options.LongText, "texts");
            var vectors = await state.Batcher.EmbedPreparedAsync(inputs, tokens.Sum(), options, context.RequestAborted);
            added = store.Add(fresh, vectors);
        }
        return Results.Json(new IndexResponse(added, items.Count - added, store.Count()), StoreJsonContext.Wire.IndexResponse);
    }

    private static async Task<IResult> Search(HttpContext context, ServerState state, StoreHost host)
    {
        var store = host.Required;
        var request = await RequestReader.ReadAsync(context, StoreJsonContext.Wire.SearchRequest, state.Options.MaxBodyBytes);
        if (request.Query is not null && request.Queries is not null)
            throw ApiException.Invalid("queries", "cannot be combined with 'query'; send one of them.");
        IReadOnlyList<string> queries = request.Query is not null ? [RequestValidation.Text(request.Query, "query", state.Options)]
            : request.Queries is not null ? RequestValidation.Texts(request.Queries, "queries", state.Options)
            : throw ApiException.Missing("query", "a string (or 'queries', an array of strings)");
        int top = request.Top ?? 10;
        if (top is < 1 or > MaxTop) throw ApiException.Invalid("top", $"must be between 1 and {MaxTop} (got {top}).");
        if (store.Profile is null) return Results.Json(new SearchResponse(queries, [.. queries.Select(_ => (IReadOnlyList<SearchHit>)[])]), StoreJsonContext.Wire.SearchResponse);
        var backend = state.Model.Backend;
        var options = host.OptionsFor(backend, claim: false) with { LongText = state.Options.LongText };
        var (inputs, tokens) = RequestValidation.Prepare(backend, queries, options.LongText, "queries");
        var vectors = await state.Batcher.EmbedPreparedAsync(inputs, tokens.Sum(), options, context.RequestAborted);
        bool exact = request.Exact ?? false;
        var results = vectors.Select(v => (IReadOnlyList<SearchHit>)[.. store.Search(v, top, exact).Select(Hit)]).ToList();
        return Results.Json(new SearchResponse(queries, results), StoreJsonContext.Wire.SearchResponse);
    }

    private static IResult Describe(StoreHost host)
    {
        var store = host.Required;
        return Results.Json(new StoreInfo(store.Location, store.Count(), store.Profile?.Describe(), store.Tuning, store.SearchesExactly), StoreJsonContext.Wire.StoreInfo);
    }

    private static IResult Ready(ServerState state, StoreHost host, DrainState drain)
    {
        string? problem = drain.Draining ? "draining: the service is stopping"
            : !state.Model.IsReady ? (state.Model.Loading.IsFaulted ? "the model failed to load: " + state.Model.FailureMessage : "the model is loading")
            : null;
        if (problem is null && host.Store is { } store)
        {
            try { store.Ping(); }
            catch (KeyEmbedException e) { problem = "the store is unreachable: " + e.Message; }
        }
        return problem is null
            ? Results.Json(new HealthResponse("ready"), StoreJsonContext.Wire.HealthResponse)
            : Results.Json(new HealthResponse("not_ready", problem), StoreJsonContext.Wire.HealthResponse, statusCode: StatusCodes.Status503ServiceUnavailable);
    }

    private static SearchHit Hit(StoreHit hit)
    {
        JsonElement? metadata = null;
        if (hit.Metadata is { } json)
        {
            using var document = JsonDocument.Parse(json);
            metadata = document.RootElement.Clone();
        }
        return new SearchHit(hit.Id, hit.Text, hit.Score, metadata);
    }

    private static bool IsText(JsonElement element)
    {
        try
        {
            switch (element.ValueKind)
            {
                case JsonValueKind.Object:
                    foreach (var property in element.EnumerateObject())
                    {
                        _ = property.Name; // reading a name unescapes it, which throws for an unpaired surrogate escape
                        if (!IsText(property.Value)) return false;
                    }
                    return true;
                case JsonValueKind.Array:
                    foreach (var item in element.EnumerateArray()) if (!IsText(item)) return false;
                    return true;
                case JsonValueKind.String:
                    _ = element.GetString();
                    return true;
                default:
                    return true;
            }
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static List<StoreItem> Items(IndexRequest request, ServerOptions limits)
    {
        if (request.Texts is not null && request.Items is not null)
            throw ApiException.Invalid("items", "cannot be combined with 'texts'; send one of them.");
        if (request.Texts is not null)
            return [.. RequestValidation.Texts(request.Texts, "texts", limits).Select(t => new StoreItem(VectorStores.ContentId(t), t))];
        if (request.Items is null) throw ApiException.Missing("items", "an array of {\"id\", \"text\", \"metadata\"} objects (or 'texts', an array of strings)");
        if (request.Items.Count == 0) throw ApiException.Invalid("items", "must contain at least one item.");
        if (request.Items.Count > limits.MaxInputs)
            throw ApiException.Invalid("items", $"has {request.Items.Count} items; the limit is {limits.MaxInputs} per request (--max-inputs).");
        var items = new List<StoreItem>(request.Items.Count);
        for (int i = 0; i < request.Items.Count; i++)
        {
            var item = request.Items[i] ?? throw ApiException.Invalid("items", $"[{i}] must be an object with a 'text' string.");
            string text = RequestValidation.Text(item.Text, $"items[{i}].text", limits, "items");
            if (item.Id is { Length: 0 }) throw ApiException.Invalid("items", $"[{i}].id must not be empty.");
            string? metadata = null;
            if (item.Metadata is { } m && m.ValueKind != JsonValueKind.Null)
            {
                if (m.ValueKind != JsonValueKind.Object) throw ApiException.Invalid("items", $"[{i}].metadata must be an object.");
                // Stored as sent and sent back by every search that finds the row: a name or string that is not text
                // (an unpaired surrogate escape such as "\uD800") would make those searches fail, so it is refused here.
                if (!IsText(m)) throw ApiException.Invalid("items", $"[{i}].metadata holds a name or string that is not valid text (an unpaired UTF-16 surrogate escape such as \\uD800).");
                metadata = m.GetRawText();
            }
            items.Add(new StoreItem(item.Id ?? VectorStores.ContentId(text), text, metadata));
        }
        return items;
    }
}
