using System.Text.Json;

namespace KeyEmbed.Server.Http;

/// <summary>Turns wire fields into options and checks the limits, each failure naming its field.</summary>
internal static class RequestValidation
{
    private static readonly string PoolingNames = string.Join(", ", Enum.GetNames<EmbedPooling>().Select(n => n.ToLowerInvariant()));
    private static readonly string LayerModeNames = string.Join(", ", Enum.GetNames<EmbedLayerMode>().Select(n => n.ToLowerInvariant()));

    /// <summary>A non-empty list of strings within the count and length limits.</summary>
    public static IReadOnlyList<string> Texts(List<string?>? texts, string field, ServerOptions limits)
    {
        if (texts is null) throw ApiException.Missing(field, "an array of strings");
        if (texts.Count == 0) throw ApiException.Invalid(field, "must contain at least one string.");
        if (texts.Count > limits.MaxInputs)
            throw ApiException.Invalid(field, $"has {texts.Count} items; the limit is {limits.MaxInputs} per request (--max-inputs).");
        var result = new string[texts.Count];
        for (var i = 0; i < texts.Count; i++)
            result[i] = Text(texts[i], $"{field}[{i}]", limits, field);
        return result;
    }

    /// <summary>One string within the length limit.</summary>
    public static string Text(string? text, string field, ServerOptions limits, string? param = null)
    {
        if (text is null) throw new ApiException(ApiErrorKind.MissingField, $"'{field}' is required: a string.", param ?? field);
        if (text.Length > limits.MaxInputChars)
            throw new ApiException(ApiErrorKind.InvalidField,
                $"'{field}' has {text.Length} characters; the limit is {limits.MaxInputChars} (--max-input-chars).", param ?? field);
        return text;
    }

    public static EmbedRequestOptions Options(OptionFields fields, ModelFacts model)
    {
        var dimensions = fields.Dimensions;
        if (dimensions is <= 0) throw ApiException.Invalid("dimensions", $"must be a positive number of dimensions (got {dimensions}).");
        return new EmbedRequestOptions
        {
            Layers = Layers(fields.Layers, model),
            LayerMode = fields.LayerMode is null ? EmbedLayerMode.Mean : ParseEnum<EmbedLayerMode>(fields.LayerMode, "layer_mode", LayerModeNames),
            Pooling = fields.Pooling is null ? null : ParseEnum<EmbedPooling>(fields.Pooling, "pooling", PoolingNames),
            Normalize = fields.Normalize ?? true,
            Dimensions = dimensions,
            Truncate = fields.Truncate ?? true,
        };
    }

    public static int TopK(int? value, string field, int fallback, int max)
    {
        if (value is null) return fallback;
        if (value <= 0) throw ApiException.Invalid(field, $"must be at least 1 (got {value}).");
        return Math.Min(value.Value, max);
    }

    /// <summary>Token counts of the texts; with truncation off, a text over the model's limit is refused.</summary>
    public static int[] CountTokens(IEmbeddingBackend backend, IReadOnlyList<string> texts, bool truncate, string field)
    {
        var max = backend.Model.MaxTokens;
        var counts = new int[texts.Count];
        for (var i = 0; i < texts.Count; i++)
        {
            var count = backend.CountTokens(texts[i]);
            if (count > max && !truncate)
                throw new ApiException(ApiErrorKind.InvalidField,
                    $"'{field}[{i}]' has {count} tokens; the model takes at most {max}. Shorten it or set \"truncate\": true.", field);
            counts[i] = Math.Min(count, max);
        }
        return counts;
    }

    private static IReadOnlyList<int>? Layers(JsonElement? layers, ModelFacts model)
    {
        if (layers is not { } element || element.ValueKind == JsonValueKind.Null) return null;
        var values = new List<int>();
        if (element.ValueKind == JsonValueKind.Number) values.Add(Layer(element, "layers", model));
        else if (element.ValueKind == JsonValueKind.Array)
        {
            var i = 0;
            foreach (var item in element.EnumerateArray()) values.Add(Layer(item, $"layers[{i++}]", model));
            if (values.Count == 0) throw ApiException.Invalid("layers", "must name at least one layer.");
        }
        else throw ApiException.Invalid("layers", "must be an integer or an array of integers (Python-style: 0 = embeddings, -1 = last layer).");
        return values;
    }

    private static int Layer(JsonElement element, string field, ModelFacts model)
    {
        if (element.ValueKind != JsonValueKind.Number || !element.TryGetInt32(out var layer))
            throw new ApiException(ApiErrorKind.InvalidField, $"'{field}' must be an integer.", "layers");
        // Hidden states 0..L exist (0 is the embedding output), so Python-style indices run from -(L+1) to L.
        if (layer > model.Layers || layer < -(model.Layers + 1))
            throw new ApiException(ApiErrorKind.InvalidField,
                $"'{field}' is {layer}; this model has hidden states 0..{model.Layers} (or -{model.Layers + 1}..-1 from the end).", "layers");
        return layer;
    }

    private static T ParseEnum<T>(string value, string field, string allowed) where T : struct, Enum =>
        Enum.TryParse<T>(value, ignoreCase: true, out var parsed) && Enum.IsDefined(parsed) && !value.Any(char.IsDigit)
            ? parsed
            : throw ApiException.Invalid(field, $"is '{value}'; use one of: {allowed}.");
}
