using System.Text.Json;

namespace KeyEmbed.Architectures.XLNet;

/// <summary>Which config file an <see cref="XLNetConfig"/> came from; it decides the gelu form.</summary>
internal enum XLNetConfigStyle
{
    /// <summary>Google's release <c>xlnet_config.json</c> (TensorFlow checkpoint layout).</summary>
    Original,
    /// <summary>Hugging Face's <c>config.json</c> with <c>model_type</c> <c>xlnet</c>.</summary>
    HuggingFace,
}

/// <summary>The position-wise feed-forward activation.</summary>
internal enum XLNetActivation
{
    Relu,
    /// <summary>Exact gelu, <c>0.5·x·(1 + erf(x/√2))</c> (Hugging Face <c>gelu</c>).</summary>
    GeluErf,
    /// <summary>Tanh approximation (the original XLNet code's gelu; Hugging Face <c>gelu_new</c>).</summary>
    GeluTanh,
}

/// <summary>XLNet's attention pattern: <c>bi</c> sees every position, <c>uni</c> only memory and earlier positions.</summary>
internal enum XLNetAttentionType
{
    Bi,
    Uni,
}

/// <summary>
/// How a built XLNet graph runs, beyond the weights: attention pattern, memory length, clamp of relative distances.
/// Defaults come from the config; a caller (the CLI's <c>--attn-type</c>, <c>--mem-len</c>, <c>--clamp-len</c>) may override.
/// </summary>
/// <param name="AttentionType">bi or uni.</param>
/// <param name="MemoryLength">mem_len: how many positions <c>new_mems.k</c> keeps; 0 = the graph has no <c>new_mems</c> outputs.</param>
/// <param name="ClampLength">clamp_len: relative distances are clamped to ±this; ≤ 0 = no clamp.</param>
/// <param name="SameLength">same_length (uni only): every query sees the same number of keys.</param>
/// <param name="ReuseLength">reuse_len: only the first this many positions of a layer's input go into memory; 0 = all.</param>
/// <param name="MemoryInputs">Whether the graph declares <c>mems.k</c> inputs [M, batch, d_model] (M ≥ 0, 0 allowed).</param>
internal sealed record XLNetRunSettings(
    XLNetAttentionType AttentionType,
    int MemoryLength,
    int ClampLength,
    bool SameLength = false,
    int ReuseLength = 0,
    bool MemoryInputs = false)
{
    /// <summary>"bi" / "uni" as the config and CLI spell it.</summary>
    public string AttentionTypeName => AttentionType == XLNetAttentionType.Uni ? "uni" : "bi";

    /// <summary>Parses <c>bi</c> or <c>uni</c>; anything else is an input error naming <paramref name="origin"/>.</summary>
    public static XLNetAttentionType ParseAttentionType(string? value, string origin) => value switch
    {
        "bi" => XLNetAttentionType.Bi,
        "uni" => XLNetAttentionType.Uni,
        _ => throw KeyEmbedException.Input($"{origin}: attention type '{value}' is not one of: bi, uni"),
    };

    /// <summary>Checks the settings are usable; a bad one is an input error naming the option.</summary>
    public XLNetRunSettings Validated()
    {
        if (MemoryLength < 0) throw KeyEmbedException.Input($"mem-len must be 0 (no memory) or positive, got {MemoryLength}");
        if (ReuseLength < 0) throw KeyEmbedException.Input($"reuse_len must be 0 (all) or positive, got {ReuseLength}");
        return this;
    }
}

/// <summary>
/// An XLNet model's shape and defaults, read from Google's <c>xlnet_config.json</c> (d_model, n_layer, n_head, d_head,
/// d_inner, ff_activation, untie_r, n_token) or Hugging Face's <c>config.json</c> (model_type xlnet, plus mem_len,
/// reuse_len, attn_type, bi_data, clamp_len, same_length, layer_norm_eps).
/// </summary>
internal sealed record XLNetConfig
{
    /// <summary>The original code's layer norm epsilon (tf.contrib.layers.layer_norm's default).</summary>
    public const float OriginalLayerNormEpsilon = 1e-12f;

    public required XLNetConfigStyle Style { get; init; }
    public required int DModel { get; init; }
    public required int LayerCount { get; init; }
    public required int HeadCount { get; init; }
    public required int HeadSize { get; init; }
    public required int InnerSize { get; init; }
    public required int VocabSize { get; init; }
    public required XLNetActivation Activation { get; init; }

