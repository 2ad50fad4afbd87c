using System.Numerics;
using System.Text;
using KeyEmbed.Architectures.Bert;
using KeyEmbed.Architectures.XLNet;
using KeyEmbed.Checkpoints;
using KeyEmbed.Checkpoints.Onnx;
using KeyEmbed.Checkpoints.PyTorch;
using KeyEmbed.Checkpoints.Safetensors;
using KeyEmbed.Checkpoints.TensorBundle;
using KeyEmbed.Embedding;
using KeyEmbed.Evaluation;
using KeyEmbed.Tokenization;

namespace KeyEmbed.Fuzz;

/// <summary>
/// One fuzz target per parser: each takes arbitrary bytes and drives one reader the way KeyEmbed uses it (open, list,
/// read every tensor / encode a text). The contract checked: an input is either accepted or refused with a
/// <see cref="KeyEmbedException"/> (the project's one documented error type); any other exception is a crash and is
/// rethrown. Files are written to a scratch folder first (the readers memory-map files). Allocation is bounded by
/// <see cref="AllocationBound"/> (checked by <see cref="Run"/> on the calling thread).
/// </summary>
public static class Targets
{
    /// <summary>The targets, by the name <c>fuzz/run.sh TARGET</c> takes.</summary>
    public static readonly IReadOnlyDictionary<string, Action<byte[]>> All = new SortedDictionary<string, Action<byte[]>>(StringComparer.Ordinal)
    {
        ["safetensors"] = Safetensors,
        ["tensorbundle"] = TensorBundle,
        ["pytorch"] = PyTorch,
        ["unpickler"] = Unpickler,
        ["onnx"] = Onnx,
        ["sharded-index"] = ShardedIndex,
        ["config"] = Config,
        ["vocab"] = Vocab,
        ["spiece-model"] = SpieceModel,
        ["tokenizer-config"] = TokenizerConfig,
        ["wordpiece"] = WordPiece,
        ["sentencepiece"] = SentencePiece,
        ["npy"] = Npy,
        ["sts"] = Sts,
        ["http"] = HttpBodies.Run,
    };

    /// <summary>Most bytes one input may make its target allocate: 32 MiB plus 256 bytes per input byte.</summary>
    public static long AllocationBound(int inputLength) => (32L << 20) + 256L * inputLength;

