namespace KeyEmbed.Onnx;

/// <summary>
/// Symmetric per-output-channel int8 quantization of a weight matrix stored [in, out]: column j gets
/// scale_j = max |W[:, j]| / 127 and q = round(W / scale_j) in −127..127, so W ≈ q · scale_j with zero point 0.
/// </summary>
internal static class WeightQuantization
{
    public static (sbyte[] Values, float[] Scales) PerColumnInt8(ReadOnlySpan<float> weights, int rows, int columns)
    {
        if (weights.Length != (long)rows * columns)
            throw new ArgumentException($"{weights.Length} weights for [{rows}, {columns}]", nameof(weights));
        var scales = new float[columns];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++)
                scales[c] = Math.Max(scales[c], Math.Abs(weights[r * columns + c]));
        for (int c = 0; c < columns; c++) scales[c] = scales[c] > 0 ? scales[c] / 127f : 1f;
        var values = new sbyte[weights.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++)
                values[r * columns + c] = (sbyte)Math.Clamp(MathF.Round(weights[r * columns + c] / scales[c], MidpointRounding.ToEven), -127f, 127f);
        return (values, scales);
    }
}
