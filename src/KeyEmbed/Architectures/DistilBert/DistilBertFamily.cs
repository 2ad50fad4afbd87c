using System.Text.Json;
using System.Text.RegularExpressions;
using KeyEmbed.Architectures.Bert;
using KeyEmbed.Architectures.XLNet;
using KeyEmbed.Checkpoints;
using KeyEmbed.Models;

namespace KeyEmbed.Architectures.DistilBert;

/// <summary>
/// DistilBERT: BERT's post-norm layers under their own names (<c>transformer.layer.N.attention.q_lin</c>, <c>ffn.lin1</c>,
/// <c>sa_layer_norm</c>, …), config keys <c>dim</c>/<c>n_layers</c>/<c>n_heads</c>/<c>hidden_dim</c>/<c>activation</c>,
/// no token types, LayerNorm eps 1e-12. Weights alone or with <c>distilbert.</c>. No TensorFlow release.
/// </summary>
internal sealed partial class DistilBertFamily : IArchitectureFamily
{
    // Hugging Face's DistilBERT LayerNorms use a fixed eps.
    private const double LayerNormEps = 1e-12;

    // BERT's canonical layer sub-names → DistilBERT's.
    private static readonly (string Bert, string DistilBert)[] LayerNames =
    [
        ("attention.self.query.", "attention.q_lin."),
        ("attention.self.key.", "attention.k_lin."),
        ("attention.self.value.", "attention.v_lin."),
        ("attention.output.dense.", "attention.out_lin."),
        ("attention.output.LayerNorm.", "sa_layer_norm."),
        ("intermediate.dense.", "ffn.lin1."),
        ("output.dense.", "ffn.lin2."),
        ("output.LayerNorm.", "output_layer_norm."),
    ];

    private static readonly FamilyWeightNames Names = new("distilbert.", HuggingFaceName);

    public string Name => "distilbert";

    public IReadOnlyList<string> ModelTypes { get; } = ["distilbert"];

    public IReadOnlyList<TensorFlowLayout> TensorFlowLayouts => [];

    public TokenizerKind Tokenizer => TokenizerKind.WordPiece;

    public IEncoderArchitecture Open(ModelFiles files, ITensorSource weights, XLNetRunOverrides? overrides)
    {
        ArchitectureRegistry.RefuseOverrides(files, overrides);
        string path = files.ConfigPath ?? throw KeyEmbedException.Checkpoint(files.WeightsPath, "no config.json beside the DistilBERT weights; add the model's config.json");
        using var doc = BertConfig.ReadJson(path);
        var config = ReadConfig(doc.RootElement, path);
        return new BertGraph(config, weights, new BertVariant
        {
            Name = Name,
            WeightNames = Names,
            WhyIgnored = stored => Ignorable().IsMatch(stored) ? "pre-training or task head" : null,
            LayerOf = stored => LayerNumber().Match(stored) is { Success: true } m ? int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : null,
            TokenTypes = false,
        });
    }

    /// <summary>DistilBERT's config keys as a <see cref="BertConfig"/> (one token type, unused).</summary>
    public static BertConfig ReadConfig(JsonElement root, string path)
    {
        if (root.ValueKind != JsonValueKind.Object) throw KeyEmbedException.Checkpoint(path, "the config is not a JSON object");
        if (root.TryGetProperty("model_type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() != "distilbert")
            throw new KeyEmbedException(ErrorKind.UnsupportedArchitecture, $"{path}: model_type '{type.GetString()}' is not a distilbert config");
        int Int(string key)
        {
            if (root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) && i > 0) return i;
            throw KeyEmbedException.Checkpoint(path, $"'{key}' must be a positive integer{(root.TryGetProperty(key, out _) ? "" : " and is missing")}");
        }
        int dim = Int("dim"), heads = Int("n_heads");
        if (dim % heads != 0) throw KeyEmbedException.Checkpoint(path, $"dim {dim} is not a multiple of n_heads {heads}");
        string act = root.TryGetProperty("activation", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString()! : "gelu";
        return new BertConfig(Int("vocab_size"), dim, Int("n_layers"), heads, Int("hidden_dim"),
            BertConfig.ParseActivation(act, googleLayout: false, path), act, Int("max_position_embeddings"), 1, LayerNormEps, path);
    }

    private static string HuggingFaceName(string canonical)
    {
        var m = CanonicalLayer().Match(canonical);
        if (!m.Success) return canonical;
        string rest = canonical[m.Length..];
        foreach (var (bert, distil) in LayerNames)
            if (rest.StartsWith(bert, StringComparison.Ordinal))
                return $"transformer.layer.{m.Groups[1].Value}.{distil}{rest[bert.Length..]}";
        return canonical;
    }

    [GeneratedRegex(@"^encoder\.layer\.(\d+)\.")]
    private static partial Regex CanonicalLayer();

    [GeneratedRegex(@"transformer\.layer\.(\d+)\.")]
    private static partial Regex LayerNumber();

    [GeneratedRegex(@"^vocab_|^pre_classifier\.|^classifier\.|^qa_outputs\.|^(distilbert\.)?embeddings\.position_ids$")]
    private static partial Regex Ignorable();
}
