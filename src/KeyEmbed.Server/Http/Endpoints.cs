using System.Buffers.Binary;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json;
using KeyEmbed.Embedding;
using KeyEmbed.Server.Batching;
using KeyEmbed.Server.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using KeyEmbed.Similarity;

namespace KeyEmbed.Server.Http;

/// <summary>What every handler needs: limits, the model, the batcher, the metrics.</summary>
internal sealed class ServerState(ServerOptions options, ModelHost model, DynamicBatcher batcher, ServerMetrics metrics)
{
    public ServerOptions Options { get; } = options;
    public ModelHost Model { get; } = model;
    public DynamicBatcher Batcher { get; } = batcher;
    public ServerMetrics Metrics { get; } = metrics;

    public static string Version { get; } =
        typeof(ServerState).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
}

/// <summary>The routes. Handlers are thin: read and check the body, hand work to the batcher, shape the answer.</summary>
internal static class Endpoints
{
    public static readonly string[] Routes =
        ["POST /v1/embeddings", "POST /embed", "POST /embed/tokens", "POST /similarity", "POST /keywords", "POST /tokenize",
         "GET /health", "GET /info", "GET /metrics", "GET /openapi.json", "GET /"];

    /// <summary>The methods <see cref="Routes"/> lists for <paramref name="path"/> (empty: no such route).</summary>
    public static IReadOnlyList<string> MethodsOf(PathString path) =>
        [.. Routes.Select(r => r.Split(' ')).Where(r => path.Equals(r[1], StringComparison.OrdinalIgnoreCase)).Select(r => r[0])];

