using System.Text.Json;
using System.Text.RegularExpressions;
using KeyEmbed.Architectures.Bert;
using KeyEmbed.Architectures.XLNet;
using KeyEmbed.Checkpoints;
using KeyEmbed.Models;

namespace KeyEmbed.Architectures.Roberta;

/// <summary>
/// RoBERTa and XLM-RoBERTa (one architecture, two registry entries for their two tokenizers): BERT's layers with
/// position ids that start after <c>pad_token_id</c> (padding takes <c>pad_token_id</c>, decided from the input ids),
/// one token type, LayerNorm eps from the config (1e-5). Weights under BERT's names, alone or with <c>roberta.</c>.
/// </summary>
internal sealed partial class RobertaFamily(string name, TokenizerKind tokenizer) : IArchitectureFamily
{
    /// <summary>Hugging Face's RoBERTa default <c>pad_token_id</c>.</summary>
    public const int DefaultPaddingId = 1;

    private static readonly FamilyWeightNames Names = new("roberta.", canonical => canonical);

    public string Name => name;

    public IReadOnlyList<string> ModelTypes { get; } = [name];

    public IReadOnlyList<TensorFlowLayout> TensorFlowLayouts => [];

    public TokenizerKind Tokenizer => tokenizer;

    public IEncoderArchitecture Open(ModelFiles files, ITensorSource weights, XLNetRunOverrides? overrides)
    {
        ArchitectureRegistry.RefuseOverrides(files, overrides);
        string path = files.ConfigPath ?? throw KeyEmbedException.Checkpoint(files.WeightsPath, $"no config.json beside the {name} weights; add the model's config.json");
        using var doc = BertConfig.ReadJson(path);
        var config = BertConfig.Parse(doc.RootElement, path, googleLayout: false, [name]);
        int pad = doc.RootElement.TryGetProperty("pad_token_id", out var p) && p.ValueKind == JsonValueKind.Number ? p.GetInt32() : DefaultPaddingId;
        if (pad < 0 || pad + 2 > config.MaxPositions)
            throw KeyEmbedException.Checkpoint(path, $"pad_token_id {pad} leaves no position for a token among max_position_embeddings {config.MaxPositions}");
        return new BertGraph(config, weights, new BertVariant
        {
            Name = name,
            WeightNames = Names,
            WhyIgnored = stored => Ignorable().IsMatch(stored) ? "pooler or task head" : BertWeightMap.WhyIgnored(stored),
            LayerOf = BertWeightMap.LayerOf,
            Positions = BertPositions.AfterPadding,
            PaddingId = pad,
            Facts = [new("padding id", pad.ToString(System.Globalization.CultureInfo.InvariantCulture))],
        });
    }

    [GeneratedRegex(@"^(roberta\.)?pooler\.|^lm_head\.|^classifier\.|^(roberta\.)?embeddings\.position_ids$")]
    private static partial Regex Ignorable();
}
