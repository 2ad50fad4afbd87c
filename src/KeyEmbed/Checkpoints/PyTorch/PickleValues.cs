namespace KeyEmbed.Checkpoints.PyTorch;

// The inert values SafeUnpickler builds. Besides these it produces null, bool, long, double, string, byte[]
// and List<object?>; nothing a file names is ever instantiated or called.

/// <summary>A Python tuple.</summary>
internal sealed record PickleTuple(object?[] Items);

/// <summary>A Python dict or collections.OrderedDict; keys keep their insertion order.</summary>
internal sealed class PickleDict
{
    public OrderedDictionary<object, object?> Items { get; } = new();
}

/// <summary>A reference to one allow-listed global (module and name); a marker, never a loaded type.</summary>
internal sealed record PickleGlobal(string Module, string Name)
{
    public string FullName => Module + "." + Name;
}

/// <summary>A torch storage named by a persistent id: its element type, its key in the archive, its length.</summary>
internal sealed record StorageRef(TensorDType DType, string Key, long ElementCount);

/// <summary>A tensor as torch rebuilds it: a view (offset, sizes, strides in elements) over a storage.</summary>
internal sealed record TensorRef(StorageRef Storage, long Offset, long[] Size, long[] Stride);
