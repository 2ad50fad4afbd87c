using System.Text.Json;
using KeyEmbed.Architectures;
using KeyEmbed.Models;

namespace KeyEmbed.Tokenization;

/// <summary>
/// Finds the tokenizer file for a path (a <c>vocab.txt</c>, a <c>spiece.model</c>, a folder holding one, or a built-in
/// model name) and the settings that go with it (<c>tokenizer_config.json</c>, the folder's cased/uncased name).
/// </summary>
internal static class TokenizerFiles
{
    public const string VocabularyFile = "vocab.txt";
    public const string SentencePieceFile = "spiece.model";
    public const string ConfigFile = "tokenizer_config.json";

    public static TextEncoder Load(string path, bool? lowercase)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (Directory.Exists(path))
        {
            string vocabulary = Path.Combine(path, VocabularyFile);
            if (File.Exists(vocabulary)) return LoadVocabulary(vocabulary, lowercase);
            string sentencePiece = Path.Combine(path, SentencePieceFile);
            if (File.Exists(sentencePiece)) return LoadSentencePiece(sentencePiece, lowercase);
            string xlmr = Path.Combine(path, XlmRobertaSentencePiece.FileName);
            if (File.Exists(xlmr)) return LoadSentencePiece(xlmr, lowercase);
            if (BpePair(path) is { } bpe) return LoadByteLevelBpe(bpe.Vocabulary, bpe.Merges);
            throw KeyEmbedException.Input($"folder '{path}' has neither {VocabularyFile} (BERT) nor {SentencePieceFile} (XLNet) nor {XlmRobertaSentencePiece.FileName} (XLM-R) nor {RobertaByteLevelBpe.VocabularyFile} + {RobertaByteLevelBpe.MergesFile} (RoBERTa); point at the model folder or the tokenizer file itself");
        }
        if (File.Exists(path))
        {
            if (path.EndsWith(".model", StringComparison.OrdinalIgnoreCase)) return LoadSentencePiece(path, lowercase);
            string name = Path.GetFileName(path);
            if (name is RobertaByteLevelBpe.VocabularyFile or RobertaByteLevelBpe.MergesFile)
            {
                string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
                return BpePair(folder) is { } bpe ? LoadByteLevelBpe(bpe.Vocabulary, bpe.Merges)
                    : throw KeyEmbedException.Input($"tokenizer '{path}': a byte-level BPE tokenizer needs both {RobertaByteLevelBpe.VocabularyFile} and {RobertaByteLevelBpe.MergesFile} in one folder");
            }
            return LoadVocabulary(path, lowercase);
        }
        if (BuiltInModels.IsBuiltIn(path))
            return TextEncoder.FromWordPieceVocabulary(BuiltInModels.ReadMiniLmResource(BuiltInModels.MiniLmVocabResource),
                lowercase ?? true, TextEncoder.DefaultMaxLength, source: $"built-in model '{BuiltInModels.Default}' vocab.txt");
        throw KeyEmbedException.Input($"tokenizer '{path}' not found: give a vocab.txt, a spiece.model, a vocab.json (+ merges.txt), a folder with one of them, or a built-in name ({string.Join(", ", BuiltInModels.Names)})");
    }

    /// <summary>
    /// The tokenizer of a located model (<see cref="ModelLocator"/>): the built-in vocabulary, the folder's
    /// <c>vocab.txt</c> or its <c>spiece.model</c>, with the same defaults as <see cref="Load"/>.
    /// </summary>
    public static TextEncoder ForModel(ModelFiles files, bool? lowercase)
    {
        if (files.BuiltInName is not null)
            return TextEncoder.FromWordPieceVocabulary(files.ReadVocab()!, lowercase ?? true, TextEncoder.DefaultMaxLength,
                source: $"built-in model '{files.BuiltInName}' vocab.txt");
        // The architecture's own tokenizer first when the folder holds more than one tokenizer file.
        var kind = ArchitectureRegistry.ByName(files.Architecture).Tokenizer;
        bool sentencePieceFirst = kind is TokenizerKind.XLNetSentencePiece or TokenizerKind.XlmRobertaSentencePiece;
        bool bpe = files.BpeVocabPath is not null && files.BpeMergesPath is not null;
        if (kind == TokenizerKind.ByteLevelBpe && bpe) return LoadByteLevelBpe(files.BpeVocabPath!, files.BpeMergesPath!);
        if (sentencePieceFirst && files.SentencePiecePath is not null) return LoadSentencePiece(files.SentencePiecePath, lowercase);
        if (files.VocabPath is not null) return LoadVocabulary(files.VocabPath, lowercase);
        if (files.SentencePiecePath is not null) return LoadSentencePiece(files.SentencePiecePath, lowercase);
        if (bpe) return LoadByteLevelBpe(files.BpeVocabPath!, files.BpeMergesPath!);
        throw KeyEmbedException.Input($"model '{files.Source}' has no {VocabularyFile} (BERT), {SentencePieceFile} (XLNet) or {RobertaByteLevelBpe.VocabularyFile} + {RobertaByteLevelBpe.MergesFile} (RoBERTa) beside its weights; copy the tokenizer files of the same checkpoint into the model folder");
    }

    private static TextEncoder LoadVocabulary(string file, bool? lowercase)
    {
        var config = ReadConfig(file);
        bool lower = lowercase ?? config.Lowercase ?? !IsCasedReleaseName(Path.GetDirectoryName(Path.GetFullPath(file)));
        return TextEncoder.FromWordPieceVocabulary(ReadAll(file), lower, config.MaxLength ?? TextEncoder.DefaultMaxLength, file);
    }

    private static TextEncoder LoadSentencePiece(string file, bool? lowercase)
    {
        var config = ReadConfig(file);
        // XLM-R's file name, or a tokenizer config naming XLM-R's tokenizer (BERT-architecture multilingual models).
        if (Path.GetFileName(file) == XlmRobertaSentencePiece.FileName || config.TokenizerClass is "XLMRobertaTokenizer" or "XLMRobertaTokenizerFast")
            return new XlmRobertaSentencePiece(ReadAll(file), config.MaxLength ?? TextEncoder.DefaultMaxLength, file);
        return TextEncoder.FromSentencePieceModel(ReadAll(file), lowercase ?? config.Lowercase ?? false, config.KeepAccents ?? false,
            config.MaxLength ?? TextEncoder.DefaultMaxLength, file);
    }

    private static (string Vocabulary, string Merges)? BpePair(string folder)
    {
        string vocabulary = Path.Combine(folder, RobertaByteLevelBpe.VocabularyFile), merges = Path.Combine(folder, RobertaByteLevelBpe.MergesFile);
        return File.Exists(vocabulary) && File.Exists(merges) ? (vocabulary, merges) : null;
    }

    // Byte-level BPE is case- and accent-preserving by construction: lowercase does not apply.
    private static TextEncoder LoadByteLevelBpe(string vocabulary, string merges) =>
        RobertaByteLevelBpe.Load(vocabulary, merges, ReadConfig(vocabulary).MaxLength ?? TextEncoder.DefaultMaxLength);

    /// <summary>
    /// Google's cased releases are named <c>cased_L-12_H-768_A-12</c>, <c>multi_cased_…</c>, <c>wwm_cased_…</c>;
    /// Hugging Face's <c>bert-base-cased</c>. A name with "cased" but not "uncased" is cased.
    /// </summary>
    public static bool IsCasedReleaseName(string? folder)
    {
        if (string.IsNullOrEmpty(folder)) return false;
        string name = Path.GetFileName(folder.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar));
        return name.Contains("cased", StringComparison.OrdinalIgnoreCase) && !name.Contains("uncased", StringComparison.OrdinalIgnoreCase);
    }

    private static byte[] ReadAll(string file)
    {
        try
        {
            return File.ReadAllBytes(file);
        }
        catch (IOException e)
        {
            throw KeyEmbedException.Checkpoint(file, $"cannot be read ({e.Message})");
        }
        catch (UnauthorizedAccessException e)
        {
            throw KeyEmbedException.Checkpoint(file, $"cannot be read ({e.Message})");
        }
    }

    internal sealed record TokenizerConfig(bool? Lowercase, bool? KeepAccents, int? MaxLength, string? TokenizerClass = null);

    /// <summary>Reads <c>do_lower_case</c>, <c>keep_accents</c> and <c>model_max_length</c> from a tokenizer_config.json beside the file.</summary>
    internal static TokenizerConfig ReadConfig(string tokenizerFile)
    {
        string config = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(tokenizerFile)) ?? ".", ConfigFile);
        if (!File.Exists(config)) return new TokenizerConfig(null, null, null);
        try
        {
            using var document = KeyEmbed.IO.StrictJson.Parse(File.ReadAllBytes(config));
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw KeyEmbedException.Checkpoint(config, "is not a JSON object");
            bool? lower = Bool(root, "do_lower_case", config);
            bool? keepAccents = Bool(root, "keep_accents", config);
            int? maxLength = null;
            // Hugging Face writes a huge sentinel (1e30) when there is no limit; only a real limit is taken.
            if (root.TryGetProperty("model_max_length", out var max) && max.ValueKind == JsonValueKind.Number
                && max.TryGetDouble(out double value) && value >= 4 && value <= 1_000_000)
                maxLength = (int)value;
            string? tokenizerClass = root.TryGetProperty("tokenizer_class", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
            return new TokenizerConfig(lower, keepAccents, maxLength, tokenizerClass);
        }
        catch (JsonException e)
        {
            throw KeyEmbedException.Checkpoint(config, $"is not valid JSON ({e.Message})");
        }
    }

    private static bool? Bool(JsonElement root, string key, string file)
    {
        if (!root.TryGetProperty(key, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw KeyEmbedException.Checkpoint(file, $"'{key}' must be true or false, not {value.GetRawText()}"),
        };
    }
}
