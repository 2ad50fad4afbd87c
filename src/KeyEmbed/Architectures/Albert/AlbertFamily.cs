using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using KeyEmbed.Architectures.Bert;
using KeyEmbed.Architectures.XLNet;
using KeyEmbed.Checkpoints;
using KeyEmbed.Models;

namespace KeyEmbed.Architectures.Albert;

/// <summary>
/// ALBERT: factorized embeddings (<c>embedding_size</c> E, mapped to the hidden size H by
/// <c>embedding_hidden_mapping_in</c>; hidden state 0 is after the mapping) and layers shared across
/// <c>num_hidden_groups</c> groups of <c>inner_group_num</c> layers: hidden state k (1..L) applies every layer of group
/// ⌊(k − 1) · groups / L⌋. Activation <c>gelu_new</c> by default. Hugging Face names (alone or with <c>albert.</c>) and
/// the TensorFlow names of Google's release (<c>bert/encoder/transformer/group_G/inner_group_J/…</c>). brightmart's
/// albert_zh (<c>albert_config_*.json</c> + <c>albert_model.ckpt</c>, WordPiece <c>vocab.txt</c>) is another layout, told by
/// its <c>bert/embeddings/word_embeddings_2</c>: the word embeddings alone are projected to H (no bias) before the
/// position and token type tables, which are H wide; every layer is <c>bert/encoder/layer_shared/…</c> under BERT's names.
/// </summary>
internal sealed partial class AlbertFamily : IArchitectureFamily
{
    // BERT's canonical layer sub-names → Hugging Face ALBERT's and Google's TF ALBERT's (kernel = transposed).
    private static readonly (string Bert, string HuggingFace, string Tensorflow)[] LayerNames =
    [
        ("attention.self.query.", "attention.query.", "attention_1/self/query/"),
        ("attention.self.key.", "attention.key.", "attention_1/self/key/"),
        ("attention.self.value.", "attention.value.", "attention_1/self/value/"),
        ("attention.output.dense.", "attention.dense.", "attention_1/output/dense/"),
        ("attention.output.LayerNorm.", "attention.LayerNorm.", "LayerNorm/"),
        ("intermediate.dense.", "ffn.", "ffn_1/intermediate/dense/"),
        ("output.dense.", "ffn_output.", "ffn_1/intermediate/output/dense/"),
        ("output.LayerNorm.", "full_layer_layer_norm.", "LayerNorm_1/"),
    ];

    public string Name => "albert";

    public IReadOnlyList<string> ModelTypes { get; } = ["albert"];

    // Google's release: albert_config.json + model.ckpt-best.index/.data-* (30k-clean.model beside it); brightmart's
    // albert_zh: albert_config_<size>.json + albert_model.ckpt.index/.data-* (vocab.txt beside it).
    public IReadOnlyList<TensorFlowLayout> TensorFlowLayouts { get; } =
    [
        new("albert_config.json", "model.ckpt-best", ConfigLayout.Original),
        new("albert_config_*.json", "albert_model.ckpt", ConfigLayout.Original),
    ];

    // albert_zh's projection of the word embeddings, [E, H]; no other ALBERT layout stores it.
    private const string AlbertZhProjection = "bert/embeddings/word_embeddings_2";

    public TokenizerKind Tokenizer => TokenizerKind.WordPiece;

