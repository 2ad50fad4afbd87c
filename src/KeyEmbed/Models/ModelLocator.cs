using KeyEmbed.Architectures;
using KeyEmbed.Checkpoints;
using System.Text.Json;

namespace KeyEmbed.Models;

/// <summary>
/// Resolves a <c>--model</c> value: a built-in name (<c>minilm</c>, the default), an <c>.onnx</c> file, or a folder whose
/// files say the format: <c>config.json</c> + <c>model.safetensors</c> or <c>pytorch_model.bin</c> (Hugging Face);
/// <c>bert_config.json</c> + <c>bert_model.ckpt.*</c> (Google BERT); <c>xlnet_config.json</c> + <c>xlnet_model.ckpt.*</c>
/// (Google XLNet); <c>model.onnx</c> (an ONNX export, <c>config.json</c> optional).
/// </summary>
internal static class ModelLocator
{
    private const string Expected =
        "config.json + model.safetensors or pytorch_model.bin, or their sharded .index.json (Hugging Face); bert_config.json + bert_model.ckpt.index/.data-* (Google BERT); " +
        "xlnet_config.json + xlnet_model.ckpt.index/.data-* (Google XLNet); model.onnx (+ vocab.txt)";

    public static ModelFiles Locate(string? model)
    {
        if (string.IsNullOrWhiteSpace(model)) return BuiltIn(BuiltInModels.Default);
        if (System.IO.Directory.Exists(model)) return FromDirectory(Path.GetFullPath(model), model);
        if (File.Exists(model))
        {
            if (model.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase)) return FromOnnxFile(Path.GetFullPath(model), model);
            throw KeyEmbedException.Input(
                $"model '{model}' is a file but not an .onnx file; pass the folder that holds the checkpoint instead (it should contain {Expected})");
        }
        if (BuiltInModels.IsBuiltIn(model)) return BuiltIn(model.ToLowerInvariant());
        // ORG/NAME[@revision]: a Hugging Face name, looked up offline in the local Hugging Face cache.
        if (HuggingFaceCache.ParseRepoId(model) is not null)
            return FromDirectory(HuggingFaceCache.Resolve(model, Environment.GetEnvironmentVariable), model);
        throw KeyEmbedException.Input(
            $"model '{model}': no such folder or file, and not a built-in model ({string.Join(", ", BuiltInModels.Names)}); pass a model folder, an .onnx file or a built-in name");
    }

    private static ModelFiles BuiltIn(string name) => new()
    {
        Source = name,
        Architecture = BuiltInModels.MiniLmArchitecture,
        Format = CheckpointFormat.Onnx,
        WeightsPath = BuiltInModels.MiniLmAssemblyPath,
        WeightFiles = [BuiltInModels.MiniLmAssemblyPath],
        BuiltInName = name,
    };

    private static ModelFiles FromDirectory(string directory, string source)
    {
        string? Existing(string name) { var p = Path.Combine(directory, name); return File.Exists(p) ? p : null; }
        var candidates = new List<ModelFiles>();

        var config = Existing("config.json");
        var safetensors = Existing("model.safetensors");
        var pytorch = Existing("pytorch_model.bin");
        if (config != null && (safetensors ?? pytorch) is { } hfWeights)
        {
            candidates.Add(WithSideFiles(directory, new ModelFiles
            {
                Source = source,
                Architecture = ArchitectureOf(config),
                Format = safetensors != null ? CheckpointFormat.Safetensors : CheckpointFormat.PyTorch,
                WeightsPath = hfWeights,
                WeightFiles = [hfWeights],
                ConfigPath = config,
                ConfigLayout = ConfigLayout.HuggingFace,
            }));
        }
        else if (config != null && (Existing("model.safetensors.index.json") ?? Existing("pytorch_model.bin.index.json")) is { } index)
        {
            // Sharded: the index names the shard files; their bytes are the weights (hashed for the graph cache).
            bool isSafetensors = index.EndsWith("model.safetensors.index.json", StringComparison.Ordinal);
            candidates.Add(WithSideFiles(directory, new ModelFiles
            {
                Source = source,
                Architecture = ArchitectureOf(config),
                Format = isSafetensors ? CheckpointFormat.Safetensors : CheckpointFormat.PyTorch,
                WeightsPath = index,
                WeightFiles = [index, .. ShardedCheckpoint.ListShards(index).Select(f => Path.Combine(directory, f))],
                ConfigPath = config,
                ConfigLayout = ConfigLayout.HuggingFace,
            }));
        }

        foreach (var (family, layout) in ArchitectureRegistry.TensorFlowLayouts)
        {
            var googleConfig = System.IO.Directory.GetFiles(directory, layout.ConfigFile).Order(StringComparer.Ordinal).FirstOrDefault();
            if (googleConfig is null) continue;
            string stem = layout.CheckpointStem;
            var prefixes = System.IO.Directory.GetFiles(directory, layout.CheckpointPattern)
                .Select(f => f[..^".index".Length]).Order(StringComparer.Ordinal).ToList();
            if (prefixes.Count == 0) continue;
            // Prefer the release's own name; several other checkpoints (training steps) are ambiguous.
            var exact = prefixes.FirstOrDefault(p => Path.GetFileName(p) == stem);
            if (exact is null && prefixes.Count > 1)
                throw new KeyEmbedException(ErrorKind.InvalidInput,
                    $"{directory}: several TensorFlow checkpoints ({string.Join(", ", prefixes.Select(Path.GetFileName))}); keep one, or name it {stem}");
            string prefix = exact ?? prefixes[0];
            var shards = System.IO.Directory.GetFiles(directory, Path.GetFileName(prefix) + ".data-*").Order(StringComparer.Ordinal);
            candidates.Add(WithSideFiles(directory, new ModelFiles
            {
                Source = source,
                Architecture = family.Name,
                Format = CheckpointFormat.TensorFlow,
                WeightsPath = prefix,
                WeightFiles = [prefix + ".index", .. shards],
                ConfigPath = googleConfig,
                ConfigLayout = layout.Layout,
            }));
        }

        if (Existing("model.onnx") is { } onnx) candidates.Add(FromOnnxFile(onnx, source));

        return candidates.Count switch
        {
            1 => candidates[0],
            0 => throw new KeyEmbedException(ErrorKind.InvalidCheckpoint,
                $"{directory}: no model found; expected one of: {Expected}. Found: {Listing(directory)}"),
            _ => throw new KeyEmbedException(ErrorKind.InvalidInput,
                $"{directory}: holds more than one model ({string.Join("; ", candidates.Select(c => $"{FormatName(c.Format)} {Path.GetFileName(c.WeightsPath)}"))}); " +
                "give the .onnx file itself as the model, or move the other checkpoint to its own folder"),
        };
    }

    private static ModelFiles FromOnnxFile(string path, string source)
    {
        string directory = Path.GetDirectoryName(path)!;
        string? config = File.Exists(Path.Combine(directory, "config.json")) ? Path.Combine(directory, "config.json") : null;
        return WithSideFiles(directory, new ModelFiles
        {
            Source = source,
            // Without a config the registry says which family reads a bare export (its config inferred from the graph).
            Architecture = config != null ? ArchitectureOf(config) : ArchitectureRegistry.ForBareOnnxExport().Name,
            Format = CheckpointFormat.Onnx,
            WeightsPath = path,
            WeightFiles = [path],
            ConfigPath = config,
            ConfigLayout = config != null ? ConfigLayout.HuggingFace : ConfigLayout.None,
        });
    }

    private static ModelFiles WithSideFiles(string directory, ModelFiles files)
    {
        string? Existing(string name) { var p = Path.Combine(directory, name); return File.Exists(p) ? p : null; }
        return files with
        {
            Directory = directory,
            VocabPath = Existing("vocab.txt"),
            SentencePiecePath = Existing("spiece.model") ?? Existing(Tokenization.XlmRobertaSentencePiece.FileName),
            // Both files or neither: a vocab.json alone is no tokenizer.
            BpeVocabPath = Existing(Tokenization.RobertaByteLevelBpe.MergesFile) is null ? null : Existing(Tokenization.RobertaByteLevelBpe.VocabularyFile),
            BpeMergesPath = Existing(Tokenization.RobertaByteLevelBpe.VocabularyFile) is null ? null : Existing(Tokenization.RobertaByteLevelBpe.MergesFile),
            TokenizerConfigPath = Existing("tokenizer_config.json"),
            SpecialTokensMapPath = Existing("special_tokens_map.json"),
            ModulesPath = Existing("modules.json"),
            PoolingConfigPath = Existing(Path.Combine("1_Pooling", "config.json")),
            SentenceBertConfigPath = Existing("sentence_bert_config.json"),
        };
    }

    /// <summary>The architecture a Hugging Face config.json names (<c>model_type</c>, else its keys).</summary>
    private static string ArchitectureOf(string configPath)
    {
        JsonDocument doc;
        try { doc = KeyEmbed.IO.StrictJson.Parse(File.ReadAllBytes(configPath)); }
        catch (JsonException e) { throw KeyEmbedException.Checkpoint(configPath, $"not valid JSON ({e.Message})", e); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw KeyEmbedException.Checkpoint(configPath, "the config is not a JSON object");
            if (root.TryGetProperty("model_type", out var type) && type.ValueKind == JsonValueKind.String)
            {
                string name = type.GetString()!;
                return ArchitectureRegistry.ByModelType(name)?.Name
                    ?? throw new KeyEmbedException(ErrorKind.UnsupportedArchitecture,
                        $"{configPath}: model_type '{name}' is not supported; KeyEmbed runs {ArchitectureRegistry.Supported}");
            }
            if (ArchitectureRegistry.ByConfigKeys(root) is { } family) return family.Name;
            throw new KeyEmbedException(ErrorKind.UnsupportedArchitecture,
                $"{configPath}: no model_type and neither BERT keys (num_hidden_layers) nor XLNet keys (n_layer); cannot tell the architecture");
        }
    }

    private static string FormatName(CheckpointFormat format) => format switch
    {
        CheckpointFormat.Safetensors => "safetensors",
        CheckpointFormat.PyTorch => "pytorch",
        CheckpointFormat.TensorFlow => "tensorflow",
        _ => "onnx",
    };

    private static string Listing(string directory)
    {
        var names = System.IO.Directory.EnumerateFileSystemEntries(directory).Select(Path.GetFileName).Order(StringComparer.Ordinal).Take(20).ToList();
        return names.Count == 0 ? "(empty folder)" : string.Join(", ", names);
    }
}
