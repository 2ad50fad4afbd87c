namespace KeyEmbed.Checkpoints;

/// <summary>Where a canonical weight may be stored in a checkpoint, and whether it is stored transposed.</summary>
/// <param name="StoredName">The tensor's name in the checkpoint.</param>
/// <param name="Transposed">True when a 2-D tensor is stored as the transpose of its canonical layout
/// (TensorFlow kernels are <c>[in, out]</c>, canonical Linear weights <c>[out, in]</c>).</param>
internal sealed record WeightLocation(string StoredName, bool Transposed = false);

/// <summary>An architecture's table from canonical weight names to the names real checkpoints use.</summary>
internal interface IWeightNames
{
    /// <summary>Every place the canonical weight may be stored, most likely first.</summary>
    IEnumerable<WeightLocation> Candidates(string canonicalName);
}

/// <summary>
/// A prefix-scoped, shape-checked view of a checkpoint (in the spirit of candle's VarBuilder): architecture code asks
/// for <c>scope.Prefix("encoder.layer.0").Tensor("output.dense.weight", 384, 1536)</c> by canonical name and shape,
/// and gets float32 data in the canonical layout, or an error naming the weight, the file and what was expected.
/// Scopes made by <see cref="Prefix"/> share one record of which stored tensors were used.
/// </summary>
internal sealed class WeightScope
{
    private readonly ITensorSource _source;
    private readonly IWeightNames _names;
    private readonly string _prefix;
    private readonly HashSet<string> _used;
    private readonly Dictionary<string, SortedSet<string>> _uses;

    public WeightScope(ITensorSource source, IWeightNames names)
        : this(source, names, "", new HashSet<string>(StringComparer.Ordinal), new Dictionary<string, SortedSet<string>>(StringComparer.Ordinal))
    {
    }

    private WeightScope(ITensorSource source, IWeightNames names, string prefix, HashSet<string> used, Dictionary<string, SortedSet<string>> uses)
    {
        _source = source;
        _names = names;
        _prefix = prefix;
        _used = used;
        _uses = uses;
    }

    public ITensorSource Source => _source;

    /// <summary>A view whose names are relative to <c>prefix.</c>.</summary>
    public WeightScope Prefix(string prefix) => new(_source, _names, Full(prefix), _used, _uses);

    /// <summary>Stored tensors used so far (by <see cref="Tensor"/> or <see cref="Check"/>).</summary>
    public IReadOnlyCollection<string> Used => _used;

    /// <summary>Each used stored tensor's canonical names (several where layers share it), with "[transposed]" where it was read transposed.</summary>
    public IReadOnlyDictionary<string, SortedSet<string>> Uses => _uses;

    /// <summary>Stored tensors never asked for, in file order.</summary>
    public IReadOnlyList<string> Unused() => [.. _source.Tensors.Select(t => t.Name).Where(n => !_used.Contains(n))];

    /// <summary>Whether the canonical weight exists in the checkpoint (under any of its names).</summary>
    public bool Contains(string name) => TryLocate(Full(name), out _, out _);

    /// <summary>Checks that a weight exists with the expected canonical shape, without reading it; returns its element count.</summary>
    public long Check(string name, params long[] expectedShape)
    {
        var (location, info) = Locate(name, expectedShape);
        Record(location, name);
        return info.ElementCount;
    }

    /// <summary>Reads a weight as float32 in its canonical layout, checking its shape first.</summary>
    public float[] Tensor(string name, params long[] expectedShape)
    {
        var (location, info) = Locate(name, expectedShape);
        Record(location, name);
        var data = _source.ReadFloat32(location.StoredName);
        return location.Transposed ? Transpose(data, (int)info.Shape[0], (int)info.Shape[1]) : data;
    }

    /// <summary>The canonical shape a weight has in the checkpoint (transposition undone), or null when absent.</summary>
    public long[]? ShapeOf(string name)
    {
        if (!TryLocate(Full(name), out var location, out var info)) return null;
        return location.Transposed ? [info.Shape[1], info.Shape[0]] : info.Shape;
    }

    /// <summary>Transposes a row-major <c>[rows, cols]</c> matrix.</summary>
    public static float[] Transpose(float[] data, int rows, int cols)
    {
        var result = new float[data.Length];
        for (int r = 0; r < rows; r++)
        {
            int rowStart = r * cols;
            for (int c = 0; c < cols; c++) result[c * rows + r] = data[rowStart + c];
        }
        return result;
    }

    private (WeightLocation Location, TensorInfo Info) Locate(string name, long[] expectedShape)
    {
        string full = Full(name);
        if (!TryLocate(full, out var location, out var info))
        {
            var tried = _names.Candidates(full).Select(c => $"'{c.StoredName}'").Distinct();
            throw new KeyEmbedException(ErrorKind.MissingWeight,
                $"{_source.Path}: weight '{full}' not found (looked for {string.Join(", ", tried)}); the checkpoint is incomplete or is not this architecture");
        }
        long[] canonical = location.Transposed ? [info.Shape[1], info.Shape[0]] : info.Shape;
        if (!canonical.SequenceEqual(expectedShape))
            throw new KeyEmbedException(ErrorKind.ShapeMismatch,
                $"{_source.Path}: weight '{location.StoredName}' has shape {Text(canonical)}{(location.Transposed ? " (after transposing the stored kernel)" : "")} but the config implies {Text(expectedShape)}; the config does not match the weights");
        if (!TensorConversion.IsFloating(info.DType))
            throw KeyEmbedException.Checkpoint(_source.Path, $"weight '{location.StoredName}' is {info.DType}; a floating type was expected");
        return (location, info);
    }

    private bool TryLocate(string full, out WeightLocation location, out TensorInfo info)
    {
        foreach (var candidate in _names.Candidates(full))
            if (_source.TryGetInfo(candidate.StoredName, out info)
                && (!candidate.Transposed || info.Shape.Length == 2))
            {
                location = candidate;
                return true;
            }
        location = null!;
        info = null!;
        return false;
    }

    private void Record(WeightLocation location, string name)
    {
        _used.Add(location.StoredName);
        if (!_uses.TryGetValue(location.StoredName, out var canonical)) _uses[location.StoredName] = canonical = new(StringComparer.Ordinal);
        canonical.Add(Full(name) + (location.Transposed ? " [transposed]" : ""));
    }

    private string Full(string name) => _prefix.Length == 0 ? name : _prefix + "." + name;

    private static string Text(long[] shape) => "[" + string.Join(", ", shape) + "]";
}