    /// <summary>
    /// Runs <paramref name="target"/> on <paramref name="input"/>: a <see cref="KeyEmbedException"/> is an accepted
    /// refusal (its message is returned; null = accepted); anything else propagates (a crash). Allocation past
    /// <see cref="AllocationBound"/> on this thread is a crash too.
    /// </summary>
    public static string? Run(string target, byte[] input)
    {
        var action = All.TryGetValue(target, out var found) ? found : throw new ArgumentException($"no fuzz target '{target}'; targets: {string.Join(", ", All.Keys)}");
        long before = GC.GetAllocatedBytesForCurrentThread();
        string? refusal = null;
        try
        {
            action(input);
        }
        catch (KeyEmbedException e)
        {
            refusal = e.Message;
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        if (allocated > AllocationBound(input.Length))
            throw new InvalidOperationException($"{target}: a {input.Length}-byte input allocated {allocated} bytes (bound {AllocationBound(input.Length)})");
        return refusal;
    }

    private static readonly Lazy<string> Scratch = new(() =>
    {
        string root = Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        string dir = Path.Combine(root, $"keyembed-fuzz-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { Directory.Delete(dir, true); } catch (IOException) { } };
        return dir;
    });

    // A fresh folder per input (files from the previous input never leak into this one).
    private static string Folder()
    {
        string dir = Path.Combine(Scratch.Value, "case");
        if (Directory.Exists(dir)) Directory.Delete(dir, true);
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static string WriteFile(string name, ReadOnlySpan<byte> bytes)
    {
        string path = Path.Combine(Folder(), name);
        File.WriteAllBytes(path, bytes.ToArray());
        return path;
    }

    // Every tensor read the way a graph build reads it: floats as float32, integers as int64.
    private static void ReadAll(ITensorSource source)
    {
        foreach (var info in source.Tensors)
        {
            if (info.DType is TensorDType.I64 or TensorDType.I32) source.ReadInt64(info.Name);
            else source.ReadFloat32(info.Name);
            source.TryGetInfo(info.Name, out _);
        }
    }

    private static void Safetensors(byte[] input)
    {
        using var reader = new SafetensorsReader(WriteFile("model.safetensors", input));
        ReadAll(reader);
    }

    // [u16 index length, little-endian][index bytes][data shard bytes].
    private static void TensorBundle(byte[] input)
    {
        int length = input.Length >= 2 ? Math.Min(input[0] | input[1] << 8, input.Length - 2) : 0;
        string dir = Folder();
        File.WriteAllBytes(Path.Combine(dir, "model.ckpt.index"), input.AsSpan(2 > input.Length ? input.Length : 2, length).ToArray());
        File.WriteAllBytes(Path.Combine(dir, "model.ckpt.data-00000-of-00001"), input.AsSpan(Math.Min(input.Length, 2 + length)).ToArray());
        using var reader = new TensorBundleReader(Path.Combine(dir, "model.ckpt"));
        ReadAll(reader);
    }

    private static void PyTorch(byte[] input)
    {
        using var reader = new PyTorchZipReader(WriteFile("pytorch_model.bin", input));
        ReadAll(reader);
    }

    private static void Unpickler(byte[] input)
    {
        static StorageRef Resolve(PickleTuple id) =>
            id.Items.Length >= 3 && id.Items[2] is string key && id.Items[1] is PickleGlobal global && SafeUnpickler.TryGetStorageType(global, out var dtype)
                ? new StorageRef(dtype, key, id.Items.Length >= 5 && id.Items[4] is BigInteger n && n >= 0 && n < 1 << 20 ? (long)n : 1)
                : throw KeyEmbedException.Checkpoint("fuzz.pkl", "persistent id is not a storage");
        new SafeUnpickler("fuzz.pkl", input, Resolve).Load();
    }

    private static void Onnx(byte[] input)
    {
        using var reader = new OnnxInitializerReader(input, "model.onnx", Folder());
        ReadAll(reader);
    }

    // The index JSON against two real one-tensor shards beside it.
    private static void ShardedIndex(byte[] input)
    {
        string dir = Folder();
        new SafetensorsWriter().Add("a.weight", [2], [1f, 2f]).Save(Path.Combine(dir, "model-00001-of-00002.safetensors"));
        new SafetensorsWriter().Add("b.weight", [1], [3f]).Save(Path.Combine(dir, "model-00002-of-00002.safetensors"));
        string index = Path.Combine(dir, "model.safetensors.index.json");
        File.WriteAllBytes(index, input);
        using var sharded = ShardedCheckpoint.Open(index, shard => new SafetensorsReader(shard));
        ReadAll(sharded);
    }

    // The same bytes as a Hugging Face config.json, a Google bert_config.json and an XLNet config.
    private static void Config(byte[] input)
    {
        string path = WriteFile("config.json", input);
        Try(() => BertConfig.Load(path, googleLayout: false));
        Try(() => BertConfig.Load(path, googleLayout: true));
        XLNetConfig.Load(path);
    }

    private static void Vocab(byte[] input) =>
        TextEncoder.FromWordPieceVocabulary(input).Encode("Hello, wörld! 你好 unaffable", "second text");

    private static void SpieceModel(byte[] input) =>
        TextEncoder.FromSentencePieceModel(input).Encode("Hello, wörld! 你好 1,000 unaffable", "second text");

    private static void TokenizerConfig(byte[] input)
    {
        string dir = Folder();
        File.WriteAllBytes(Path.Combine(dir, "tokenizer_config.json"), input);
        File.WriteAllText(Path.Combine(dir, "vocab.txt"), "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n##s\n");
        TextEncoder.Load(dir).Encode("hellos hello");
    }

    private static readonly Lazy<TextEncoder> Bert = new(() => TextEncoder.FromWordPieceVocabulary(SharedFile("models/bert-chinese-vocab/vocab.txt")));
    private static readonly Lazy<TextEncoder> XLNet = new(() => TextEncoder.FromSentencePieceModel(SharedFile("models/xlnet-spiece/spiece.model")));

    // Text: the bytes as UTF-8 (invalid sequences become U+FFFD) and also as UTF-16 code units (lone surrogates
    // included); a 0 byte splits a pair.
    private static IEnumerable<(string Text, string? Pair)> Texts(byte[] input)
    {
        string utf8 = Encoding.UTF8.GetString(input);
        int zero = utf8.IndexOf('\0');
        yield return zero < 0 ? (utf8, null) : (utf8[..zero], utf8[(zero + 1)..]);
        var units = new char[input.Length / 2];
        for (int i = 0; i < units.Length; i++) units[i] = (char)(input[2 * i] | input[2 * i + 1] << 8);
        yield return (new string(units), null);
    }

    private static void WordPiece(byte[] input)
    {
        foreach (var (text, pair) in Texts(input)) Check(Bert.Value.Encode(text, pair), text, pair);
    }

    private static void SentencePiece(byte[] input)
    {
        foreach (var (text, pair) in Texts(input)) Check(XLNet.Value.Encode(text, pair), text, pair);
    }

    // Invariants of an encoding whatever the text: parallel arrays, offsets inside the texts.
    private static void Check(EncodedText encoded, string text, string? pair)
    {
        int n = encoded.Ids.Count;
        if (encoded.Tokens.Count != n || encoded.TypeIds.Count != n || encoded.Offsets.Count != n)
            throw new InvalidOperationException("encoding arrays differ in length");
        int longest = Math.Max(text.Length, pair?.Length ?? 0);
        foreach (var offset in encoded.Offsets)
            if (offset.Start < 0 || offset.Length < 0 || offset.Start + offset.Length > longest)
                throw new InvalidOperationException($"offset {offset.Start}+{offset.Length} outside a {longest}-character text");
    }

    private static void Npy(byte[] input) => NpyFile.Read(WriteFile("vectors.npy", input));

    private static void Sts(byte[] input) =>
        StsBenchmark.Parse(new StringReader(Encoding.UTF8.GetString(input)), "sts.csv");

    private static void Try(Action action)
    {
        try { action(); }
        catch (KeyEmbedException) { }
    }

    /// <summary>A file under <c>../shared</c> (found upward from the working folder or this assembly).</summary>
    internal static byte[] SharedFile(string relative)
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "shared", relative);
                if (File.Exists(candidate)) return File.ReadAllBytes(candidate);
                candidate = Path.Combine(dir.FullName, "..", "shared", relative);
                if (File.Exists(candidate)) return File.ReadAllBytes(candidate);
            }
        throw new FileNotFoundException($"../shared/{relative} not found above {Environment.CurrentDirectory}");
    }
}
