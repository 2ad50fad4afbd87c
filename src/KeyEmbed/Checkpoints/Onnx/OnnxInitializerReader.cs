using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Google.Protobuf;
using OnnxModel = global::Onnx.ModelProto;
using OnnxNode = global::Onnx.NodeProto;
using OnnxTensor = global::Onnx.TensorProto;

namespace KeyEmbed.Checkpoints.Onnx;

/// <summary>
/// The weights of an existing ONNX export (e.g. a Hugging Face BERT exported by PyTorch), read from its initializers.
/// Named initializers keep their names. Exporters leave MatMul weights unnamed (<c>927</c>, <c>onnx::MatMul_1234</c>);
/// such a weight is named by walking the graph: <c>MatMul(x, W)</c> followed by an <c>Add</c> with a named bias
/// <c>X.bias</c> exposes W as <c>X.weight</c>. ONNX stores MatMul weights <c>[in, out]</c>; a mapped weight is exposed
/// transposed to <c>[out, in]</c>, the layout of a Hugging Face Linear, so downstream code sees one convention.
/// Unnamed integer, scalar and vector initializers (the exported graph's shape and scale constants) are not weights
/// and are left out; an unnamed matrix that no bias names keeps its generated name.
/// </summary>
internal sealed class OnnxInitializerReader : ITensorSource
{
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly List<TensorInfo> _order = [];

    // Raw data this large or larger stays in the model's bytes (read when asked for); smaller raw data (the exported
    // graph's shape and scale constants) is parsed with the rest.
    private const int SkimThreshold = 4096;

    private readonly ModelBytes _bytes;

