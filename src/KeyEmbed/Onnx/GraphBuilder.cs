using Google.Protobuf;
using Onnx;

namespace KeyEmbed.Onnx;

/// <summary>ONNX element types the graphs use.</summary>
internal enum ElementType
{
    Float = 1,
    UInt8 = 2,
    Int8 = 3,
    Int32 = 6,
    Int64 = 7,
    Bool = 9,
}

/// <summary>
/// Emits ONNX nodes and initializers through OnnxSharp's generated protobuf messages; architectures build
/// their graphs with it and nothing else knows protobuf. Every method returns the name of the value it produced.
/// </summary>
internal sealed class GraphBuilder
{
    /// <summary>The default ONNX opset (17 has LayerNormalization).</summary>
    public const int DefaultOpset = 17;

    private readonly GraphProto _graph;
    private readonly Dictionary<string, string> _constants = new(StringComparer.Ordinal);
    private readonly HashSet<string> _usedNames = new(StringComparer.Ordinal);
    private readonly Stack<string> _scopes = new();
    private readonly int _opset;
    private bool _usesMicrosoftDomain;
    private int _counter;

    /// <summary>How <see cref="QuantizedLinear"/> writes int8 linear layers in this graph.</summary>
    public KeyEmbed.Architectures.Int8Form Int8Form { get; init; }

    /// <summary>Calibrated activation ranges, for the static int8 forms.</summary>
    public KeyEmbed.Architectures.Int8Calibration? Int8Calibration { get; init; }

    /// <summary>x · W (+ bias) with W int8 per output column, in this graph's <see cref="Int8Form"/>.</summary>
    public string QuantizedLinear(string name, string x, float[] kernel, int inputs, int outputs, string? bias) =>
        Onnx.QuantizedLinear.Emit(this, Int8Form, Int8Calibration, name, x, kernel, inputs, outputs, bias);

    public GraphBuilder(string graphName, int opset = DefaultOpset)
    {
        _graph = new GraphProto { Name = graphName };
        _opset = opset;
    }

    /// <summary>Prefixes the names of values made inside the returned scope, so the graph reads like the model.</summary>
    public IDisposable Scope(string name)
    {
        _scopes.Push(name);
        return new ScopeExit(_scopes);
    }

    /// <summary>Declares a graph input; a dimension is a <c>long</c> (fixed) or a <c>string</c> (symbolic).</summary>
    public string Input(string name, ElementType type, params object[] dims)
    {
        _graph.Input.Add(ValueInfo(name, type, dims));
        _usedNames.Add(name);
        return name;
    }

    /// <summary>Exposes <paramref name="value"/> as the graph output <paramref name="name"/>.</summary>
    public void Output(string name, string value, ElementType type, params object[] dims)
    {
        if (name != value) Node("Identity", [value], outputName: name);
        _graph.Output.Add(ValueInfo(name, type, dims));
    }

    /// <summary>Adds a float32 initializer (weights).</summary>
    public string Initializer(string name, ReadOnlySpan<float> data, params long[] shape) => RawInitializer(name, ElementType.Float, data, shape);

    /// <summary>Adds an int64 initializer (shapes, indexes).</summary>
    public string Initializer(string name, ReadOnlySpan<long> data, params long[] shape) => RawInitializer(name, ElementType.Int64, data, shape);

    /// <summary>Adds an int8 initializer (quantized weights).</summary>
    public string Initializer(string name, ReadOnlySpan<sbyte> data, params long[] shape) => RawInitializer(name, ElementType.Int8, data, shape);

    /// <summary>Adds a uint8 initializer (quantized weights or activations' zero points).</summary>
    public string Initializer(string name, ReadOnlySpan<byte> data, params long[] shape) => RawInitializer(name, ElementType.UInt8, data, shape);