    /// <summary>The ff_activation string as written in the file.</summary>
    public required string ActivationName { get; init; }

    /// <summary>true: r_w_bias / r_r_bias / r_s_bias belong to each layer; false: one set shared by all layers.</summary>
    public required bool UntieR { get; init; }
    public float LayerNormEpsilon { get; init; } = OriginalLayerNormEpsilon;
    public XLNetAttentionType AttentionType { get; init; } = XLNetAttentionType.Bi;
    public int MemoryLength { get; init; }
    public int ReuseLength { get; init; }
    public int ClampLength { get; init; } = -1;
    public bool SameLength { get; init; }

    /// <summary>The run settings this config implies (no memory inputs).</summary>
    public XLNetRunSettings DefaultRunSettings => new(AttentionType, MemoryLength, ClampLength, SameLength, ReuseLength);

    /// <summary>Reads a config file of either style.</summary>
    public static XLNetConfig Load(string path)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        { throw KeyEmbedException.Checkpoint(path, $"cannot read the XLNet config: {e.Message}", e); }
        return Parse(text, path);
    }

    /// <summary>Parses config JSON; <paramref name="origin"/> names the file in errors.</summary>
    public static XLNetConfig Parse(string json, string origin)
    {
        JsonDocument document;
        // StrictJson: an unpaired surrogate escape in a name would otherwise pass here and throw when the name is read.
        try { document = KeyEmbed.IO.StrictJson.Parse(System.Text.Encoding.UTF8.GetBytes(json)); }
        catch (JsonException e) { throw KeyEmbedException.Checkpoint(origin, $"the config is not valid JSON: {e.Message}", e); }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw KeyEmbedException.Checkpoint(origin, "the config must be a JSON object");
            var keys = new ConfigKeys(root, origin);
            string? modelType = keys.OptionalString("model_type");
            if (modelType is not null && modelType != "xlnet")
                throw new KeyEmbedException(ErrorKind.UnsupportedArchitecture,
                    $"{origin}: model_type is '{modelType}', not 'xlnet'; this config does not describe an XLNet model");
            var style = modelType is null ? XLNetConfigStyle.Original : XLNetConfigStyle.HuggingFace;

            int dModel = keys.PositiveInt("d_model");
            int heads = keys.PositiveInt("n_head");
            int? headSize = keys.OptionalInt("d_head");
            if (headSize is null)
            {
                // Hugging Face derives d_head from d_model when the file leaves it out; the original format always has it.
                if (style == XLNetConfigStyle.Original || dModel % heads != 0)
                    throw KeyEmbedException.Checkpoint(origin, "missing key 'd_head' (size of one attention head)");
                headSize = dModel / heads;
            }
            if (headSize <= 0) throw KeyEmbedException.Checkpoint(origin, $"key 'd_head' must be positive, got {headSize}");
            if (dModel % 2 != 0)
                throw KeyEmbedException.Checkpoint(origin, $"key 'd_model' must be even for the sinusoidal position encoding, got {dModel}");

            int vocab = style == XLNetConfigStyle.Original
                ? keys.PositiveInt("n_token")
                : keys.OptionalInt("vocab_size") ?? keys.PositiveInt("n_token");
            if (vocab <= 0) throw KeyEmbedException.Checkpoint(origin, $"key 'vocab_size' must be positive, got {vocab}");

            string activationName = keys.OptionalString("ff_activation") ?? "gelu";
            var activation = (activationName, style) switch
            {
                ("relu", _) => XLNetActivation.Relu,
                // Same rule as BERT: Google's TF code used the tanh approximation, Hugging Face's "gelu" is exact (erf).
                ("gelu", XLNetConfigStyle.Original) => XLNetActivation.GeluTanh,
                ("gelu", XLNetConfigStyle.HuggingFace) => XLNetActivation.GeluErf,
                ("gelu_new" or "gelu_pytorch_tanh", _) => XLNetActivation.GeluTanh,
                _ => throw new KeyEmbedException(ErrorKind.UnsupportedArchitecture,
                    $"{origin}: ff_activation '{activationName}' is not supported; use one of: relu, gelu, gelu_new, gelu_pytorch_tanh"),
            };

            if (keys.OptionalBool("bi_data") == true)
                throw new KeyEmbedException(ErrorKind.UnsupportedArchitecture,
                    $"{origin}: bi_data true (pre-training with forward and backward halves of a batch) is not supported for feature extraction; set it to false");

            string? attnType = keys.OptionalString("attn_type");
            return new XLNetConfig
            {
                Style = style,
                DModel = dModel,
                LayerCount = keys.PositiveInt("n_layer"),
                HeadCount = heads,
                HeadSize = headSize.Value,
                InnerSize = keys.PositiveInt("d_inner"),
                VocabSize = vocab,
                Activation = activation,
                ActivationName = activationName,
                UntieR = keys.OptionalBool("untie_r") ?? true,
                LayerNormEpsilon = (float)(keys.OptionalDouble("layer_norm_eps") ?? OriginalLayerNormEpsilon),
                AttentionType = attnType is null ? XLNetAttentionType.Bi : XLNetRunSettings.ParseAttentionType(attnType, origin + " key 'attn_type'"),
                MemoryLength = NonNegative(keys.OptionalInt("mem_len") ?? 0, "mem_len", origin),
                ReuseLength = NonNegative(keys.OptionalInt("reuse_len") ?? 0, "reuse_len", origin),
                ClampLength = keys.OptionalInt("clamp_len") ?? -1,
                SameLength = keys.OptionalBool("same_length") ?? false,
            };
        }
    }

    private static int NonNegative(int value, string key, string origin) => value >= 0
        ? value
        : throw KeyEmbedException.Checkpoint(origin, $"key '{key}' must be 0 or positive (or null), got {value}");

    /// <summary>Typed access to config keys; JSON null counts as absent, as Hugging Face writes it.</summary>
    private readonly struct ConfigKeys(JsonElement root, string origin)
    {
        private JsonElement? Find(string key) =>
            root.TryGetProperty(key, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

        public int PositiveInt(string key)
        {
            int value = OptionalInt(key) ?? throw KeyEmbedException.Checkpoint(origin, $"missing key '{key}'");
            return value > 0 ? value : throw KeyEmbedException.Checkpoint(origin, $"key '{key}' must be positive, got {value}");
        }

        public int? OptionalInt(string key)
        {
            if (Find(key) is not { } value) return null;
            if (value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int i)) return i;
            throw KeyEmbedException.Checkpoint(origin, $"key '{key}' must be an integer, got {value.GetRawText()}");
        }

        public double? OptionalDouble(string key)
        {
            if (Find(key) is not { } value) return null;
            if (value.ValueKind == JsonValueKind.Number) return value.GetDouble();
            throw KeyEmbedException.Checkpoint(origin, $"key '{key}' must be a number, got {value.GetRawText()}");
        }

        public bool? OptionalBool(string key)
        {
            if (Find(key) is not { } value) return null;
            return value.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw KeyEmbedException.Checkpoint(origin, $"key '{key}' must be true or false, got {value.GetRawText()}"),
            };
        }

        public string? OptionalString(string key)
        {
            if (Find(key) is not { } value) return null;
            return value.ValueKind == JsonValueKind.String
                ? value.GetString()
                : throw KeyEmbedException.Checkpoint(origin, $"key '{key}' must be a string, got {value.GetRawText()}");
        }
    }
}

/// <summary>
/// A caller's changes to an XLNet model's run settings (the CLI's <c>--attn-type</c>, <c>--mem-len</c>, <c>--clamp-len</c>,
/// and whether <c>mems.k</c> inputs are given); null keeps the config's value.
/// </summary>
internal sealed record XLNetRunOverrides(
    XLNetAttentionType? AttentionType = null, int? MemoryLength = null, int? ClampLength = null, bool MemoryInputs = false)
{
    /// <summary>Whether anything differs from the config.</summary>
    public bool Any => AttentionType is not null || MemoryLength is not null || ClampLength is not null || MemoryInputs;

    public XLNetRunSettings Apply(XLNetRunSettings settings) => (settings with
    {
        AttentionType = AttentionType ?? settings.AttentionType,
        MemoryLength = MemoryLength ?? settings.MemoryLength,
        ClampLength = ClampLength ?? settings.ClampLength,
        MemoryInputs = MemoryInputs,
    }).Validated();
}
