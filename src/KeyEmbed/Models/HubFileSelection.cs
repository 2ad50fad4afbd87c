using System.IO.Enumeration;
using KeyEmbed.Architectures;

namespace KeyEmbed.Models;

/// <summary>
/// Which files of a Hugging Face repository <c>keyembed pull</c> fetches: the ones <see cref="ModelLocator"/>,
/// <c>TokenizerFiles</c> and the sentence-transformers defaults read, and exactly one set of weights (a folder with two
/// is ambiguous to <see cref="ModelLocator"/>): <c>model.safetensors</c>, else its sharded index (+ the shards it
/// names), else <c>pytorch_model.bin</c>, else its sharded index, else <c>model.onnx</c>, else a TensorFlow release
/// layout of a registered architecture (config + <c>*.ckpt.index</c> + <c>.data-*</c>). Everything else in the
/// repository (other formats' weights, README, training files) is left on the Hub.
/// </summary>
public static class HubFileSelection
{
    /// <summary>Config, tokenizer and sentence-transformers files, fetched when the repository has them.</summary>
    public static readonly IReadOnlyList<string> SideFiles =
    [
        "config.json",
        "vocab.txt", "vocab.json", "merges.txt", "spiece.model", XlmRobertaSentencePieceName,
        "tokenizer_config.json", "special_tokens_map.json",
        "modules.json", "1_Pooling/config.json", "sentence_bert_config.json",
    ];

    /// <summary>The vocabulary files a tokenizer is built from; a model without one of them needs <c>--tokenizer</c> or cannot run.</summary>
    public static readonly IReadOnlyList<string> VocabularyFiles = ["vocab.txt", "vocab.json", "spiece.model", XlmRobertaSentencePieceName];

    private const string XlmRobertaSentencePieceName = Tokenization.XlmRobertaSentencePiece.FileName;

    /// <summary>Single-file and sharded Hugging Face weights, in order of preference (safetensors first).</summary>
    public static readonly IReadOnlyList<string> WeightFiles =
    [
        "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json", "model.onnx",
    ];

    /// <summary>The files to fetch from a repository listing <paramref name="files"/> (paths relative to its root).</summary>
    /// <exception cref="KeyEmbedException">No weights KeyEmbed reads (<see cref="ErrorKind.UnsupportedArchitecture"/>).</exception>
    public static IReadOnlyList<string> Select(string repo, IReadOnlyCollection<string> files)
    {
        var present = new HashSet<string>(files, StringComparer.Ordinal);
        var chosen = SideFiles.Where(present.Contains).ToList();
        if (WeightFiles.FirstOrDefault(present.Contains) is { } weights)
        {
            chosen.Add(weights);
            return chosen;
        }
        var root = files.Where(f => !f.Contains('/')).Order(StringComparer.Ordinal).ToList();
        foreach (var (_, layout) in ArchitectureRegistry.TensorFlowLayouts)
        {
            var config = root.FirstOrDefault(f => FileSystemName.MatchesSimpleExpression(layout.ConfigFile, f));
            if (config is null) continue;
            var indexes = root.Where(f => FileSystemName.MatchesSimpleExpression(layout.CheckpointPattern, f)).ToList();
            if (indexes.Count == 0) continue;
            string index = indexes.FirstOrDefault(f => f == layout.CheckpointStem + ".index") ?? indexes[0];
            string stem = index[..^".index".Length];
            if (!chosen.Contains(config)) chosen.Add(config);
            chosen.Add(index);
            chosen.AddRange(root.Where(f => f.StartsWith(stem + ".data-", StringComparison.Ordinal)));
            return chosen;
        }
        throw new KeyEmbedException(ErrorKind.UnsupportedArchitecture,
            $"{repo} has no weights KeyEmbed reads (looked for {string.Join(", ", WeightFiles)} or a TensorFlow checkpoint); " +
            $"it has: {Listing(files)}");
    }

    private static string Listing(IReadOnlyCollection<string> files)
    {
        var names = files.Order(StringComparer.Ordinal).Take(20).ToList();
        if (names.Count == 0) return "no files";
        return string.Join(", ", names) + (files.Count > names.Count ? $", … ({files.Count} files)" : "");
    }
}