    public IEncoderArchitecture Open(ModelFiles files, ITensorSource weights, XLNetRunOverrides? overrides)
    {
        ArchitectureRegistry.RefuseOverrides(files, overrides);
        string path = files.ConfigPath ?? throw KeyEmbedException.Checkpoint(files.WeightsPath, "no config beside the ALBERT weights; add config.json or albert_config.json");
        using var doc = BertConfig.ReadJson(path);
        var root = doc.RootElement;
        // ALBERT's TF code computes gelu with the tanh approximation; Hugging Face's default is gelu_new (also tanh).
        var config = BertConfig.Parse(root, path, googleLayout: files.ConfigLayout == ConfigLayout.Original, ["albert"]);
        if (!root.TryGetProperty("hidden_act", out _)) config = config with { Activation = BertActivation.GeluTanh, ActivationName = "gelu_new" };
        int Int(string key, int fallback)
        {
            if (!root.TryGetProperty(key, out var v)) return fallback;
            return v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) && i > 0 ? i
                : throw KeyEmbedException.Checkpoint(path, $"'{key}' must be a positive integer");
        }
        int embedding = Int("embedding_size", 128), groups = Int("num_hidden_groups", 1), inner = Int("inner_group_num", 1);
        if (groups > config.LayerCount)
            throw KeyEmbedException.Checkpoint(path, $"num_hidden_groups {groups} is more than num_hidden_layers {config.LayerCount}");
        string Text(int v) => v.ToString(CultureInfo.InvariantCulture);
        if (weights.TryGetInfo(AlbertZhProjection, out _)) return OpenAlbertZh(config, root, path, weights, embedding);
        var names = new FamilyWeightNames("albert.", c => HuggingFaceName(c, config.LayerCount, groups, inner), c => TensorflowName(c, config.LayerCount, groups, inner));
        return new BertGraph(config, weights, new BertVariant
        {
            Name = Name,
            WeightNames = names,
            WhyIgnored = stored => Ignorable().IsMatch(stored) ? "pooler or pre-training head" : BertWeightMap.WhyIgnored(stored),
            LayerOf = _ => null,
            EmbeddingSize = embedding,
            BlocksPerLayer = inner,
            Facts =
            [
                new("embedding size", Text(embedding)),
                new("layer groups", $"{Text(groups)} of {Text(inner)} shared layer{(inner == 1 ? "" : "s")}"),
            ],
        });
    }

    // brightmart's albert_zh: BERT's TF names with one shared layer, and the word-only projection.
    private BertGraph OpenAlbertZh(BertConfig config, JsonElement root, string path, ITensorSource weights, int embedding)
    {
        // Its modeling.py has no pre-LN path in this layout and shares every layer; a config saying otherwise is another model.
        if (root.TryGetProperty("ln_type", out var ln) && ln.ValueKind == JsonValueKind.String && ln.GetString() != "postln")
            throw KeyEmbedException.Checkpoint(path, $"ln_type '{ln.GetString()}': KeyEmbed runs albert_zh's post-LayerNorm layers only");
        foreach (var key in new[] { "num_hidden_groups", "inner_group_num" })
            if (root.TryGetProperty(key, out var v) && !(v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int n) && n == 1))
                throw KeyEmbedException.Checkpoint(path, $"'{key}' must be 1 for an albert_zh checkpoint (all its layers share one set of weights)");
        // brightmart's gelu is the tanh approximation whatever hidden_act says.
        config = config with { Activation = BertActivation.GeluTanh, ActivationName = "gelu_new" };
        return new BertGraph(config, weights, new BertVariant
        {
            Name = Name,
            WeightNames = new FamilyWeightNames("albert.", c => c, AlbertZhName),
            WhyIgnored = stored => Ignorable().IsMatch(stored) ? "pooler or pre-training head" : BertWeightMap.WhyIgnored(stored),
            LayerOf = _ => null,
            EmbeddingSize = embedding,
            ProjectsWordsOnly = true,
            Facts =
            [
                new("embedding size", embedding.ToString(CultureInfo.InvariantCulture)),
                new("layer groups", "1 of 1 shared layer"),
                new("layout", "albert_zh (brightmart): word embeddings projected before positions"),
            ],
        });
    }

    private static WeightLocation? AlbertZhName(string canonical)
    {
        if (canonical == "embeddings_project.weight") return new(AlbertZhProjection, Transposed: true);
        if (canonical.StartsWith("embeddings_project.", StringComparison.Ordinal)) return null;
        var m = CanonicalLayer().Match(canonical);
        // Every block reads layer 0's names, moved to the shared scope.
        if (m.Success && BertWeightMap.Tensorflow("encoder.layer.0." + canonical[m.Length..]) is { } tf)
            return tf with { StoredName = tf.StoredName.Replace("bert/encoder/layer_0/", "bert/encoder/layer_shared/", StringComparison.Ordinal) };
        return BertWeightMap.Tensorflow(canonical);
    }

    // Canonical block b (hidden state ⌊b / inner⌋ + 1) → group and inner layer.
    private static (int Group, int Inner, string Leaf, string Bert)? Block(string canonical, int layers, int groups, int inner)
    {
        var m = CanonicalLayer().Match(canonical);
        if (!m.Success) return null;
        int block = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        int layer = block / inner;
        string rest = canonical[m.Length..];
        var row = LayerNames.FirstOrDefault(r => rest.StartsWith(r.Bert, StringComparison.Ordinal));
        return row.Bert is null ? null : (layer * groups / layers, block % inner, rest[row.Bert.Length..], row.Bert);
    }

    private static string HuggingFaceName(string canonical, int layers, int groups, int inner)
    {
        if (canonical.StartsWith("embeddings_project.", StringComparison.Ordinal))
            return "encoder.embedding_hidden_mapping_in." + canonical["embeddings_project.".Length..];
        if (Block(canonical, layers, groups, inner) is not { } b) return canonical;
        string hf = LayerNames.First(r => r.Bert == b.Bert).HuggingFace;
        return $"encoder.albert_layer_groups.{b.Group}.albert_layers.{b.Inner}.{hf}{b.Leaf}";
    }

    private static WeightLocation? TensorflowName(string canonical, int layers, int groups, int inner)
    {
        static WeightLocation Leaf(string scope, string leaf) => leaf switch
        {
            "weight" when scope.EndsWith("LayerNorm/", StringComparison.Ordinal) || scope.EndsWith("LayerNorm_1/", StringComparison.Ordinal) => new(scope + "gamma"),
            "bias" when scope.EndsWith("LayerNorm/", StringComparison.Ordinal) || scope.EndsWith("LayerNorm_1/", StringComparison.Ordinal) => new(scope + "beta"),
            "weight" => new(scope + "kernel", Transposed: true),
            _ => new(scope + leaf),
        };
        if (canonical.StartsWith("embeddings_project.", StringComparison.Ordinal))
            return Leaf("bert/encoder/embedding_hidden_mapping_in/", canonical["embeddings_project.".Length..]);
        if (canonical.StartsWith("embeddings.", StringComparison.Ordinal)) return BertWeightMap.Tensorflow(canonical);
        if (Block(canonical, layers, groups, inner) is not { } b) return null;
        string tf = LayerNames.First(r => r.Bert == b.Bert).Tensorflow;
        return Leaf($"bert/encoder/transformer/group_{b.Group}/inner_group_{b.Inner}/{tf}", b.Leaf);
    }

    [GeneratedRegex(@"^encoder\.layer\.(\d+)\.")]
    private static partial Regex CanonicalLayer();

    [GeneratedRegex(@"^(albert\.)?pooler\.|^bert/pooler/|^predictions[./]|^sop_classifier\.|^cls/|^classifier\.|^(albert\.)?embeddings\.position_ids$")]
    private static partial Regex Ignorable();
}
