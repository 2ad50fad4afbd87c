using KeyEmbed.Architectures;

namespace KeyEmbed.Onnx;

/// <summary>
/// x · W (+ bias) with W quantized per output column, written in one of ONNX Runtime's int8 forms
/// (<see cref="Int8Form"/>). The arithmetic of the weights is the same in every form: symmetric int8 per column
/// (<see cref="WeightQuantization.PerColumnInt8"/>), or those values + 128 as uint8 with zero point 128.
/// </summary>
internal static class QuantizedLinear
{
    /// <summary>Emits the layer; <paramref name="name"/> names its initializers (the weight's is the calibration key).</summary>
    public static string Emit(GraphBuilder b, Int8Form form, Int8Calibration? calibration, string name, string x, float[] kernel, int inputs, int outputs, string? bias)
    {
        var (values, scales) = WeightQuantization.PerColumnInt8(kernel, inputs, outputs);
        if (form == Int8Form.UnsignedWeights)
        {
            var unsigned = new byte[values.Length];
            for (int i = 0; i < values.Length; i++) unsigned[i] = (byte)(values[i] + 128);
            var zeroPoints = new byte[outputs];
            Array.Fill(zeroPoints, (byte)128);
            string unsignedWeights = b.Initializer($"{name}.kernel_uint8", unsigned, inputs, outputs);
            return b.DynamicQuantizeMatMul(x, unsignedWeights, b.Initializer($"{name}.kernel_scale", scales, outputs), bias,
                b.Initializer($"{name}.kernel_zero_point", zeroPoints, outputs));
        }
        string weights = b.Initializer($"{name}.kernel_int8", values, inputs, outputs);
        string scaleName = b.Initializer($"{name}.kernel_scale", scales, outputs);
        switch (form)
        {
            case Int8Form.DynamicQuantizeMatMul:
                return b.DynamicQuantizeMatMul(x, weights, scaleName, bias);
            case Int8Form.MatMulIntegerToFloat:
            {
                var q = b.NodeMulti("DynamicQuantizeLinear", [x], 3);
                return b.MatMulIntegerToFloat(q[0], weights, q[1], scaleName, q[2], bias);
            }
            case Int8Form.StaticMatMulIntegerToFloat:
            {
                var range = RangeOf(calibration, weights);
                var (aScale, aZero) = Uint8Parameters(range.InputMin, range.InputMax);
                string aScaleName = b.Initializer($"{name}.input_scale", [aScale]);
                string aZeroName = b.Initializer($"{name}.input_zero_point", [aZero]);
                string quantized = b.Node("QuantizeLinear", [x, aScaleName, aZeroName]);
                return b.MatMulIntegerToFloat(quantized, weights, aScaleName, scaleName, aZeroName, bias);
            }
            case Int8Form.StaticQLinearMatMul:
            {
                var range = RangeOf(calibration, weights);
                var (aScale, aZero) = Uint8Parameters(range.InputMin, range.InputMax);
                var (yScale, yZero) = Uint8Parameters(range.ProductMin, range.ProductMax);
                string aScaleName = b.Initializer($"{name}.input_scale", [aScale]);
                string aZeroName = b.Initializer($"{name}.input_zero_point", [aZero]);
                string yScaleName = b.Initializer($"{name}.product_scale", [yScale]);
                string yZeroName = b.Initializer($"{name}.product_zero_point", [yZero]);
                string quantized = b.Node("QuantizeLinear", [x, aScaleName, aZeroName]);
                string product = b.Node("QLinearMatMul", [quantized, aScaleName, aZeroName, weights, scaleName,
                    b.Initializer($"{name}.kernel_zero_point", new sbyte[outputs], outputs), yScaleName, yZeroName]);
                string y = b.Node("DequantizeLinear", [product, yScaleName, yZeroName]);
                return bias is null ? y : b.Add(y, bias);
            }
            default:
                throw new InvalidOperationException($"unhandled int8 form {form}");
        }
    }

    private static Int8Range RangeOf(Int8Calibration? calibration, string weightName) =>
        calibration?.Ranges.TryGetValue(weightName, out var range) == true
            ? range
            : throw new InvalidOperationException($"a static int8 form needs a calibrated range for {weightName}");

    /// <summary>
    /// uint8 scale and zero point covering [min, max] widened to hold 0 (as ONNX's DynamicQuantizeLinear does per run):
    /// scale = (max − min) / 255, zero point = round(−min / scale).
    /// </summary>
    public static (float Scale, byte ZeroPoint) Uint8Parameters(float min, float max)
    {
        min = Math.Min(min, 0f);
        max = Math.Max(max, 0f);
        float scale = (max - min) / 255f;
        if (scale <= 0f) return (1f, 0);
        return (scale, (byte)Math.Clamp(MathF.Round(-min / scale, MidpointRounding.ToEven), 0f, 255f));
    }
}