    /// <summary>Whether <paramref name="path"/> is a POST route (its body is JSON).</summary>
    public static bool IsPostRoute(PathString path) => MethodsOf(path).Contains("POST");

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/embeddings", OpenAiEmbeddings)
            .Accepts<OpenAiEmbeddingsRequest>("application/json").Produces<OpenAiEmbeddingsResponse<float[]>>()
            .ProducesErrors().WithSummary("OpenAI-compatible embeddings (encoding_format float or base64).");
        app.MapPost("/embed", Embed)
            .Accepts<EmbedRequest>("application/json").Produces<EmbedResponse>()
            .ProducesErrors().WithSummary("One vector per text, with KeyEmbed's layer and pooling options.");
        app.MapPost("/embed/tokens", EmbedTokens)
            .Accepts<EmbedTokensRequest>("application/json").Produces<EmbedTokensResponse>()
            .ProducesErrors().WithSummary("One vector per token of one text, with tokens, ids and character offsets.");
        app.MapPost("/similarity", Similarity)
            .Accepts<SimilarityRequest>("application/json").Produces<SimilarityResponse>()
            .ProducesErrors().WithSummary("texts: cosine matrix, similarity to the set and neighbours; or query + candidates: ranked top_k.");
        app.MapPost("/keywords", Keywords)
            .Accepts<KeywordsRequest>("application/json").Produces<KeywordsResponse>()
            .ProducesErrors().WithSummary("A document's keywords ranked by similarity to it.");
        app.MapPost("/tokenize", Tokenize)
            .Accepts<TokenizeRequest>("application/json").Produces<TokenizeResponse>()
            .ProducesErrors().WithSummary("The model's tokens, ids and offsets of text(s).");
        app.MapGet("/health", Health)
            .Produces<HealthResponse>().Produces<HealthResponse>(StatusCodes.Status503ServiceUnavailable)
            .WithSummary("200 once the model is loaded, 503 before (needs no API key).");
        app.MapGet("/info", Info).Produces<InfoResponse>().WithSummary("Model facts, limits and version.");
        app.MapGet("/metrics", MetricsText).WithSummary("Prometheus text exposition.");
    }

    /// <summary>The response header that carries the unknown-token warning (ASCII: counts only; the body's field has the text).</summary>
    public const string WarningHeader = "KeyEmbed-Warning";

    /// <summary>
    /// The prepared texts' unknown-token share (measured when they were tokenized); when some are mostly unknown, counts
    /// them in /metrics, sets <see cref="WarningHeader"/> and returns the warning for the body's <c>warning</c> field.
    /// Vectors are unchanged.
    /// </summary>
    private static string? UnknownTokenWarning(HttpContext context, ServerState state, IEnumerable<PreparedInput> inputs) =>
        UnknownTokenWarning(context, state, inputs.Select(i => (i.Text, i.UnknownShare)));

    private static string? UnknownTokenWarning(HttpContext context, ServerState state, IEnumerable<(string Text, double Share)> texts)
    {
        var unknown = new Tokenization.UnknownTokens();
        foreach (var (text, share) in texts)
            if (share >= Tokenization.UnknownTokens.WarningShare) unknown.Flag(text, share);
            else unknown.Pass();
        if (unknown.Flagged == 0) return null;
        state.Metrics.UnknownTokenTexts.Inc(unknown.Flagged);
        context.Response.Headers[WarningHeader] = $"unknown-tokens; texts={unknown.Flagged}; of={unknown.Seen}";
        return unknown.Message();
    }

    private static RouteHandlerBuilder ProducesErrors(this RouteHandlerBuilder route) => route
        .Produces<ErrorResponse>(StatusCodes.Status400BadRequest)
        .Produces<ErrorResponse>(StatusCodes.Status401Unauthorized)
        .Produces<ErrorResponse>(StatusCodes.Status413PayloadTooLarge)
        .Produces<ErrorResponse>(StatusCodes.Status422UnprocessableEntity)
        .Produces<ErrorResponse>(StatusCodes.Status503ServiceUnavailable);

    private static async Task<IResult> OpenAiEmbeddings(HttpContext context, ServerState state)
    {
        var request = await RequestReader.ReadAsync(context, ServerJsonContext.Wire.OpenAiEmbeddingsRequest, state.Options.MaxBodyBytes);
        var texts = OpenAiInput(request.Input, state.Options);
        var base64 = request.EncodingFormat switch
        {
            null or "float" => false,
            "base64" => true,
            var other => throw ApiException.Invalid("encoding_format", $"is '{other}'; use 'float' or 'base64'."),
        };
        if (request.Dimensions is <= 0) throw ApiException.Invalid("dimensions", $"must be a positive number of dimensions (got {request.Dimensions}).");
        var backend = state.Model.Backend;
        // OpenAI's vectors are unit length whatever the model's own default.
        var options = RequestValidation.Options(new OptionFields { Dimensions = request.Dimensions, Normalize = true }, backend.Model, state.Options.LongText);
        var (inputs, tokens) = RequestValidation.Prepare(backend, texts, options.LongText, "input");
        var vectors = await state.Batcher.EmbedPreparedAsync(inputs, tokens.Sum(), options, context.RequestAborted);
        // OpenAI's response shape stays as it is: the warning travels in the header (and /metrics) only.
        UnknownTokenWarning(context, state, inputs);
        var usage = new OpenAiUsage(tokens.Sum(), tokens.Sum());
        var model = backend.Model.Name;
        return base64
            ? Results.Json(new OpenAiEmbeddingsResponse<string>("list",
                  [.. vectors.Select((v, i) => new OpenAiEmbedding<string>("embedding", i, Base64LittleEndian(v)))], model, usage),
                  ServerJsonContext.Wire.OpenAiEmbeddingsResponseString)
            : Results.Json(new OpenAiEmbeddingsResponse<float[]>("list",
                  [.. vectors.Select((v, i) => new OpenAiEmbedding<float[]>("embedding", i, v))], model, usage),
                  ServerJsonContext.Wire.OpenAiEmbeddingsResponseSingleArray);
    }

    /// <summary>OpenAI's <c>input</c>: a string or an array of strings. Token arrays are refused: the service embeds text.</summary>
    private static IReadOnlyList<string> OpenAiInput(JsonElement? input, ServerOptions limits)
    {
        if (input is not { } element || element.ValueKind == JsonValueKind.Null)
            throw ApiException.Missing("input", "a string or an array of strings");
        if (element.ValueKind == JsonValueKind.String) return [RequestValidation.Text(element.GetString(), "input", limits)];
        if (element.ValueKind != JsonValueKind.Array) throw ApiException.Invalid("input", "must be a string or an array of strings.");
        var items = new List<string?>();
        foreach (var item in element.EnumerateArray())
        {
            if (item.ValueKind == JsonValueKind.String) items.Add(item.GetString());
            else if (item.ValueKind is JsonValueKind.Number or JsonValueKind.Array)
                throw ApiException.Invalid("input", "holds token ids; this service takes text only (send the strings, not tokens).");
            else throw ApiException.Invalid("input", $"[{items.Count}] must be a string (got {item.ValueKind.ToString().ToLowerInvariant()}).");
        }
        return RequestValidation.Texts(items, "input", limits);
    }

    /// <summary>Little-endian float32 bytes, base64-encoded, as OpenAI's <c>encoding_format: base64</c>.</summary>
    internal static string Base64LittleEndian(float[] vector)
    {
        if (BitConverter.IsLittleEndian) return Convert.ToBase64String(MemoryMarshal.AsBytes(vector.AsSpan()));
        var bytes = new byte[vector.Length * sizeof(float)];
        for (var i = 0; i < vector.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), vector[i]);
        return Convert.ToBase64String(bytes);
    }

    private static async Task<IResult> Embed(HttpContext context, ServerState state)
    {
        var request = await RequestReader.ReadAsync(context, ServerJsonContext.Wire.EmbedRequest, state.Options.MaxBodyBytes);
        var texts = RequestValidation.Texts(request.Texts, "texts", state.Options);
        var backend = state.Model.Backend;
        var options = RequestValidation.Options(request, backend.Model, state.Options.LongText);
        var (inputs, tokens) = RequestValidation.Prepare(backend, texts, options.LongText, "texts");
        var vectors = await state.Batcher.EmbedPreparedAsync(inputs, tokens.Sum(), options, context.RequestAborted);
        var warning = UnknownTokenWarning(context, state, inputs);
        return Results.Json(new EmbedResponse(backend.Model.Name, vectors.Length > 0 ? vectors[0].Length : 0, vectors, tokens, warning),
            ServerJsonContext.Wire.EmbedResponse);
    }

    private static async Task<IResult> EmbedTokens(HttpContext context, ServerState state)
    {
        var request = await RequestReader.ReadAsync(context, ServerJsonContext.Wire.EmbedTokensRequest, state.Options.MaxBodyBytes);
        var text = RequestValidation.Text(request.Text, "text", state.Options);
        var backend = state.Model.Backend;
        var options = RequestValidation.Options(request, backend.Model, state.Options.LongText, tokenLevel: true);
        // Token vectors cover the model's window: a longer text is cut to it, unless the request refuses long texts.
        var (inputs, tokens) = RequestValidation.Prepare(backend, [text], options.LongText == LongTextMode.Error ? LongTextMode.Error : LongTextMode.Truncate, "text");
        var result = await state.Batcher.RunExclusiveAsync(b => b.EmbedTokens(inputs[0], options), tokens[0], context.RequestAborted);
        var items = result.Tokens.Tokens.Select((token, i) => new TokenVector(
            token, result.Tokens.Ids[i], result.Tokens.Offsets[i].Start, result.Tokens.Offsets[i].End, result.Vectors[i])).ToArray();
        return Results.Json(new EmbedTokensResponse(backend.Model.Name, result.Vectors.Length > 0 ? result.Vectors[0].Length : 0, items),
            ServerJsonContext.Wire.EmbedTokensResponse);
    }

    private static async Task<IResult> Similarity(HttpContext context, ServerState state)
    {
        var request = await RequestReader.ReadAsync(context, ServerJsonContext.Wire.SimilarityRequest, state.Options.MaxBodyBytes);
        var backend = state.Model.Backend;
        var options = RequestValidation.Options(request, backend.Model, state.Options.LongText);
        if (request.Query is not null || request.Candidates is not null)
        {
            if (request.Texts is not null)
                throw ApiException.Invalid("texts", "cannot be combined with 'query'/'candidates': send texts for a matrix, or query + candidates for a ranking.");
            var query = RequestValidation.Text(request.Query, "query", state.Options);
            var candidates = RequestValidation.Texts(request.Candidates, "candidates", state.Options);
            var k = RequestValidation.TopK(request.TopK, "top_k", candidates.Count, candidates.Count);
            IReadOnlyList<string> all = [query, .. candidates];
            var (inputs, tokens) = RequestValidation.Prepare(backend, all, options.LongText, "candidates");
            var vectors = await state.Batcher.EmbedPreparedAsync(inputs, tokens.Sum(), options, context.RequestAborted);
            var ranked = NearestNeighbours.TopK(vectors[0], vectors[1..], k)
                .Select(n => new RankedText(n.Index, candidates[n.Index], n.Similarity)).ToArray();
            var rankedWarning = UnknownTokenWarning(context, state, inputs);
            return Results.Json(new SimilarityResponse(backend.Model.Name, Query: query, Results: ranked, Warning: rankedWarning), ServerJsonContext.Wire.SimilarityResponse);
        }
        var texts = RequestValidation.Texts(request.Texts, "texts", state.Options);
        var neighbours = RequestValidation.TopK(request.TopK, "top_k", Math.Min(5, texts.Count - 1), Math.Max(texts.Count - 1, 0));
        var (prepared, counts) = RequestValidation.Prepare(backend, texts, options.LongText, "texts");
        var embedded = await state.Batcher.EmbedPreparedAsync(prepared, counts.Sum(), options, context.RequestAborted);
        // The library's numbers, so the service, the page and `keyembed similarity` agree.
        var similarity = SimilarityMatrix.Compute(embedded);
        var nearest = similarity.Matrix.Select((row, i) => (IReadOnlyList<RankedText>)
            [.. NearestNeighbours.TopOfRow(row, neighbours, exclude: i).Select(n => new RankedText(n.Index, texts[n.Index], n.Similarity))]).ToArray();
        var matrixWarning = UnknownTokenWarning(context, state, prepared);
        return Results.Json(new SimilarityResponse(backend.Model.Name, texts, similarity.Matrix, similarity.ToSet, similarity.MeanPairwise, nearest, Warning: matrixWarning),
            ServerJsonContext.Wire.SimilarityResponse);
    }

    private static async Task<IResult> Keywords(HttpContext context, ServerState state)
    {
        var request = await RequestReader.ReadAsync(context, ServerJsonContext.Wire.KeywordsRequest, state.Options.MaxBodyBytes);
        var document = RequestValidation.Text(request.Document, "document", state.Options);
        var backend = state.Model.Backend;
        var embedding = RequestValidation.Options(request, backend.Model, state.Options.LongText);
        var options = RequestValidation.Keywords(request, state.Options);
        var (prepared, tokens) = RequestValidation.Prepare(backend, [document], embedding.LongText, "document");
        // Candidates and document are embedded by the backend on the worker; the ranking (KeyBERT + MMR) is the library's.
        // The document was tokenized for the checks above: that tokenization goes to the model; each candidate is tokenized once.
        var keywords = await state.Batcher.RunExclusiveAsync(
            b => new KeywordExtractor(texts => b.EmbedPrepared(
                    [.. texts.Select((t, i) => i == 0 && ReferenceEquals(t, document) ? prepared[0] : b.Prepare(t))], embedding))
                .Extract(document, options), tokens[0], context.RequestAborted);
        var keywordsWarning = UnknownTokenWarning(context, state, prepared);
        return Results.Json(new KeywordsResponse(backend.Model.Name, [.. keywords.Select(k => new KeywordItem(k.Text, k.Score))], keywordsWarning),
            ServerJsonContext.Wire.KeywordsResponse);
    }

    private static async Task<IResult> Tokenize(HttpContext context, ServerState state)
    {
        var request = await RequestReader.ReadAsync(context, ServerJsonContext.Wire.TokenizeRequest, state.Options.MaxBodyBytes);
        if (request.Text is not null && request.Texts is not null)
            throw ApiException.Invalid("texts", "cannot be combined with 'text'; send one of them.");
        var texts = request.Text is not null
            ? [RequestValidation.Text(request.Text, "text", state.Options)]
            : request.Texts is not null ? RequestValidation.Texts(request.Texts, "texts", state.Options)
            : throw ApiException.Missing("text", "a string (or 'texts', an array of strings)");
        var backend = state.Model.Backend;
        // Tokenizing is cheap and thread-safe; it does not need the model worker.
        var items = texts.Select(t => backend.Tokenize(t)).Select(t => new TokenizedItem(
            t.Tokens, t.Ids, [.. t.Offsets.Select(o => new[] { o.Start, o.End })])).ToArray();
        return Results.Json(new TokenizeResponse(backend.Model.Name, items), ServerJsonContext.Wire.TokenizeResponse);
    }

    private static IResult Health(ServerState state)
    {
        var model = state.Model;
        if (model.IsReady) return Results.Json(new HealthResponse("ready"), ServerJsonContext.Wire.HealthResponse);
        var failed = model.Loading.IsFaulted || model.Loading.IsCanceled;
        return Results.Json(failed ? new HealthResponse("failed", model.FailureMessage) : new HealthResponse("loading"),
            ServerJsonContext.Wire.HealthResponse, statusCode: StatusCodes.Status503ServiceUnavailable);
    }

    private static IResult Info(ServerState state)
    {
        var o = state.Options;
        var facts = state.Model.IsReady ? state.Model.Backend.Model : null;
        var model = facts is null ? null : new ModelInfo(facts.Name, facts.Architecture, facts.Dimensions, facts.Layers, facts.MaxTokens,
            new DefaultsInfo(facts.Defaults.Layers, EmbeddingOptions.FormatPooling(facts.Defaults.Pooling), facts.Defaults.Normalize));
        var limits = new LimitsInfo(o.MaxInputs, o.MaxInputChars, o.MaxBodyBytes, o.MaxBatchTokens, o.MaxBatchWait.TotalMilliseconds, o.MaxQueuedRequests);
        return Results.Json(new InfoResponse("KeyEmbed", ServerState.Version, model, limits, o.ApiKey is not null, Routes),
            ServerJsonContext.Wire.InfoResponse);
    }

    private static async Task MetricsText(HttpContext context, ServerState state)
    {
        context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
        await state.Metrics.WriteTextAsync(context.Response.Body, context.RequestAborted);
    }
}
