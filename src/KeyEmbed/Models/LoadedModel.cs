using System.Globalization;
using Google.Protobuf;
using KeyEmbed.Architectures;
using KeyEmbed.Architectures.XLNet;
using KeyEmbed.Checkpoints;
using KeyEmbed.Checkpoints.Onnx;
using KeyEmbed.Checkpoints.PyTorch;
using KeyEmbed.Checkpoints.Safetensors;
using KeyEmbed.Checkpoints.TensorBundle;
using KeyEmbed.Runtime;
using KeyEmbed.Tokenization;

namespace KeyEmbed.Models;

/// <summary>
/// A located model opened for use: its files, its weight reader and its architecture. Builds (or fetches from the
/// <see cref="GraphCache"/>) the ONNX graph for a <see cref="GraphRequest"/> and opens an <see cref="EncoderSession"/> on it.
/// </summary>
internal sealed class LoadedModel : IDisposable
{
    private string? _weightsHash;

    private LoadedModel(ModelFiles files, ITensorSource weights, IEncoderArchitecture architecture)
    {
        Files = files;
        Weights = weights;
        Architecture = architecture;
    }

    public ModelFiles Files { get; }

    public ITensorSource Weights { get; }

    public IEncoderArchitecture Architecture { get; }

    /// <summary>Locates and opens a <c>--model</c> value (folder, .onnx file, built-in name; null = the default model).</summary>
    /// <param name="model">The <c>--model</c> value.</param>
    /// <param name="xlnet">XLNet run-setting overrides (attn_type, mem_len, clamp_len, memory inputs); an input error for other models.</param>
    public static LoadedModel Open(string? model, XLNetRunOverrides? xlnet = null) => Open(ModelLocator.Locate(model), xlnet);

    /// <summary>Opens the weight reader the format needs and creates the architecture over it.</summary>
    public static LoadedModel Open(ModelFiles files, XLNetRunOverrides? xlnet = null)
    {
        var family = ArchitectureRegistry.ByName(files.Architecture);
        var weights = OpenWeights(files);
        // An ONNX export's external data files are weights too: the graph cache hashes them with the .onnx file.
        if (weights is OnnxInitializerReader { ExternalDataFiles.Count: > 0 } onnx)
            files = files with { WeightFiles = [.. files.WeightFiles, .. onnx.ExternalDataFiles] };
        try
        {
            return new LoadedModel(files, weights, family.Open(files, weights, xlnet));
        }
        catch
        {
            weights.Dispose();
            throw;
        }
    }

    /// <summary>The graph for <paramref name="request"/> as ONNX bytes, from the cache when an intact entry exists.</summary>
    public byte[] GraphBytes(GraphRequest request, GraphCache? cache, out bool cacheHit) =>
        GraphBytes(Architecture, request, cache, out cacheHit);

    /// <summary>
    /// The graph of <paramref name="variant"/> (this model's weights run with other settings, e.g. XLNet with memory
    /// inputs) as ONNX bytes; its facts are part of the cache key, so variants never share an entry.
    /// </summary>
    public byte[] GraphBytes(IEncoderArchitecture variant, GraphRequest request, GraphCache? cache, out bool cacheHit)
    {
        if (GraphKey(variant, request, cache) is not { } key)
        {
            cacheHit = false;
            return variant.BuildGraph(request).ToByteArray();
        }
        return cache!.GetOrBuild(key, () => variant.BuildGraph(request).ToByteArray(), out cacheHit, GraphLabel(variant, request));
    }

    // What `keyembed cache list` shows for the entry.
    private string GraphLabel(IEncoderArchitecture variant, GraphRequest request) => $"{Files.Source} ({variant.Name}): {request.CacheKey}";

    // The graph's cache key (null when there is no cache): the builder's version, the weights' content, the facts and the request.
    private string? GraphKey(IEncoderArchitecture variant, GraphRequest request, GraphCache? cache)
    {
        if ((request.Pooling != GraphPooling.None || request.Precision != ComputePrecision.Float32) && !Architecture.SupportsGraphPoolingAndInt8)
            throw KeyEmbedException.Input($"int8 compute and in-graph pooling are available for BERT models; {Files.Source} is a {Architecture.Name} model (use float32)");
        if (cache?.Directory is null) return null;
        _weightsHash ??= cache.ContentHash(Files.WeightFiles);
        return GraphCache.Key(
            "graph-version " + variant.GraphVersion.ToString(CultureInfo.InvariantCulture),
            variant.GetType().FullName!,
            _weightsHash,
            string.Join("; ", variant.Facts.Where(f => f.Key != "config").Select(f => f.Key + "=" + f.Value)),
            request.CacheKey);
    }

