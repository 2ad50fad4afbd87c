using System.Text.Json;
using KeyEmbed.Architectures.Albert;
using KeyEmbed.Architectures.Bert;
using KeyEmbed.Architectures.DistilBert;
using KeyEmbed.Architectures.Electra;
using KeyEmbed.Architectures.Roberta;
using KeyEmbed.Architectures.XLNet;
using KeyEmbed.Checkpoints;
using KeyEmbed.Models;
using KeyEmbed.Runtime;

namespace KeyEmbed.Architectures;

/// <summary>Which tokenizer an architecture's releases ship (the files beside the weights decide when several are present).</summary>
internal enum TokenizerKind
{
    /// <summary>Google BERT's WordPiece over <c>vocab.txt</c>.</summary>
    WordPiece,
    /// <summary>XLNet's SentencePiece unigram model <c>spiece.model</c>.</summary>
    XLNetSentencePiece,
    /// <summary>XLM-RoBERTa's <c>sentencepiece.bpe.model</c> with fairseq's id table.</summary>
    XlmRobertaSentencePiece,
    /// <summary>RoBERTa's byte-level BPE (<c>vocab.json</c> + <c>merges.txt</c>).</summary>
    ByteLevelBpe,
}

/// <summary>
/// How an original TensorFlow release of an architecture lays out its folder: the config file's name and the
/// checkpoint's stem (<c>bert_config.json</c> + <c>bert_model.ckpt.index</c>/<c>.data-*</c>).
/// </summary>
/// <param name="ConfigFile">The config file's name (a file-name pattern with <c>*</c> where releases vary it).</param>
/// <param name="CheckpointStem">The checkpoint prefix's file name, preferred when the folder holds several.</param>
/// <param name="Layout">The config's key layout, handed to the architecture when it reads the config.</param>
internal sealed record TensorFlowLayout(string ConfigFile, string CheckpointStem, ConfigLayout Layout)
{
    /// <summary>Which <c>.index</c> files are checkpoints of this layout.</summary>
    public string CheckpointPattern { get; init; } = "*.ckpt*.index";
}

/// <summary>
/// One architecture family as the registry knows it: how to recognise it (<c>model_type</c> values, config keys,
/// TensorFlow release layouts), which tokenizer it expects, and how to open a located model of it as an
/// <see cref="IEncoderArchitecture"/> (config reading, weight-name map, weight checks). Everything else that differs
/// between architectures (graph, graph version, input checks, raw defaults, long-text strategy) the opened
/// <see cref="IEncoderArchitecture"/> says. Adding a family = its folder + one line in <see cref="ArchitectureRegistry.Families"/>.
/// </summary>
internal interface IArchitectureFamily
{
    /// <summary>The registry name (<see cref="ModelFiles.Architecture"/>, <see cref="IEncoderArchitecture.Name"/>).</summary>
    string Name { get; }

    /// <summary>The Hugging Face <c>model_type</c> values this family runs.</summary>
    IReadOnlyList<string> ModelTypes { get; }

    /// <summary>Original TensorFlow release layouts; empty when there is none.</summary>
    IReadOnlyList<TensorFlowLayout> TensorFlowLayouts { get; }

    /// <summary>The tokenizer its releases ship.</summary>
    TokenizerKind Tokenizer { get; }

    /// <summary>Whether a config without <c>model_type</c> is this family's by its keys (older releases).</summary>
    bool HasConfigKeys(JsonElement config) => false;

    /// <summary>Whether this family reads an ONNX export with no config beside it (config inferred from the graph).</summary>
    bool ReadsBareOnnxExports => false;

    /// <summary>Reads the config, maps and shape-checks the weights; throws a <see cref="KeyEmbedException"/> naming the file on a mismatch.</summary>
    /// <param name="files">The located model.</param>
    /// <param name="weights">Its opened weights.</param>
    /// <param name="overrides">Run-setting overrides (XLNet: attn_type, mem_len, clamp_len, memory inputs); others refuse them.</param>
    IEncoderArchitecture Open(ModelFiles files, ITensorSource weights, XLNetRunOverrides? overrides);
}

/// <summary>The architectures KeyEmbed runs, looked up by name, by <c>model_type</c> and by TensorFlow release layout.</summary>
internal static class ArchitectureRegistry
{
    /// <summary>Every family; the order is the order config keys are tried in for a config without <c>model_type</c>.</summary>
    public static IReadOnlyList<IArchitectureFamily> Families { get; } =
    [
        new XLNetFamily(),
        new BertFamily(),
        new RobertaFamily("roberta", TokenizerKind.ByteLevelBpe),
        new RobertaFamily("xlm-roberta", TokenizerKind.XlmRobertaSentencePiece),
        new AlbertFamily(),
        new ElectraFamily(),
        new DistilBertFamily(),
    ];

    /// <summary>The family registered under <paramref name="name"/>.</summary>
    public static IArchitectureFamily ByName(string name) =>
        Families.FirstOrDefault(f => f.Name == name)
        ?? throw new KeyEmbedException(ErrorKind.UnsupportedArchitecture, $"architecture '{name}' is not one KeyEmbed runs ({Supported})");

    /// <summary>The family whose releases use <paramref name="modelType"/>, or null.</summary>
    public static IArchitectureFamily? ByModelType(string modelType) =>
        Families.FirstOrDefault(f => f.ModelTypes.Contains(modelType, StringComparer.Ordinal));

    /// <summary>The family a config without <c>model_type</c> belongs to by its keys, or null.</summary>
    public static IArchitectureFamily? ByConfigKeys(JsonElement config) => Families.FirstOrDefault(f => f.HasConfigKeys(config));

    /// <summary>The family that reads an ONNX export with no config beside it.</summary>
    public static IArchitectureFamily ForBareOnnxExport() =>
        Families.SingleOrDefault(f => f.ReadsBareOnnxExports)
        ?? throw new InvalidOperationException("exactly one registered family must read bare ONNX exports");

    /// <summary>Every TensorFlow release layout with its family.</summary>
    public static IEnumerable<(IArchitectureFamily Family, TensorFlowLayout Layout)> TensorFlowLayouts =>
        Families.SelectMany(f => f.TensorFlowLayouts.Select(l => (f, l)));

    /// <summary>The supported <c>model_type</c> values, for messages.</summary>
    public static string Supported => string.Join(", ", Families.SelectMany(f => f.ModelTypes));

    /// <summary>For families without run-setting overrides: refuses them, naming the model.</summary>
    public static void RefuseOverrides(ModelFiles files, XLNetRunOverrides? overrides)
    {
        if (overrides is { Any: true })
            throw KeyEmbedException.Input(
                $"{files.Source} is a {files.Architecture} model; attention type, memory length, clamp length and mems.k inputs apply to XLNet models only");
    }
}

/// <summary>Input checks shared by architectures.</summary>
internal static class ArchitectureInputs
{
    /// <summary>Every value of input <paramref name="name"/> (when given) lies in 0..limit-1.</summary>
    public static void CheckRange(IReadOnlyDictionary<string, DenseTensor<long>> inputs, string name, int limit, string what, string origin)
    {
        if (!inputs.TryGetValue(name, out var tensor)) return;
        for (int i = 0; i < tensor.Data.Length; i++)
            if ((ulong)tensor.Data[i] >= (ulong)limit)
                throw KeyEmbedException.Input($"{origin}: {name} holds {tensor.Data[i]} at flat index {i}; {what} is 0..{limit - 1}");
    }
}
