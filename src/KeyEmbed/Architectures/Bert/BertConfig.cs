using System.Text.Json;

namespace KeyEmbed.Architectures.Bert;

/// <summary>The feed-forward activation a BERT config names.</summary>
internal enum BertActivation
{
    /// <summary>Exact GELU, <c>0.5·x·(1 + erf(x/√2))</c>: Hugging Face's <c>gelu</c>.</summary>
    GeluErf,
    /// <summary>Tanh-approximated GELU: Hugging Face's <c>gelu_new</c> / <c>gelu_pytorch_tanh</c>, and Google's original TF <c>gelu</c>.</summary>
    GeluTanh,
    /// <summary>Rectified linear unit.</summary>
    Relu,
}

/// <summary>
/// A BERT encoder's hyper-parameters, read from a Hugging Face <c>config.json</c>, Google's <c>bert_config.json</c>
/// (same keys; its <c>gelu</c> is the tanh approximation Google's modeling.py computes), or inferred from an ONNX export.
/// </summary>
internal sealed record BertConfig(
    int VocabSize,
    int HiddenSize,
    int LayerCount,
    int HeadCount,
    int IntermediateSize,
    BertActivation Activation,
    string ActivationName,
    int MaxPositions,
    int TypeVocabSize,
    double LayerNormEps,
    string Source)
{
    /// <summary>Google's BERT code and Hugging Face both default to 1e-12.</summary>
    public const double DefaultLayerNormEps = 1e-12;

    public int HeadSize => HiddenSize / HeadCount;

    /// <summary>Reads a config file; <paramref name="googleLayout"/> marks Google's <c>bert_config.json</c>.</summary>
    public static BertConfig Load(string path, bool googleLayout) => Load(path, googleLayout, ["bert"]);

    /// <summary>Reads a BERT-family config whose <c>model_type</c>, when present, is one of <paramref name="modelTypes"/>.</summary>
    public static BertConfig Load(string path, bool googleLayout, IReadOnlyCollection<string> modelTypes)
    {
        using var doc = ReadJson(path);
        return Parse(doc.RootElement, path, googleLayout, modelTypes);
    }

    /// <summary>Reads a JSON config file, naming the file when it is absent or not JSON.</summary>
    public static JsonDocument ReadJson(string path)
    {
        if (!File.Exists(path)) throw KeyEmbedException.Checkpoint(path, "config file not found");
        try { return KeyEmbed.IO.StrictJson.Parse(File.ReadAllBytes(path)); }
        catch (JsonException e) { throw KeyEmbedException.Checkpoint(path, $"not valid JSON ({e.Message})", e); }
    }

    public static BertConfig Parse(JsonElement root, string path, bool googleLayout) => Parse(root, path, googleLayout, ["bert"]);

    public static BertConfig Parse(JsonElement root, string path, bool googleLayout, IReadOnlyCollection<string> modelTypes)
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw KeyEmbedException.Checkpoint(path, "the config is not a JSON object");
        if (root.TryGetProperty("model_type", out var type) && type.ValueKind == JsonValueKind.String && !modelTypes.Contains(type.GetString()!))
            throw new KeyEmbedException(ErrorKind.UnsupportedArchitecture, $"{path}: model_type '{type.GetString()}' is not a {string.Join(" or ", modelTypes)} config");
        if (root.TryGetProperty("position_embedding_type", out var positions) && positions.ValueKind == JsonValueKind.String
            && positions.GetString() != "absolute")
            throw new KeyEmbedException(ErrorKind.UnsupportedArchitecture,
                $"{path}: position_embedding_type '{positions.GetString()}' is not supported; KeyEmbed runs BERT with absolute position embeddings");

        int Int(string key, int? fallback = null)
        {
            if (root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) && i > 0) return i;
            if (!root.TryGetProperty(key, out _) && fallback is { } f) return f;
            throw KeyEmbedException.Checkpoint(path, $"'{key}' must be a positive integer{(root.TryGetProperty(key, out _) ? "" : " and is missing")}");
        }

        int hidden = Int("hidden_size");
        int heads = Int("num_attention_heads");
        if (hidden % heads != 0)
            throw KeyEmbedException.Checkpoint(path, $"hidden_size {hidden} is not a multiple of num_attention_heads {heads}");
        string act = root.TryGetProperty("hidden_act", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString()! : "gelu";
        double eps = DefaultLayerNormEps;
        if (root.TryGetProperty("layer_norm_eps", out var e))
        {
            if (e.ValueKind != JsonValueKind.Number || e.GetDouble() <= 0)
                throw KeyEmbedException.Checkpoint(path, "'layer_norm_eps' must be a positive number");
            eps = e.GetDouble();
        }
        return new BertConfig(
            VocabSize: Int("vocab_size"),
            HiddenSize: hidden,
            LayerCount: Int("num_hidden_layers"),
            HeadCount: heads,
            IntermediateSize: Int("intermediate_size"),
            Activation: ParseActivation(act, googleLayout, path),
            ActivationName: act,
            MaxPositions: Int("max_position_embeddings"),
            TypeVocabSize: Int("type_vocab_size", 2),
            LayerNormEps: eps,
            Source: path);
    }

    /// <summary>Maps a <c>hidden_act</c> value; Google's original TF code computes <c>gelu</c> with tanh.</summary>
    public static BertActivation ParseActivation(string name, bool googleLayout, string path) => name switch
    {
        "gelu" => googleLayout ? BertActivation.GeluTanh : BertActivation.GeluErf,
        "gelu_new" or "gelu_pytorch_tanh" or "gelu_fast" => BertActivation.GeluTanh,
        "relu" => BertActivation.Relu,
        _ => throw new KeyEmbedException(ErrorKind.UnsupportedArchitecture,
            $"{path}: hidden_act '{name}' is not supported (gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu)"),
    };
}