    /// <summary>
    /// Builds or fetches the graph of <paramref name="variant"/> and opens an ONNX Runtime session on it; with a cache,
    /// ORT's optimized form of the graph is cached too (<see cref="OptimizedSessions"/>), so a later start neither builds
    /// nor optimizes it.
    /// </summary>
    public EncoderSession CreateSession(IEncoderArchitecture variant, GraphRequest request, SessionSettings? settings = null, GraphCache? cache = null) =>
        GraphKey(variant, request, cache) is { } key
            ? OptimizedSessions.Open(cache!, key, GraphLabel(variant, request),
                () => cache!.GetOrBuild(key, () => variant.BuildGraph(request).ToByteArray(), out _, GraphLabel(variant, request)), settings ?? new SessionSettings())
            : new(variant.BuildGraph(request).ToByteArray(), settings);

    /// <summary>Builds or fetches the graph and opens an ONNX Runtime session on it.</summary>
    public EncoderSession CreateSession(GraphRequest request, SessionSettings? settings = null, GraphCache? cache = null) =>
        CreateSession(Architecture, request, settings, cache);

    /// <summary>
    /// Checks token inputs against the model before ONNX Runtime sees them: sequence length within the model's
    /// positions, then the architecture's own checks (ids within the vocabulary, token types within their table).
    /// </summary>
    /// <param name="inputs"><c>input_ids</c> and optionally <c>token_type_ids</c>, [batch, sequence].</param>
    /// <param name="origin">Where the inputs came from, for the message (a file, "request").</param>
    public void CheckInputs(IReadOnlyDictionary<string, DenseTensor<long>> inputs, string origin)
    {
        var ids = inputs[GraphNames.InputIds];
        if (Architecture.MaxSequenceLength is { } max && ids.Shape[^1] > max)
            throw KeyEmbedException.Input($"{origin}: sequences of {ids.Shape[^1]} tokens are longer than this model's {max} positions; truncate them");
        Architecture.CheckInputs(inputs, origin);
    }

    /// <summary>
    /// The model's tokenizer (the built-in vocabulary, or the folder's <c>vocab.txt</c> / SentencePiece model), refused
    /// when it can produce ids beyond the model's embedding matrix (a tokenizer of another model): ONNX Runtime would
    /// otherwise fail inside a Gather on the first such text.
    /// </summary>
    public TextEncoder LoadTokenizer(bool? lowercase)
    {
        var encoder = TokenizerFiles.ForModel(Files, lowercase);
        if (encoder.VocabularySize > Architecture.VocabularySize)
            throw new KeyEmbedException(ErrorKind.InvalidCheckpoint,
                $"{Files.Source}: the tokenizer has {encoder.VocabularySize} entries but the model's embedding matrix has {Architecture.VocabularySize} rows; " +
                "the tokenizer file belongs to another model. Put the model's own tokenizer beside its weights");
        return encoder;
    }

    /// <summary>All hidden states 0..L.</summary>
    public GraphRequest AllHiddenStates => new(Architecture.LayerCount);

    public void Dispose() => Weights.Dispose();

    private static ITensorSource OpenWeights(ModelFiles files) => files.Format switch
    {
        CheckpointFormat.Safetensors when IsShardIndex(files.WeightsPath) => ShardedCheckpoint.Open(files.WeightsPath, shard => new SafetensorsReader(shard)),
        CheckpointFormat.PyTorch when IsShardIndex(files.WeightsPath) => ShardedCheckpoint.Open(files.WeightsPath, shard => new PyTorchZipReader(shard)),
        CheckpointFormat.Safetensors => new SafetensorsReader(files.WeightsPath),
        CheckpointFormat.PyTorch => new PyTorchZipReader(files.WeightsPath),
        CheckpointFormat.TensorFlow => new TensorBundleReader(files.WeightsPath),
        CheckpointFormat.Onnx when files.BuiltInName != null =>
            BuiltInModels.OpenMiniLmWeights($"built-in model '{files.BuiltInName}'"),
        CheckpointFormat.Onnx => new OnnxInitializerReader(files.WeightsPath),
        var other => throw new ArgumentOutOfRangeException(nameof(files), other, "unhandled checkpoint format"),
    };

    private static bool IsShardIndex(string path) => path.EndsWith(".index.json", StringComparison.Ordinal);
}
