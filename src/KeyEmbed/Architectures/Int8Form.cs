namespace KeyEmbed.Architectures;

/// <summary>
/// How an int8 linear layer is written for ONNX Runtime. Every form quantizes the weights per output column when the
/// graph is built; they differ in how the activations are quantized and which kernel runs (docs/performance.md, "int8
/// forms", measures each).
/// </summary>
internal enum Int8Form
{
    /// <summary>com.microsoft DynamicQuantizeMatMul: activations uint8 with a per-tensor scale found per run, weights int8 (u8s8). The default.</summary>
    DynamicQuantizeMatMul,

    /// <summary>ONNX DynamicQuantizeLinear, then com.microsoft MatMulIntegerToFloat (u8s8): the same arithmetic in two operators.</summary>
    MatMulIntegerToFloat,

    /// <summary>DynamicQuantizeMatMul with uint8 weights (int8 values + 128, zero point 128 per column): MLAS's u8u8 kernels.</summary>
    UnsignedWeights,

    /// <summary>
    /// Static: activations quantized with a per-tensor scale calibrated once (<see cref="Int8Calibration"/>) by
    /// QuantizeLinear, then MatMulIntegerToFloat (no pass to find each run's range).
    /// </summary>
    StaticMatMulIntegerToFloat,

    /// <summary>
    /// Static, all-integer: QuantizeLinear with a calibrated scale, ONNX QLinearMatMul (its uint8 output on a calibrated
    /// scale too), DequantizeLinear, then the bias in float32.
    /// </summary>
    StaticQLinearMatMul,
}

/// <summary>
/// Calibrated ranges of each int8 linear layer, keyed by the name of its quantized weight initializer in the graph
/// (the same in every form, because a graph's names depend only on its build order): the range of its input, and of
/// its product before the bias (what QLinearMatMul puts on its output scale).
/// </summary>
internal sealed record Int8Calibration(IReadOnlyDictionary<string, Int8Range> Ranges)
{
    /// <summary>A short digest for cache keys.</summary>
    public string Digest()
    {
        string text = string.Join("\n", Ranges.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p =>
            string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{p.Key} {p.Value.InputMin:R} {p.Value.InputMax:R} {p.Value.ProductMin:R} {p.Value.ProductMax:R}")));
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)))[..16];
    }
}

/// <summary>Observed ranges of one int8 linear layer (see <see cref="Int8Calibration"/>).</summary>
internal readonly record struct Int8Range(float InputMin, float InputMax, float ProductMin, float ProductMax);
