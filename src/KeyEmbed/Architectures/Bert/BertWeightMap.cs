using System.Text.RegularExpressions;
using KeyEmbed.Checkpoints;

namespace KeyEmbed.Architectures.Bert;

/// <summary>
/// BERT's weight names as real releases spell them, kept as data. Canonical names are Hugging Face's BertModel names
/// without a prefix (<c>encoder.layer.0.attention.self.query.weight</c>), Linear weights <c>[out, in]</c>. Each may be
/// stored as itself, with the <c>bert.</c> prefix (BertForPreTraining, BertForMaskedLM), with the older
/// <c>LayerNorm.gamma/beta</c> spelling, or under Google's TensorFlow name (kernels <c>[in, out]</c>).
/// </summary>
internal sealed partial class BertWeightMap : IWeightNames
{
    public static BertWeightMap Instance { get; } = new();

    private const string LayerToken = "{n}";

    // canonical (Hugging Face) name → Google TensorFlow name; true where TF stores the transpose (Linear kernels).
    private static readonly (string Canonical, string Tensorflow, bool Transposed)[] Rows =
    [
        ("embeddings.word_embeddings.weight", "bert/embeddings/word_embeddings", false),
        ("embeddings.position_embeddings.weight", "bert/embeddings/position_embeddings", false),
        ("embeddings.token_type_embeddings.weight", "bert/embeddings/token_type_embeddings", false),
        ("embeddings.LayerNorm.weight", "bert/embeddings/LayerNorm/gamma", false),
        ("embeddings.LayerNorm.bias", "bert/embeddings/LayerNorm/beta", false),
        ("encoder.layer.{n}.attention.self.query.weight", "bert/encoder/layer_{n}/attention/self/query/kernel", true),
        ("encoder.layer.{n}.attention.self.query.bias", "bert/encoder/layer_{n}/attention/self/query/bias", false),
        ("encoder.layer.{n}.attention.self.key.weight", "bert/encoder/layer_{n}/attention/self/key/kernel", true),
        ("encoder.layer.{n}.attention.self.key.bias", "bert/encoder/layer_{n}/attention/self/key/bias", false),
        ("encoder.layer.{n}.attention.self.value.weight", "bert/encoder/layer_{n}/attention/self/value/kernel", true),
        ("encoder.layer.{n}.attention.self.value.bias", "bert/encoder/layer_{n}/attention/self/value/bias", false),
        ("encoder.layer.{n}.attention.output.dense.weight", "bert/encoder/layer_{n}/attention/output/dense/kernel", true),
        ("encoder.layer.{n}.attention.output.dense.bias", "bert/encoder/layer_{n}/attention/output/dense/bias", false),
        ("encoder.layer.{n}.attention.output.LayerNorm.weight", "bert/encoder/layer_{n}/attention/output/LayerNorm/gamma", false),
        ("encoder.layer.{n}.attention.output.LayerNorm.bias", "bert/encoder/layer_{n}/attention/output/LayerNorm/beta", false),
        ("encoder.layer.{n}.intermediate.dense.weight", "bert/encoder/layer_{n}/intermediate/dense/kernel", true),
        ("encoder.layer.{n}.intermediate.dense.bias", "bert/encoder/layer_{n}/intermediate/dense/bias", false),
        ("encoder.layer.{n}.output.dense.weight", "bert/encoder/layer_{n}/output/dense/kernel", true),
        ("encoder.layer.{n}.output.dense.bias", "bert/encoder/layer_{n}/output/dense/bias", false),
        ("encoder.layer.{n}.output.LayerNorm.weight", "bert/encoder/layer_{n}/output/LayerNorm/gamma", false),
        ("encoder.layer.{n}.output.LayerNorm.bias", "bert/encoder/layer_{n}/output/LayerNorm/beta", false),
    ];

    // Stored tensors an encoder never uses, and why (listed by inspect). First match wins: a pooler's Adam slot is a slot.
    private static readonly (Regex Pattern, string Why)[] Ignorable =
    [
        (new Regex(@"/adam_[mv]$", RegexOptions.CultureInvariant), "optimizer slot"),
        (new Regex(@"^(bert\.)?pooler\.|^bert/pooler/", RegexOptions.CultureInvariant), "pooler"),
        (new Regex(@"^cls[./]", RegexOptions.CultureInvariant), "pre-training head"),
        (new Regex(@"^global_step$", RegexOptions.CultureInvariant), "training step counter"),
        (new Regex(@"^(bert\.)?embeddings\.position_ids$", RegexOptions.CultureInvariant), "position id buffer"),
    ];

    private static readonly Dictionary<string, (string Tensorflow, bool Transposed)> ByTemplate =
        Rows.ToDictionary(r => r.Canonical, r => (r.Tensorflow, r.Transposed), StringComparer.Ordinal);

    /// <summary>The canonical names of one encoder layer's weights, relative to <c>encoder.layer.N</c>.</summary>
    public static IEnumerable<string> LayerWeightNames =>
        Rows.Where(r => r.Canonical.Contains(LayerToken, StringComparison.Ordinal))
            .Select(r => r.Canonical["encoder.layer.{n}.".Length..]);

    /// <inheritdoc />
    public IEnumerable<WeightLocation> Candidates(string canonicalName)
    {
        yield return new WeightLocation(canonicalName);
        yield return new WeightLocation("bert." + canonicalName);
        string? oldSpelling = canonicalName.EndsWith("LayerNorm.weight", StringComparison.Ordinal) ? canonicalName[..^"weight".Length] + "gamma"
            : canonicalName.EndsWith("LayerNorm.bias", StringComparison.Ordinal) ? canonicalName[..^"bias".Length] + "beta"
            : null;
        if (oldSpelling != null)
        {
            yield return new WeightLocation(oldSpelling);
            yield return new WeightLocation("bert." + oldSpelling);
        }
        if (Tensorflow(canonicalName) is { } tf) yield return tf;
    }

    /// <summary>
    /// Google's TensorFlow name of a canonical weight, under <paramref name="scope"/> instead of <c>bert</c> for
    /// families that kept BERT's variable names under their own scope (ELECTRA's <c>electra/…</c>); null when TF has no such name.
    /// </summary>
    public static WeightLocation? Tensorflow(string canonicalName, string scope = "bert")
    {
        var match = LayerNumber().Match(canonicalName);
        string template = match.Success ? LayerNumber().Replace(canonicalName, "encoder.layer.{n}.", 1) : canonicalName;
        if (!ByTemplate.TryGetValue(template, out var tf)) return null;
        string name = match.Success ? tf.Tensorflow.Replace(LayerToken, match.Groups[1].Value, StringComparison.Ordinal) : tf.Tensorflow;
        return new WeightLocation(scope + name["bert".Length..], tf.Transposed);
    }

    /// <summary>Why an unused stored tensor is expected to be unused, or null when it is unexpected.</summary>
    public static string? WhyIgnored(string storedName) =>
        Ignorable.FirstOrDefault(i => i.Pattern.IsMatch(storedName)).Why;

    /// <summary>The encoder layer a stored name belongs to (any naming), or null.</summary>
    public static int? LayerOf(string storedName)
    {
        var m = AnyLayer().Match(storedName);
        return m.Success ? int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : null;
    }

    [GeneratedRegex(@"^encoder\.layer\.(\d+)\.")]
    private static partial Regex LayerNumber();

    [GeneratedRegex(@"encoder[./]layer[._](\d+)[./]")]
    private static partial Regex AnyLayer();
}
