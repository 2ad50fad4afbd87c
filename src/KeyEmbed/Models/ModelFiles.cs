namespace KeyEmbed.Models;

/// <summary>How a model's weights are stored.</summary>
internal enum CheckpointFormat
{
    /// <summary>Hugging Face <c>model.safetensors</c>.</summary>
    Safetensors,
    /// <summary>PyTorch zip checkpoint <c>pytorch_model.bin</c>.</summary>
    PyTorch,
    /// <summary>Google's original TensorFlow checkpoint (TensorBundle: <c>*.ckpt.index</c> + <c>*.ckpt.data-*</c>).</summary>
    TensorFlow,
    /// <summary>The initializers of an existing ONNX export.</summary>
    Onnx,
}

/// <summary>Which keys a config file uses.</summary>
internal enum ConfigLayout
{
    /// <summary>No config file: the config is inferred from the weights (ONNX exports).</summary>
    None,
    /// <summary>Hugging Face <c>config.json</c>.</summary>
    HuggingFace,
    /// <summary>Google's <c>bert_config.json</c>.</summary>
    GoogleBert,
    /// <summary>Google's <c>xlnet_config.json</c>.</summary>
    GoogleXLNet,
    /// <summary>The config of another original TensorFlow release (ALBERT's <c>albert_config.json</c>, ELECTRA's discriminator config).</summary>
    Original,
}

/// <summary>
/// What <see cref="ModelLocator"/> found: the architecture, where the weights and config are, and the tokenizer and
/// sentence-transformers files beside them (null when absent). A built-in model has <see cref="BuiltInName"/> set and
/// its files inside the package DLL.
/// </summary>
internal sealed record ModelFiles
{
    /// <summary>What the user passed as <c>--model</c> (or the built-in name).</summary>
    public required string Source { get; init; }

    /// <summary>The architecture's registry name (<c>bert</c>, <c>xlnet</c>, <c>roberta</c>, …).</summary>
    public required string Architecture { get; init; }

    public required CheckpointFormat Format { get; init; }

    /// <summary>The weights: a file, or a TensorFlow checkpoint prefix (<c>…/bert_model.ckpt</c>); for a built-in model the package DLL.</summary>
    public required string WeightsPath { get; init; }

    /// <summary>Every file whose bytes are the weights (TensorFlow: index + data shards); hashed for the graph cache.</summary>
    public required IReadOnlyList<string> WeightFiles { get; init; }

    /// <summary>The folder the model lives in; null for a built-in model.</summary>
    public string? Directory { get; init; }

    public string? ConfigPath { get; init; }

    public ConfigLayout ConfigLayout { get; init; }

    /// <summary>WordPiece vocabulary (<c>vocab.txt</c>).</summary>
    public string? VocabPath { get; init; }

    /// <summary>SentencePiece model (<c>spiece.model</c>, XLNet; <c>sentencepiece.bpe.model</c>, XLM-R).</summary>
    public string? SentencePiecePath { get; init; }

    /// <summary>Byte-level BPE vocabulary (<c>vocab.json</c>, RoBERTa); with <see cref="BpeMergesPath"/>.</summary>
    public string? BpeVocabPath { get; init; }

    /// <summary>Byte-level BPE merges (<c>merges.txt</c>, RoBERTa); with <see cref="BpeVocabPath"/>.</summary>
    public string? BpeMergesPath { get; init; }

    /// <summary>Hugging Face <c>tokenizer_config.json</c> (lower-casing, special tokens).</summary>
    public string? TokenizerConfigPath { get; init; }

    /// <summary>Hugging Face <c>special_tokens_map.json</c>.</summary>
    public string? SpecialTokensMapPath { get; init; }

    /// <summary>sentence-transformers <c>modules.json</c> (Transformer → Pooling → Normalize chain).</summary>
    public string? ModulesPath { get; init; }

    /// <summary>sentence-transformers <c>1_Pooling/config.json</c> (pooling mode).</summary>
    public string? PoolingConfigPath { get; init; }

    /// <summary>sentence-transformers <c>sentence_bert_config.json</c> (max_seq_length, do_lower_case).</summary>
    public string? SentenceBertConfigPath { get; init; }

    /// <summary>The built-in model's name (e.g. <c>minilm</c>), or null for a model on disk.</summary>
    public string? BuiltInName { get; init; }

    /// <summary>The vocabulary's bytes, from the folder or from the built-in model's resources; null when there is none.</summary>
    public byte[]? ReadVocab() =>
        BuiltInName != null ? BuiltInModels.ReadMiniLmResource(BuiltInModels.MiniLmVocabResource)
        : VocabPath != null ? File.ReadAllBytes(VocabPath)
        : null;

    /// <summary>The files in display order (role, path) for <c>inspect</c>.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Describe()
    {
        var list = new List<KeyValuePair<string, string>>();
        void Add(string role, string? path) { if (path != null) list.Add(new(role, path)); }
        if (BuiltInName != null)
        {
            Add("weights", $"{WeightsPath} (resource {BuiltInModels.MiniLmModelResource})");
            Add("vocab", $"{WeightsPath} (resource {BuiltInModels.MiniLmVocabResource})");
            return list;
        }
        Add("weights", WeightsPath);
        foreach (var extra in WeightFiles.Where(f => f != WeightsPath)) Add("weights data", extra);
        Add("config", ConfigPath);
        Add("vocab", VocabPath);
        Add("sentencepiece", SentencePiecePath);
        Add("bpe vocab", BpeVocabPath);
        Add("bpe merges", BpeMergesPath);
        Add("tokenizer config", TokenizerConfigPath);
        Add("special tokens", SpecialTokensMapPath);
        Add("modules", ModulesPath);
        Add("pooling", PoolingConfigPath);
        Add("sentence-bert config", SentenceBertConfigPath);
        return list;
    }
}