    // Little-endian raw_data of the element type, as ONNX stores it.
    private string RawInitializer<T>(string name, ElementType type, ReadOnlySpan<T> data, long[] shape) where T : unmanaged
    {
        CheckElementCount(name, data.Length, shape);
        var tensor = new TensorProto { Name = UniqueName(name), DataType = (int)type };
        tensor.Dims.AddRange(shape);
        tensor.RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data));
        _graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    /// <summary>A float32 scalar constant, shared by every use of the same value.</summary>
    public string Scalar(float value)
    {
        string key = "f:" + BitConverter.SingleToInt32Bits(value);
        if (!_constants.TryGetValue(key, out var name))
            _constants[key] = name = Initializer("const_f", [value]);
        return name;
    }

    /// <summary>A 1-D int64 constant (shapes, axes), shared by every use of the same values.</summary>
    public string Int64s(params long[] values)
    {
        string key = "i:" + string.Join(",", values);
        if (!_constants.TryGetValue(key, out var name))
            _constants[key] = name = Initializer("const_i", values, values.Length);
        return name;
    }

    /// <summary>An int64 scalar constant (0-D).</summary>
    public string Int64Scalar(long value)
    {
        string key = "is:" + value;
        if (!_constants.TryGetValue(key, out var name))
            _constants[key] = name = Initializer("const_is", [value]);
        return name;
    }

    /// <summary>Emits one node with a single output and returns that output's name.</summary>
    public string Node(string opType, string[] inputs, IReadOnlyDictionary<string, object>? attributes = null,
        string? outputName = null, string domain = "")
        => NodeMulti(opType, inputs, 1, attributes, outputName is null ? null : [outputName], domain)[0];

    /// <summary>Emits one node with several outputs. An empty input name means "omitted optional input".</summary>
    public string[] NodeMulti(string opType, string[] inputs, int outputCount,
        IReadOnlyDictionary<string, object>? attributes = null, string[]? outputNames = null, string domain = "")
    {
        var node = new NodeProto { OpType = opType, Domain = domain, Name = UniqueName(opType) };
        node.Input.AddRange(inputs);
        var outputs = new string[outputCount];
        for (int i = 0; i < outputCount; i++)
        {
            outputs[i] = outputNames?[i] ?? UniqueName(opType.ToLowerInvariant());
            _usedNames.Add(outputs[i]);
        }
        node.Output.AddRange(outputs);
        if (attributes != null)
            foreach (var (key, value) in attributes) node.Attribute.Add(Attribute(key, value));
        if (domain == "com.microsoft") _usesMicrosoftDomain = true;
        _graph.Node.Add(node);
        return outputs;
    }

    // ---- typed helpers (ONNX opset 17 semantics) ----
    public string MatMul(string a, string b) => Node("MatMul", [a, b]);
    public string Add(string a, string b) => Node("Add", [a, b]);
    public string Sub(string a, string b) => Node("Sub", [a, b]);
    public string Mul(string a, string b) => Node("Mul", [a, b]);
    public string Div(string a, string b) => Node("Div", [a, b]);
    public string Neg(string x) => Node("Neg", [x]);
    public string Erf(string x) => Node("Erf", [x]);
    public string Tanh(string x) => Node("Tanh", [x]);
    public string Relu(string x) => Node("Relu", [x]);
    public string Sin(string x) => Node("Sin", [x]);
    public string Cos(string x) => Node("Cos", [x]);
    public string Shape(string x) => Node("Shape", [x]);
    public string Equal(string a, string b) => Node("Equal", [a, b]);
    public string Not(string x) => Node("Not", [x]);
    public string Where(string condition, string a, string b) => Node("Where", [condition, a, b]);
    public string Identity(string x) => Node("Identity", [x]);
    public string Gather(string data, string indices, long axis = 0) => Node("Gather", [data, indices], new Dictionary<string, object> { ["axis"] = axis });
    public string Cast(string x, ElementType to) => Node("Cast", [x], new Dictionary<string, object> { ["to"] = (long)to });
    public string Softmax(string x, long axis = -1) => Node("Softmax", [x], new Dictionary<string, object> { ["axis"] = axis });
    public string Transpose(string x, params long[] perm) => Node("Transpose", [x], new Dictionary<string, object> { ["perm"] = perm });
    public string Reshape(string x, params long[] shape) => Node("Reshape", [x, Int64s(shape)]);
    public string ReshapeTo(string x, string shape) => Node("Reshape", [x, shape]);
    public string Unsqueeze(string x, params long[] axes) => Node("Unsqueeze", [x, Int64s(axes)]);
    public string Squeeze(string x, params long[] axes) => Node("Squeeze", [x, Int64s(axes)]);
    public string Concat(long axis, params string[] inputs) => Node("Concat", inputs, new Dictionary<string, object> { ["axis"] = axis });
    public string ReduceSum(string x, long[] axes, bool keepDims = true) =>
        Node("ReduceSum", [x, Int64s(axes)], new Dictionary<string, object> { ["keepdims"] = keepDims ? 1L : 0L });
    public string ReduceMax(string x, long[] axes, bool keepDims = true) =>
        Node("ReduceMax", [x], new Dictionary<string, object> { ["axes"] = axes, ["keepdims"] = keepDims ? 1L : 0L });

    /// <summary>Slices <paramref name="x"/> along <paramref name="axes"/>; starts and ends are value names (int64 1-D).</summary>
    public string Slice(string x, string starts, string ends, string axes) => Node("Slice", [x, starts, ends, axes]);

    /// <summary>LayerNormalization over the last axis.</summary>
    public string LayerNorm(string x, string scale, string bias, float epsilon) =>
        Node("LayerNormalization", [x, scale, bias], new Dictionary<string, object> { ["axis"] = -1L, ["epsilon"] = epsilon });

    /// <summary><c>x · W + b</c> with W stored <c>[in, out]</c>.</summary>
    public string Linear(string x, string weightInOut, string? bias) =>
        bias is null ? MatMul(x, weightInOut) : Add(MatMul(x, weightInOut), bias);

    /// <summary>GELU, exact form: <c>0.5·x·(1 + erf(x/√2))</c>.</summary>
    public string GeluErf(string x) =>
        Mul(Mul(x, Scalar(0.5f)), Add(Scalar(1f), Erf(Div(x, Scalar(MathF.Sqrt(2f))))));

    /// <summary>GELU, tanh approximation: <c>0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))</c>.</summary>
    public string GeluTanh(string x)
    {
        string cube = Mul(Mul(x, x), x);
        string inner = Mul(Add(x, Mul(cube, Scalar(0.044715f))), Scalar(MathF.Sqrt(2f / MathF.PI)));
        return Mul(Mul(x, Scalar(0.5f)), Add(Scalar(1f), Tanh(inner)));
    }

    // ---- generic helpers for index arithmetic and masks (added for relative-position models) ----
    public string Range(string start, string limit, string delta) => Node("Range", [start, limit, delta]);
    public string Expand(string x, string shape) => Node("Expand", [x, shape]);
    public string Less(string a, string b) => Node("Less", [a, b]);
    public string Greater(string a, string b) => Node("Greater", [a, b]);
    public string And(string a, string b) => Node("And", [a, b]);
    public string Or(string a, string b) => Node("Or", [a, b]);

    /// <summary>Clamps <paramref name="x"/> to [<paramref name="min"/>, <paramref name="max"/>] (value names of 0-D tensors).</summary>
    public string Clip(string x, string min, string max) => Node("Clip", [x, min, max]);

    /// <summary>A tensor of the runtime shape <paramref name="shape"/> (int64 1-D value) filled with an int64 value.</summary>
    public string ConstantOfShape(string shape, long value)
    {
        var fill = new TensorProto { DataType = (int)ElementType.Int64 };
        fill.Dims.Add(1);
        fill.Int64Data.Add(value);
        return Node("ConstantOfShape", [shape], new Dictionary<string, object> { ["value"] = fill });
    }

    /// <summary>Dimension <paramref name="axis"/> of <paramref name="x"/> at run time, as a 1-D int64 tensor of one element.</summary>
    public string Dim(string x, long axis) => Slice(Shape(x), Int64s(axis), Int64s(axis + 1), Int64s(0));

    // ---- ONNX Runtime contrib operators (domain com.microsoft; docs/ContribOperators.md in microsoft/onnxruntime) ----
    private const string Microsoft = "com.microsoft";

    /// <summary>Bidirectional multi-head self-attention with the Q/K/V projections merged: weights [in, 3·hidden], bias [3·hidden], mask int32 [B, T] (1 = attend).</summary>
    public string FusedAttention(string x, string weights, string bias, string maskInt32, int heads) =>
        Node("Attention", [x, weights, bias, maskInt32], new Dictionary<string, object> { ["num_heads"] = (long)heads }, domain: Microsoft);

    /// <summary>Multi-head attention over already projected query, key and value [B, T, hidden]; mask int32 [B, T] (1 = attend).</summary>
    public string MultiHeadAttention(string query, string key, string value, string maskInt32, int heads) =>
        Node("MultiHeadAttention", [query, key, value, "", maskInt32], new Dictionary<string, object> { ["num_heads"] = (long)heads }, domain: Microsoft);

    /// <summary>LayerNorm(x + skip + bias) over the last axis in one kernel.</summary>
    public string SkipLayerNorm(string x, string skip, string scale, string shift, string? bias, float epsilon) =>
        Node("SkipLayerNormalization", bias is null ? [x, skip, scale, shift] : [x, skip, scale, shift, bias],
            new Dictionary<string, object> { ["epsilon"] = epsilon }, domain: Microsoft);

    /// <summary>GELU (erf form) of x + bias in one kernel.</summary>
    public string BiasGelu(string x, string bias) => Node("BiasGelu", [x, bias], domain: Microsoft);

    /// <summary>GELU (tanh approximation) of x + bias in one kernel.</summary>
    public string FastGelu(string x, string bias) => Node("FastGelu", [x, bias], domain: Microsoft);

    /// <summary>x · dequantized W (+ bias): activations quantized per call to uint8, W int8 [in, out] with one scale per output column.</summary>
    public string DynamicQuantizeMatMul(string x, string weightsInt8, string columnScales, string? bias, string? columnZeroPoints = null) =>
        Node("DynamicQuantizeMatMul", bias is null && columnZeroPoints is null ? [x, weightsInt8, columnScales] : [x, weightsInt8, columnScales, columnZeroPoints ?? "", bias ?? ""], domain: Microsoft);

    /// <summary>
    /// Quantized A (uint8, per-tensor scale and zero point) · quantized B (one scale per output column), dequantized to
    /// float32 (+ bias) in one kernel.
    /// </summary>
    public string MatMulIntegerToFloat(string a, string b, string aScale, string bScale, string aZeroPoint, string? bias) =>
        Node("MatMulIntegerToFloat", bias is null ? [a, b, aScale, bScale, aZeroPoint] : [a, b, aScale, bScale, aZeroPoint, "", bias], domain: Microsoft);

    /// <summary>Splits <paramref name="x"/> along <paramref name="axis"/> into parts of the given sizes.</summary>
    public string[] Split(string x, long axis, params long[] sizes) =>
        NodeMulti("Split", [x, Int64s(sizes)], sizes.Length, new Dictionary<string, object> { ["axis"] = axis });

    /// <summary>
    /// Mean of <paramref name="states"/> [B, T, H] over the positions where <paramref name="maskFloat"/> [B, T] is 1
    /// (sum over kept tokens ÷ max(count, 1e-9), as sentence-transformers pools) → [B, H].
    /// </summary>
    public string MaskedMean(string states, string maskFloat)
    {
        string summed = Squeeze(MatMul(Unsqueeze(maskFloat, 1), states), 1);
        string count = Node("Max", [ReduceSum(maskFloat, [1]), Scalar(1e-9f)]);
        return Div(summed, count);
    }

    /// <summary>Builds the model. Call once.</summary>
    public ModelProto Build(string producer = "KeyEmbed")
    {
        var model = new ModelProto
        {
            IrVersion = 8,
            ProducerName = producer,
            Graph = _graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = _opset });
        if (_usesMicrosoftDomain) model.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.microsoft", Version = 1 });
        return model;
    }

    private string UniqueName(string stem)
    {
        string prefix = _scopes.Count == 0 ? "" : string.Join("/", _scopes.Reverse()) + "/";
        string name = prefix + stem;
        while (!_usedNames.Add(name)) name = $"{prefix}{stem}_{++_counter}";
        return name;
    }

    private static void CheckElementCount(string name, int count, long[] shape)
    {
        long expected = shape.Aggregate(1L, (a, b) => a * b);
        if (expected != count)
            throw new ArgumentException($"initializer '{name}': {count} values for shape [{string.Join(", ", shape)}]");
    }

    private static ValueInfoProto ValueInfo(string name, ElementType type, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
        {
            var dim = new TensorShapeProto.Types.Dimension();
            if (d is string symbol) dim.DimParam = symbol;
            else dim.DimValue = Convert.ToInt64(d, System.Globalization.CultureInfo.InvariantCulture);
            shape.Dim.Add(dim);
        }
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }

    private static AttributeProto Attribute(string name, object value)
    {
        var attribute = new AttributeProto { Name = name };
        switch (value)
        {
            case long l: attribute.Type = AttributeProto.Types.AttributeType.Int; attribute.I = l; break;
            case int i: attribute.Type = AttributeProto.Types.AttributeType.Int; attribute.I = i; break;
            case float f: attribute.Type = AttributeProto.Types.AttributeType.Float; attribute.F = f; break;
            case string s: attribute.Type = AttributeProto.Types.AttributeType.String; attribute.S = ByteString.CopyFromUtf8(s); break;
            case long[] ls: attribute.Type = AttributeProto.Types.AttributeType.Ints; attribute.Ints.AddRange(ls); break;
            case float[] fs: attribute.Type = AttributeProto.Types.AttributeType.Floats; attribute.Floats.AddRange(fs); break;
            case TensorProto t: attribute.Type = AttributeProto.Types.AttributeType.Tensor; attribute.T = t; break;
            default: throw new ArgumentException($"attribute '{name}': unsupported type {value.GetType().Name}");
        }
        return attribute;
    }

    private sealed class ScopeExit(Stack<string> scopes) : IDisposable
    {
        public void Dispose() => scopes.Pop();
    }
}
