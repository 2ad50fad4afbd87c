using System.Text.Json;
using KeyEmbed.Embedding;
using KeyEmbed.Similarity;

namespace KeyEmbed.Server.Http;

/// <summary>Turns wire fields into options and checks the limits, each failure naming its field.</summary>
internal static class RequestValidation
{
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

    /// <summary>
    /// The library's embedding options from the wire fields, checked against the model (<see cref="EmbeddingOptions.Resolve"/>);
    /// a text longer than the window is handled as <c>long_text</c> says, else as the server's <paramref name="longText"/>.
    /// </summary>
    public static EmbeddingOptions Options(OptionFields fields, ModelFacts model, LongTextMode longText, bool tokenLevel = false)
    {
        if (fields.Dimensions is <= 0) throw ApiException.Invalid("dimensions", $"must be a positive number of dimensions (got {fields.Dimensions}).");
        var options = new EmbeddingOptions
        {
            Layers = Layers(fields.Layers, model),
            LayerMode = fields.LayerMode is null ? EmbeddingOptions.Default.LayerMode : FromLibrary(() => EmbeddingOptions.ParseLayerMode(fields.LayerMode)),
            Pooling = fields.Pooling is null ? null : FromLibrary(() => EmbeddingOptions.ParsePooling(fields.Pooling)),
            ExcludeSpecialTokens = fields.ExcludeSpecialTokens ?? false,
            Normalize = fields.Normalize,
            Dimensions = fields.Dimensions,
            LongText = fields.LongText is null ? longText : FromLibrary(() => EmbeddingOptions.ParseLongText(fields.LongText)),
        };
        if (options.Pooling == PoolingMode.None && !tokenLevel)
            throw ApiException.Invalid("pooling", "is 'none' (one vector per token); POST /embed/tokens returns token vectors.");
        FromLibrary(() => options.Resolve(model.Defaults, model.Layers, model.Dimensions));
        return options;
    }

    /// <summary>Keyword options from the wire fields, checked by <see cref="KeywordOptions.Validate"/>.</summary>
    public static KeywordOptions Keywords(KeywordsRequest request, ServerOptions limits)
    {
        var defaults = new KeywordOptions();
        var options = new KeywordOptions
        {
            Top = request.TopK ?? defaults.Top,
            MinNgram = request.MinNgram ?? defaults.MinNgram,
            MaxNgram = request.MaxNgram ?? Math.Max(defaults.MaxNgram, request.MinNgram ?? 1),
            Diversity = request.Diversity ?? defaults.Diversity,
            Candidates = request.Candidates is null ? null : Texts(request.Candidates, "candidates", limits),
            RemoveStopWords = request.RemoveStopWords ?? defaults.RemoveStopWords,
        };
        FromLibrary(options.Validate);
        return options;
    }

    /// <summary>Runs a library check; its <see cref="KeyEmbedException"/> becomes a 422 naming the field it concerns.</summary>
    private static T FromLibrary<T>(Func<T> check)
    {
        try
        {
            return check();
        }
        catch (KeyEmbedException e) when (e.Kind == ErrorKind.InvalidInput)
        {
            throw new ApiException(ApiErrorKind.InvalidField, e.Message, FieldOf(e.Option));
        }
    }

    private static void FromLibrary(Action check) => FromLibrary(() => { check(); return 0; });

    /// <summary>The wire field of the library option a failure names (<see cref="KeyEmbedException.Option"/>).</summary>
    private static string? FieldOf(string? option) => option switch
    {
        nameof(EmbeddingOptions.Layers) => "layers",
        nameof(EmbeddingOptions.LayerMode) => "layer_mode",
        nameof(EmbeddingOptions.Pooling) => "pooling",
        nameof(EmbeddingOptions.Dimensions) => "dimensions",
        nameof(EmbeddingOptions.ExcludeSpecialTokens) => "exclude_special_tokens",
        nameof(EmbeddingOptions.LongText) => "long_text",
        nameof(KeywordOptions.Top) => "top_k",
        nameof(KeywordOptions.MinNgram) or nameof(KeywordOptions.MaxNgram) => "max_ngram",
        nameof(KeywordOptions.Diversity) => "diversity",
        _ => null,
    };

    public static int TopK(int? value, string field, int fallback, int max)
    {
        if (value is null) return fallback;
        if (value <= 0) throw ApiException.Invalid(field, $"must be at least 1 (got {value}).");
        return Math.Min(value.Value, max);
    }

    /// <summary>
    /// The texts tokenized once (<see cref="IEmbeddingBackend.Prepare"/>) with their token counts as the model will see
    /// them: every window under <see cref="LongTextMode.Windows"/>, the first under <see cref="LongTextMode.Truncate"/>;
    /// under <see cref="LongTextMode.Error"/> a text over the model's window is refused, naming it. The queue carries the
    /// inputs to the model, so nothing is tokenized twice.
    /// </summary>
    public static (PreparedInput[] Inputs, int[] Counts) Prepare(IEmbeddingBackend backend, IReadOnlyList<string> texts, LongTextMode longText, string field)
    {
        var inputs = new PreparedInput[texts.Count];
        for (var i = 0; i < texts.Count; i++) inputs[i] = backend.Prepare(texts[i]);
        return (inputs, Counted(inputs.Length, i => inputs[i].Tokens, backend.Model.MaxTokens, longText, field));
    }

    private static int[] Counted(int count, Func<int, int> tokensOf, int max, LongTextMode longText, string field)
    {
        var counts = new int[count];
        for (var i = 0; i < count; i++)
        {
            var tokens = tokensOf(i);
            if (tokens > max && longText == LongTextMode.Error)
                throw new ApiException(ApiErrorKind.InvalidField,
                    $"'{field}[{i}]' has {tokens} tokens; the model's window is {max}. Shorten it, or set \"long_text\": \"windows\" (the whole text) or \"truncate\" (the first window).", "long_text");
            counts[i] = longText == LongTextMode.Truncate ? Math.Min(tokens, max) : tokens;
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
        else if (element.ValueKind == JsonValueKind.String)
        {
            values.AddRange(FromLibrary(() => EmbeddingOptions.ParseLayers(element.GetString()!)));
            foreach (var layer in values) CheckLayer(layer, "layers", model);
        }
        else throw ApiException.Invalid("layers", "must be an integer, an array of integers or a string like \"-4,-3,-2,-1\" (Python-style: 0 = embeddings, -1 = last layer).");
        return values;
    }

    private static int Layer(JsonElement element, string field, ModelFacts model)
    {
        if (element.ValueKind != JsonValueKind.Number || !element.TryGetInt32(out var layer))
            throw new ApiException(ApiErrorKind.InvalidField, $"'{field}' must be an integer.", "layers");
        CheckLayer(layer, field, model);
        return layer;
    }

    private static void CheckLayer(int layer, string field, ModelFacts model)
    {
        // Hidden states 0..L exist (0 is the embedding output), so Python-style indices run from -(L+1) to L.
        if (layer > model.Layers || layer < -(model.Layers + 1))
            throw new ApiException(ApiErrorKind.InvalidField,
                $"'{field}' is {layer}; this model has hidden states 0..{model.Layers} (or -{model.Layers + 1}..-1 from the end).", "layers");
    }
}
