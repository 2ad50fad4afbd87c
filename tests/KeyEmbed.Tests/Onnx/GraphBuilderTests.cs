using Google.Protobuf;
using KeyEmbed.Onnx;
using KeyEmbed.Runtime;

namespace KeyEmbed.Tests.Onnx;

public sealed class GraphBuilderTests
{
    [Fact]
    public void Built_linear_gelu_graph_runs_in_onnx_runtime()
    {
        var b = new GraphBuilder("test");
        var x = b.Input("x", ElementType.Float, "batch", 2L);
        var w = b.Initializer("w", [1f, 0f, 0f, 1f], 2, 2);
        var bias = b.Initializer("b", [0.5f, -0.5f], 2);
        b.Output("y", b.GeluErf(b.Linear(x, w, bias)), ElementType.Float, "batch", 2L);
        using var session = new EncoderSession(b.Build().ToByteArray());
        var result = session.Run(
            new Dictionary<string, DenseTensor<long>>(), ["y"],
            new Dictionary<string, DenseTensor<float>> { ["x"] = new([1f, 2f], [1, 2]) });
        float Gelu(float v) => 0.5f * v * (1 + (float)Erf(v / Math.Sqrt(2)));
        Assert.Equal(Gelu(1.5f), result["y"].Data[0], 5);
        Assert.Equal(Gelu(1.5f), result["y"].Data[1], 5);
    }

    // Abramowitz–Stegun 7.1.26 is too coarse for 1e-5; use a series that converges for small |x|.
    private static double Erf(double x)
    {
        double sum = 0, term = x;
        for (int n = 0; n < 60; n++)
        {
            sum += term / (2 * n + 1);
            term *= -x * x / (n + 1);
        }
        return 2 / Math.Sqrt(Math.PI) * sum;
    }
}