    /// <summary>Opens an ONNX file, memory-mapped; initializers saved as external data are read from the files beside it.</summary>
    public OnnxInitializerReader(string path)
        : this(MapFile(path), path, System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path)))
    {
    }

    /// <summary>Reads an ONNX model held in memory; <paramref name="displayPath"/> names it in errors.</summary>
    /// <param name="model">The model's bytes.</param>
    /// <param name="displayPath">What errors call it.</param>
    /// <param name="externalDataFolder">Where external data files live (the model's folder); null = external data is refused.</param>
    public OnnxInitializerReader(byte[] model, string displayPath, string? externalDataFolder = null)
        : this(ModelBytes.Of(model), displayPath, externalDataFolder)
    {
    }

    /// <summary>
    /// Reads an ONNX model stored at <paramref name="offset"/> for <paramref name="length"/> bytes inside
    /// <paramref name="file"/> (the built-in model inside its package DLL), memory-mapped: only the graph and the
    /// small constants are parsed at once; a weight's bytes are read when the weight is.
    /// </summary>
    public static OnnxInitializerReader FromFileRegion(string file, long offset, long length, string displayPath) =>
        new(ModelBytes.Map(file, offset, length), displayPath, externalDataFolder: null);

    private OnnxInitializerReader(ModelBytes bytes, string displayPath, string? externalDataFolder)
    {
        _bytes = bytes;
        try
        {
            Path = displayPath;
            OnnxModel proto;
            Dictionary<int, (int Offset, int Length)> raw;
            try
            {
                var skimmed = OnnxRawDataSkim.Skim(bytes.Span, SkimThreshold, out raw);
                proto = OnnxModel.Parser.ParseFrom(skimmed);
            }
            catch (FormatException e)
            { throw KeyEmbedException.Checkpoint(displayPath, $"not a readable ONNX model ({e.Message})", e); }
            catch (InvalidProtocolBufferException e)
            { throw KeyEmbedException.Checkpoint(displayPath, $"not a readable ONNX model ({e.Message})", e); }
            if (proto.Graph is null)
                throw KeyEmbedException.Checkpoint(displayPath, "the ONNX model has no graph");
            var graph = proto.Graph;

            var initializers = new Dictionary<string, OnnxTensor>(StringComparer.Ordinal);
            foreach (var t in graph.Initializer) initializers[t.Name] = t;
            var renamed = MapMatMulWeights(graph.Node, initializers);

            var external = new ExternalData(displayPath, externalDataFolder);
            for (int index = 0; index < graph.Initializer.Count; index++)
            {
                var tensor = graph.Initializer[index];
                if (tensor.DataLocation == OnnxTensor.Types.DataLocation.External || tensor.ExternalData.Count > 0)
                    external.Load(tensor);
                var dtype = DType(tensor);
                bool transposed = renamed.TryGetValue(tensor.Name, out var mappedName);
                // Unnamed integers and scalars/vectors are the exported graph's constants (shapes, 1/√d), not weights.
                if (!transposed && IsAutoNamed(tensor.Name) && (!TensorConversion.IsFloating(dtype) || tensor.Dims.Count < 2)) continue;
                string name = transposed ? mappedName! : tensor.Name;
                var shape = tensor.Dims.ToArray();
                if (transposed) shape = [shape[1], shape[0]];
                var info = new TensorInfo(name, shape, dtype);
                (int Offset, int Length)? range = raw.TryGetValue(index, out var r) ? r : null;
                CheckByteSize(tensor, info, range?.Length ?? tensor.RawData.Length);
                if (!_entries.TryAdd(name, new Entry(info, tensor, transposed, range)))
                    throw KeyEmbedException.Checkpoint(displayPath, $"two initializers map to the name '{name}'");
                _order.Add(info);
            }
            Facts = OnnxGraphFacts.From(graph, initializers);
            ExternalDataFiles = external.Files;
        }
        catch
        {
            bytes.Dispose();
            throw;
        }
    }

    /// <summary>The external data files the initializers were read from (part of the weights, e.g. for the graph cache's hash).</summary>
    public IReadOnlyList<string> ExternalDataFiles { get; }

    /// <inheritdoc />
    public string Format => "onnx";

    /// <inheritdoc />
    public string Path { get; }

    /// <summary>What the export's graph says beyond its weights (reshape targets, epsilons, operators), for config inference.</summary>
    public OnnxGraphFacts Facts { get; }

    /// <inheritdoc />
    public IReadOnlyList<TensorInfo> Tensors => _order;

    /// <summary>Whether a tensor was a MatMul weight exposed transposed to <c>[out, in]</c>.</summary>
    public bool IsTransposedMatMulWeight(string name) => _entries.TryGetValue(name, out var e) && e.Transposed;

    /// <inheritdoc />
    public bool TryGetInfo(string name, out TensorInfo info)
    {
        if (_entries.TryGetValue(name, out var e)) { info = e.Info; return true; }
        info = null!;
        return false;
    }

    /// <inheritdoc />
    public float[] ReadFloat32(string name)
    {
        var entry = Find(name);
        var dtype = entry.Info.DType;
        if (!TensorConversion.IsFloating(dtype))
            throw KeyEmbedException.Checkpoint(Path, $"initializer '{name}' is {dtype}, not a floating type");
        var t = entry.Tensor;
        var values = new float[entry.Info.ElementCount];
        var raw = RawBytes(entry);
        if (!raw.IsEmpty) TensorConversion.ToFloat32(raw, dtype, values);
        else if (dtype == TensorDType.F32) t.FloatData.CopyTo(values, 0);
        else if (dtype == TensorDType.F64) for (int i = 0; i < values.Length; i++) values[i] = (float)t.DoubleData[i];
        else
        {
            // float16 / bfloat16 without raw_data are stored one per int32_data element (low 16 bits).
            Span<byte> pair = stackalloc byte[2];
            for (int i = 0; i < values.Length; i++)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(pair, (ushort)t.Int32Data[i]);
                TensorConversion.ToFloat32(pair, dtype, values.AsSpan(i, 1));
            }
        }
        if (!entry.Transposed) return values;
        // Stored [in, out]; exposed [out, in].
        int rows = (int)t.Dims[0], cols = (int)t.Dims[1];
        var transposed = new float[values.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                transposed[c * rows + r] = values[r * cols + c];
        return transposed;
    }

    /// <inheritdoc />
    public long[] ReadInt64(string name)
    {
        var entry = Find(name);
        var dtype = entry.Info.DType;
        if (TensorConversion.IsFloating(dtype))
            throw KeyEmbedException.Checkpoint(Path, $"initializer '{name}' is {dtype}, not an integer type");
        var t = entry.Tensor;
        var values = new long[entry.Info.ElementCount];
        var raw = RawBytes(entry);
        if (!raw.IsEmpty) TensorConversion.ToInt64(raw, dtype, values);
        else if (dtype == TensorDType.I64) t.Int64Data.CopyTo(values, 0);
        else for (int i = 0; i < values.Length; i++) values[i] = t.Int32Data[i];
        return values;
    }

    /// <inheritdoc />
    public void Dispose() => _bytes.Dispose();

    // A weight's raw bytes: in the model's bytes when the parse left them there, else in the parsed tensor.
    private ReadOnlySpan<byte> RawBytes(Entry entry) =>
        entry.Raw is { } r ? _bytes.Span.Slice(r.Offset, r.Length) : entry.Tensor.RawData.Span;

    /// <summary>Exporters name what they generate by number (<c>927</c>) or with an <c>onnx::</c> prefix.</summary>
    internal static bool IsAutoNamed(string name) =>
        name.StartsWith("onnx::", StringComparison.Ordinal) || (name.Length > 0 && name.All(char.IsAsciiDigit));

    private Entry Find(string name) =>
        _entries.TryGetValue(name, out var e) ? e
            : throw new KeyEmbedException(ErrorKind.MissingWeight, $"{Path}: no initializer named '{name}'");

    // MatMul(x, W) → Add(·, X.bias) (either operand order): W is the weight of the Linear X.
    private static Dictionary<string, string> MapMatMulWeights(IEnumerable<OnnxNode> nodes, Dictionary<string, OnnxTensor> initializers)
    {
        var consumers = new Dictionary<string, List<OnnxNode>>(StringComparer.Ordinal);
        foreach (var node in nodes)
            foreach (var input in node.Input)
            {
                if (!consumers.TryGetValue(input, out var list)) consumers[input] = list = [];
                list.Add(node);
            }
        var renamed = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var node in nodes)
        {
            // A MatMul without an output (a malformed graph) names nothing; the graph's own check refuses it later.
            if (node.OpType != "MatMul" || node.Input.Count != 2 || node.Output.Count == 0) continue;
            string weight = node.Input[1];
            if (!IsAutoNamed(weight) || !initializers.TryGetValue(weight, out var w) || w.Dims.Count != 2) continue;
            if (!consumers.TryGetValue(node.Output[0], out var next)) continue;
            foreach (var add in next.Where(n => n.OpType == "Add" && n.Input.Count == 2))
            {
                string bias = add.Input[0] == node.Output[0] ? add.Input[1] : add.Input[0];
                if (!bias.EndsWith(".bias", StringComparison.Ordinal) || !initializers.ContainsKey(bias)) continue;
                renamed.TryAdd(weight, bias[..^".bias".Length] + ".weight");
                break;
            }
        }
        return renamed;
    }

    private TensorDType DType(OnnxTensor tensor) => tensor.DataType switch
    {
        (int)OnnxTensor.Types.DataType.Float => TensorDType.F32,
        (int)OnnxTensor.Types.DataType.Float16 => TensorDType.F16,
        (int)OnnxTensor.Types.DataType.Bfloat16 => TensorDType.BF16,
        (int)OnnxTensor.Types.DataType.Double => TensorDType.F64,
        (int)OnnxTensor.Types.DataType.Int64 => TensorDType.I64,
        (int)OnnxTensor.Types.DataType.Int32 => TensorDType.I32,
        (int)OnnxTensor.Types.DataType.Int8 => TensorDType.I8,
        (int)OnnxTensor.Types.DataType.Uint8 or (int)OnnxTensor.Types.DataType.Bool => TensorDType.U8,
        var other => throw KeyEmbedException.Checkpoint(Path, $"initializer '{tensor.Name}' has ONNX data type {other}, which KeyEmbed does not read (float, float16, bfloat16, double, int64, int32, int8, uint8, bool)"),
    };

    private void CheckByteSize(OnnxTensor tensor, TensorInfo info, int rawLength)
    {
        if (info.Shape.Any(d => d < 0))
            throw KeyEmbedException.Checkpoint(Path, $"initializer '{tensor.Name}' has a negative dimension {info.ShapeText}");
        long count = info.ElementCount;
        long stored = rawLength > 0 ? rawLength / TensorConversion.ElementSize(info.DType)
            : info.DType switch
            {
                TensorDType.F32 => tensor.FloatData.Count,
                TensorDType.F64 => tensor.DoubleData.Count,
                TensorDType.I64 => tensor.Int64Data.Count,
                _ => tensor.Int32Data.Count,
            };
        bool rawSizeOk = rawLength == 0 || rawLength == count * TensorConversion.ElementSize(info.DType);
        if (stored != count || !rawSizeOk)
            throw KeyEmbedException.Checkpoint(Path,
                $"initializer '{tensor.Name}' of shape {info.ShapeText} needs {count} {info.DType} values but holds {(rawLength == 0 ? stored + " values" : rawLength + " bytes")}");
    }

    private static ModelBytes MapFile(string path)
    {
        if (!File.Exists(path)) throw KeyEmbedException.Checkpoint(path, "file not found");
        return ModelBytes.Map(path, 0, FileLength.Of(path));
    }

    // Raw: where the weight's raw data lies in the model's bytes, when the parse left it there.
    private sealed record Entry(TensorInfo Info, OnnxTensor Tensor, bool Transposed, (int Offset, int Length)? Raw);

    /// <summary>
    /// ONNX external data (<c>onnx.save(..., save_as_external_data=True)</c>): an initializer's bytes live in a file
    /// beside the model, at <c>offset</c> for <c>length</c> bytes. They are read into the tensor's raw data, so the rest of
    /// the reader sees an ordinary initializer. Only files inside the model's folder are read.
    /// </summary>
    private sealed class ExternalData(string modelPath, string? folder)
    {
        private readonly List<string> _files = [];

        public IReadOnlyList<string> Files => _files;

        public void Load(OnnxTensor tensor)
        {
            if (folder is null)
                throw KeyEmbedException.Checkpoint(modelPath, $"initializer '{tensor.Name}' is stored in an external data file, which a model held in memory cannot reach");
            var fields = tensor.ExternalData.ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);
            if (!fields.TryGetValue("location", out var location) || string.IsNullOrEmpty(location))
                throw KeyEmbedException.Checkpoint(modelPath, $"initializer '{tensor.Name}' is external but names no location");
            if (System.IO.Path.IsPathRooted(location) || location.Split('/', '\\').Contains(".."))
                throw KeyEmbedException.Checkpoint(modelPath, $"initializer '{tensor.Name}': external data '{location}' is outside the model's folder");
            string file = System.IO.Path.Combine(folder, location);
            if (!File.Exists(file))
                throw KeyEmbedException.Checkpoint(modelPath, $"initializer '{tensor.Name}': external data file '{location}' is missing; keep it beside the .onnx file");
            long size = FileLength.Of(file);
            long offset = Number(tensor, fields, "offset") ?? 0;
            long length = Number(tensor, fields, "length") ?? size - offset;
            if (offset < 0 || length < 0 || offset > size || length > size - offset || length > int.MaxValue)
                throw KeyEmbedException.Checkpoint(modelPath, $"initializer '{tensor.Name}': bytes {offset}..{offset + length} are beyond '{location}' ({size} bytes); the data file is truncated or not this model's");
            var bytes = new byte[length];
            using (var stream = File.OpenRead(file))
            {
                stream.Position = offset;
                stream.ReadExactly(bytes);
            }
            tensor.RawData = ByteString.CopyFrom(bytes);
            tensor.ExternalData.Clear();
            tensor.DataLocation = OnnxTensor.Types.DataLocation.Default;
            string full = System.IO.Path.GetFullPath(file);
            if (!_files.Contains(full)) _files.Add(full);
        }

        private long? Number(OnnxTensor tensor, Dictionary<string, string> fields, string key)
        {
            if (!fields.TryGetValue(key, out var text)) return null;
            return long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long value)
                ? value
                : throw KeyEmbedException.Checkpoint(modelPath, $"initializer '{tensor.Name}': external data {key} '{text}' is not a number");
        }
    }
}

