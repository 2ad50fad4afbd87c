using System.Text.Json;
using System.Text.RegularExpressions;
using KeyEmbed.Architectures.Bert;
using KeyEmbed.Architectures.XLNet;
using KeyEmbed.Checkpoints;
using KeyEmbed.Models;

namespace KeyEmbed.Architectures.Electra;

/// <summary>
/// ELECTRA's discriminator as an encoder: BERT's layers over embeddings of <c>embedding_size</c>, mapped to the hidden
/// size by <c>embeddings_project</c> when the two differ (hidden state 0 is after the projection). Hugging Face names
/// (alone or with <c>electra.</c>) and the TensorFlow names of Google's and HFL's releases (<c>electra/…</c>).
/// </summary>
internal sealed partial class ElectraFamily : IArchitectureFamily
{
    private static readonly FamilyWeightNames Names = new("electra.", canonical => canonical, TensorflowName);

    public string Name => "electra";

    public IReadOnlyList<string> ModelTypes { get; } = ["electra"];

    // HFL's Chinese ELECTRA: small_discriminator_config.json (base_…, large_…) + electra_small.index/.data-*.
    public IReadOnlyList<TensorFlowLayout> TensorFlowLayouts { get; } =
        [new("*discriminator_config.json", "electra_*", ConfigLayout.Original) { CheckpointPattern = "electra_*.index" }];

    public TokenizerKind Tokenizer => TokenizerKind.WordPiece;

    public IEncoderArchitecture Open(ModelFiles files, ITensorSource weights, XLNetRunOverrides? overrides)
    {
        ArchitectureRegistry.RefuseOverrides(files, overrides);
        string path = files.ConfigPath ?? throw KeyEmbedException.Checkpoint(files.WeightsPath, "no config beside the ELECTRA weights; add the discriminator's config.json");
        using var doc = BertConfig.ReadJson(path);
        // ELECTRA's TF code computes gelu with the tanh approximation, as BERT's.
        var config = BertConfig.Parse(doc.RootElement, path, googleLayout: files.ConfigLayout == ConfigLayout.Original, ["electra"]);
        int embedding = doc.RootElement.TryGetProperty("embedding_size", out var e) && e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int size) && size > 0
            ? size : config.HiddenSize;
        return new BertGraph(config, weights, new BertVariant
        {
            Name = Name,
            WeightNames = Names,
            WhyIgnored = stored => Ignorable().IsMatch(stored) ? "generator or discriminator head" : BertWeightMap.WhyIgnored(stored),
            LayerOf = BertWeightMap.LayerOf,
            EmbeddingSize = embedding == config.HiddenSize ? null : embedding,
            Facts = [new("embedding size", embedding.ToString(System.Globalization.CultureInfo.InvariantCulture))],
        });
    }

    private static WeightLocation? TensorflowName(string canonical) => canonical switch
    {
        "embeddings_project.weight" => new("electra/embeddings_project/kernel", Transposed: true),
        "embeddings_project.bias" => new("electra/embeddings_project/bias"),
        _ => BertWeightMap.Tensorflow(canonical, "electra"),
    };

    [GeneratedRegex(@"^(electra\.)?pooler\.|^discriminator_predictions[./]|^generator|^classifier\.|^(electra\.)?embeddings\.position_ids$")]
    private static partial Regex Ignorable();
}
