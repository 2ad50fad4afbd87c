using KeyEmbed.Checkpoints;

namespace KeyEmbed.Architectures.Bert;

/// <summary>How BERT's embeddings compute position ids.</summary>
internal enum BertPositions
{
    /// <summary>0..T-1 on every row (BERT, ALBERT, ELECTRA, DistilBERT).</summary>
    Absolute,
    /// <summary>
    /// RoBERTa's <c>create_position_ids_from_input_ids</c>: real tokens count up from <c>pad_token_id + 1</c>, padding
    /// takes <c>pad_token_id</c>, decided from the input ids (a token equal to the pad id is padding).
    /// </summary>
    AfterPadding,
}

/// <summary>
/// How a member of the BERT family (RoBERTa, ALBERT, ELECTRA, DistilBERT) differs from BERT in the encoder
/// <see cref="BertGraph"/> builds: its name, weight-name map, embedding width and projection, position ids, token
/// types and layer sharing. Each family's folder supplies one; BERT itself is <see cref="Bert"/>. Weights are asked for
/// by BERT's canonical names (<c>encoder.layer.N.attention.self.query.weight</c>, plus <c>embeddings_project.*</c>
/// for the projection); the family's <see cref="WeightNames"/> says where its checkpoints store them.
/// </summary>
internal sealed record BertVariant
{
    /// <summary>BERT as Google released it.</summary>
    public static BertVariant Bert { get; } = new();

    /// <summary>The architecture's registry name.</summary>
    public string Name { get; init; } = "bert";

    /// <summary>Canonical (BERT) name → stored names.</summary>
    public IWeightNames WeightNames { get; init; } = BertWeightMap.Instance;

    /// <summary>Why an unused stored tensor is expected, or null.</summary>
    public Func<string, string?> WhyIgnored { get; init; } = BertWeightMap.WhyIgnored;

    /// <summary>The encoder layer a stored name belongs to, or null (a checkpoint with more layers than the config is refused).</summary>
    public Func<string, int?> LayerOf { get; init; } = BertWeightMap.LayerOf;

    /// <summary>Width of the embedding tables; null = the hidden size. When set, <c>embeddings_project</c> [H, E] maps the embedding LayerNorm's output to H.</summary>
    public int? EmbeddingSize { get; init; }

    /// <summary>
    /// With <see cref="EmbeddingSize"/>: only the word embeddings are projected (<c>embeddings_project.weight</c> [H, E],
    /// no bias), before the position and token type tables, which are H wide, are added and normalized (brightmart's
    /// albert_zh). Otherwise the projection follows the embedding LayerNorm.
    /// </summary>
    public bool ProjectsWordsOnly { get; init; }

    public BertPositions Positions { get; init; } = BertPositions.Absolute;

    /// <summary>The id padding takes (<see cref="BertPositions.AfterPadding"/>).</summary>
    public long PaddingId { get; init; }

    /// <summary>Whether the embeddings add a token type table (DistilBERT has none; its graph ignores <c>token_type_ids</c>).</summary>
    public bool TokenTypes { get; init; } = true;

    /// <summary>Transformer blocks applied per hidden state (ALBERT's <c>inner_group_num</c>); canonical block index = (k − 1) · this + j.</summary>
    public int BlocksPerLayer { get; init; } = 1;

    /// <summary>Bumped when this variant's part of the graph changes (added to <see cref="BertGraph.GraphVersion"/>).</summary>
    public int GraphVersion { get; init; }

    /// <summary>Facts for <c>inspect</c> beyond BERT's.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Facts { get; init; } = [];

    /// <summary>The recipe for a raw checkpoint; BERT's unless the family says otherwise.</summary>
    public KeyEmbed.Embedding.EmbeddingDefaults RawDefaults { get; init; } = KeyEmbed.Embedding.EmbeddingDefaults.RawBert;
}