/// <summary>
/// Architecture-free facts read from an ONNX export's graph: the constant target shapes of its Reshape nodes,
/// the epsilon its layer norms add, and how often each operator occurs. Used to infer a config when none is given.
/// </summary>
internal sealed record OnnxGraphFacts(
    IReadOnlyList<long[]> ReshapeTargets,
    IReadOnlyList<float> LayerNormEpsilons,
    IReadOnlyDictionary<string, int> OperatorCounts)
{
    public static OnnxGraphFacts From(global::Onnx.GraphProto graph, Dictionary<string, OnnxTensor> initializers)
    {
        var constants = new Dictionary<string, OnnxTensor>(initializers, StringComparer.Ordinal);
        var producers = new Dictionary<string, OnnxNode>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
        {
            foreach (var output in node.Output) producers[output] = node;
            if (node.OpType == "Constant" && node.Attribute.FirstOrDefault(a => a.Name == "value")?.T is { } value)
                constants[node.Output[0]] = value;
        }

        long[]? ConstantInts(string name) =>
            constants.TryGetValue(name, out var t) && t.DataType == (int)OnnxTensor.Types.DataType.Int64
                ? (!t.RawData.IsEmpty ? MemoryMarshal.Cast<byte, long>(t.RawData.Span).ToArray() : [.. t.Int64Data])
                : null;
        float? ConstantFloat(string name) =>
            constants.TryGetValue(name, out var t) && t.DataType == (int)OnnxTensor.Types.DataType.Float
                ? (!t.RawData.IsEmpty && t.RawData.Length == 4 ? BinaryPrimitives.ReadSingleLittleEndian(t.RawData.Span)
                    : t.FloatData.Count == 1 ? t.FloatData[0] : null)
                : null;

        var targets = new List<long[]>();
        var epsilons = new List<float>();
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
        {
            counts[node.OpType] = counts.GetValueOrDefault(node.OpType) + 1;
            if (node.OpType == "Reshape" && node.Input.Count == 2)
            {
                // A target is a constant, or a Concat whose unknown leading parts are runtime sizes (-1 here).
                if (ConstantInts(node.Input[1]) is { } direct) targets.Add(direct);
                else if (producers.TryGetValue(node.Input[1], out var concat) && concat.OpType == "Concat")
                {
                    var parts = new List<long>();
                    foreach (var part in concat.Input)
                    {
                        var ints = ConstantInts(part);
                        if (ints is null) parts.Add(-1); else parts.AddRange(ints);
                    }
                    targets.Add([.. parts]);
                }
            }
            else if (node.OpType == "LayerNormalization")
            {
                var eps = node.Attribute.FirstOrDefault(a => a.Name == "epsilon");
                epsilons.Add(eps?.F ?? 1e-5f);
            }
            else if (node.OpType == "Sqrt" && producers.TryGetValue(node.Input[0], out var add) && add.OpType == "Add"
                     && producers.TryGetValue(add.Input[0], out var mean) && mean.OpType == "ReduceMean"
                     && ConstantFloat(add.Input[1]) is { } decomposedEps)
            {
                // A layer norm spelled out by the exporter: sqrt(mean((x-μ)²) + ε).
                epsilons.Add(decomposedEps);
            }
        }
        return new OnnxGraphFacts(targets, epsilons, counts);
    }
}
