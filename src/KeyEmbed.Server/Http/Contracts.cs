using System.Text.Json;
using System.Text.Json.Serialization;

namespace KeyEmbed.Server.Http;

// Wire types of the HTTP API (snake_case on the wire, see ServerJsonContext). Option values arrive as strings and
// JSON elements so that a wrong value gets a message naming the field and the allowed values.

/// <summary>KeyEmbed's embedding options, shared by the native routes.</summary>
internal class OptionFields
{
    /// <summary>An int or an array of ints, Python-style.</summary>
    public JsonElement? Layers { get; set; }
    public string? LayerMode { get; set; }
    public string? Pooling { get; set; }
    public bool? Normalize { get; set; }
    public int? Dimensions { get; set; }
    public bool? ExcludeSpecialTokens { get; set; }
    /// <summary><c>windows</c>, <c>truncate</c> or <c>error</c>; null = the server's <c>--long-text</c>.</summary>
    public string? LongText { get; set; }
}

internal sealed class OpenAiEmbeddingsRequest
{
    /// <summary>A string or an array of strings (token arrays are refused with a clear message).</summary>
    public JsonElement? Input { get; set; }
    public string? Model { get; set; }
    public string? EncodingFormat { get; set; }
    public int? Dimensions { get; set; }
    public string? User { get; set; }
}

internal sealed record OpenAiEmbedding<T>(string Object, int Index, T Embedding);

internal sealed record OpenAiUsage(int PromptTokens, int TotalTokens);

internal sealed record OpenAiEmbeddingsResponse<T>(string Object, IReadOnlyList<OpenAiEmbedding<T>> Data, string Model, OpenAiUsage Usage);

internal sealed record ErrorBody(string Message, string Type, string? Param, string Code);

internal sealed record ErrorResponse(ErrorBody Error);

internal sealed class EmbedRequest : OptionFields
{
    public List<string?>? Texts { get; set; }
}

internal sealed record EmbedResponse(string Model, int Dimensions, float[][] Embeddings, int[] Tokens, string? Warning = null);

internal sealed class EmbedTokensRequest : OptionFields
{
    public string? Text { get; set; }
}

internal sealed record TokenVector(string Token, int Id, int Start, int End, float[] Embedding);

internal sealed record EmbedTokensResponse(string Model, int Dimensions, IReadOnlyList<TokenVector> Tokens);

internal sealed class SimilarityRequest : OptionFields
{
    public List<string?>? Texts { get; set; }
    public string? Query { get; set; }
    public List<string?>? Candidates { get; set; }
    public int? TopK { get; set; }
}

internal sealed record RankedText(int Index, string Text, float Score);

/// <summary>Matrix mode fills texts/matrix/to_set/mean_pairwise/neighbours; query mode fills query/results.</summary>
internal sealed record SimilarityResponse(
    string Model,
    IReadOnlyList<string>? Texts = null,
    float[][]? Matrix = null,
    float[]? ToSet = null,
    float[]? MeanPairwise = null,
    IReadOnlyList<IReadOnlyList<RankedText>>? Neighbours = null,
    string? Query = null,
    IReadOnlyList<RankedText>? Results = null,
    string? Warning = null);

internal sealed class KeywordsRequest : OptionFields
{
    public string? Document { get; set; }
    public int? TopK { get; set; }
    public int? MinNgram { get; set; }
    public int? MaxNgram { get; set; }
    public double? Diversity { get; set; }
    public List<string?>? Candidates { get; set; }
    public bool? RemoveStopWords { get; set; }
}

internal sealed record KeywordItem(string Keyword, float Score);

internal sealed record KeywordsResponse(string Model, IReadOnlyList<KeywordItem> Keywords, string? Warning = null);

internal sealed class TokenizeRequest
{
    public string? Text { get; set; }
    public List<string?>? Texts { get; set; }
}

internal sealed record TokenizedItem(IReadOnlyList<string> Tokens, IReadOnlyList<int> Ids, int[][] Offsets);

internal sealed record TokenizeResponse(string Model, IReadOnlyList<TokenizedItem> Results);

internal sealed record HealthResponse(string Status, string? Message = null);

internal sealed record ModelInfo(string Name, string Architecture, int Dimensions, int Layers, int MaxTokens, DefaultsInfo Defaults);

internal sealed record DefaultsInfo(IReadOnlyList<int> Layers, string Pooling, bool Normalize);

internal sealed record LimitsInfo(int MaxInputs, int MaxInputChars, long MaxBodyBytes, int MaxBatchTokens, double MaxBatchWaitMs, int MaxQueuedRequests);

internal sealed record InfoResponse(string Name, string Version, ModelInfo? Model, LimitsInfo Limits, bool AuthRequired, IReadOnlyList<string> Routes);

/// <summary>Source-generated (reflection-free) serialization of every wire type.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(OpenAiEmbeddingsRequest))]
[JsonSerializable(typeof(OpenAiEmbeddingsResponse<float[]>))]
[JsonSerializable(typeof(OpenAiEmbeddingsResponse<string>))]
[JsonSerializable(typeof(ErrorResponse))]
[JsonSerializable(typeof(EmbedRequest))]
[JsonSerializable(typeof(EmbedResponse))]
[JsonSerializable(typeof(EmbedTokensRequest))]
[JsonSerializable(typeof(EmbedTokensResponse))]
[JsonSerializable(typeof(SimilarityRequest))]
[JsonSerializable(typeof(SimilarityResponse))]
[JsonSerializable(typeof(KeywordsRequest))]
[JsonSerializable(typeof(KeywordsResponse))]
[JsonSerializable(typeof(TokenizeRequest))]
[JsonSerializable(typeof(TokenizeResponse))]
[JsonSerializable(typeof(HealthResponse))]
[JsonSerializable(typeof(InfoResponse))]
internal sealed partial class ServerJsonContext : JsonSerializerContext
{
    /// <summary>What every route reads and writes with: <see cref="Default"/>'s settings, with Chinese text and
    /// apostrophes written as they are (the bodies are application/json, never embedded in HTML).</summary>
    public static ServerJsonContext Wire { get; } = new(WireJson.Options());
}

/// <summary>The settings of the source-generated contexts, plus a relaxed encoder for output.</summary>
internal static class WireJson
{
    public static JsonSerializerOptions Options() => new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
}
