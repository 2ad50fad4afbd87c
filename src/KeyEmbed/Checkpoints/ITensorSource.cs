namespace KeyEmbed.Checkpoints;

/// <summary>Element types a checkpoint may store. Readers convert floating types to float32 on demand.</summary>
public enum TensorDType
{
    /// <summary>32-bit IEEE float.</summary>
    F32,
    /// <summary>16-bit IEEE float.</summary>
    F16,
    /// <summary>bfloat16.</summary>
    BF16,
    /// <summary>64-bit IEEE float.</summary>
    F64,
    /// <summary>64-bit signed integer.</summary>
    I64,
    /// <summary>32-bit signed integer.</summary>
    I32,
    /// <summary>8-bit signed integer.</summary>
    I8,
    /// <summary>8-bit unsigned integer (also bool).</summary>
    U8,
}

/// <summary>Name, shape and element type of one stored tensor.</summary>
public sealed record TensorInfo(string Name, long[] Shape, TensorDType DType)
{
    /// <summary>Number of elements (1 for a scalar).</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>Shape as text, e.g. <c>[384, 1536]</c>.</summary>
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>
/// What every checkpoint reader is: tensor names, shapes, dtypes, and float32 data on demand.
/// Implementations read lazily (or memory-map) so a large model is not read twice.
/// </summary>
public interface ITensorSource : IDisposable
{
    /// <summary>Short name of the format, e.g. <c>safetensors</c>, <c>tensorflow</c>, <c>pytorch</c>, <c>onnx</c>.</summary>
    string Format { get; }

    /// <summary>The file (or first file) the tensors come from, for error messages.</summary>
    string Path { get; }

    /// <summary>Every tensor's description, in file order.</summary>
    IReadOnlyList<TensorInfo> Tensors { get; }

    /// <summary>Looks a tensor up by its stored name.</summary>
    bool TryGetInfo(string name, out TensorInfo info);

    /// <summary>Reads a floating tensor as float32 (F16, BF16 and F64 are converted), row-major.</summary>
    float[] ReadFloat32(string name);

    /// <summary>Reads an integer tensor as int64, row-major.</summary>
    long[] ReadInt64(string name);
}
