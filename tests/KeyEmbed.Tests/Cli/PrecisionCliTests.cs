using System.Text.Json;
using KeyEmbed.Cli;

namespace KeyEmbed.Tests.Cli;

/// <summary><c>--precision int8</c> (compute) on the embedding commands, apart from <c>--quantize</c> (storage).</summary>
public sealed class PrecisionCliTests
{
    private static (int Code, string Out, string Error) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CliApp.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static float[] Vector(string output)
    {
        using var json = JsonDocument.Parse(output);
        return [.. json.RootElement.GetProperty("data")[0].GetProperty("embedding").EnumerateArray().Select(e => e.GetSingle())];
    }

    [Fact]
    public void Embed_with_precision_int8_gives_float_vectors_close_to_but_not_equal_to_float32()
    {
        var (code, fp32Out, error) = Run("embed", "--format", "json", "machine learning models");
        Assert.True(code == 0, error);
        (code, var int8Out, error) = Run("embed", "--format", "json", "--precision", "int8", "machine learning models");
        Assert.True(code == 0, error);
        var fp32 = Vector(fp32Out);
        var int8 = Vector(int8Out);
        Assert.Equal(fp32.Length, int8.Length);
        double cosine = KeyEmbed.Evaluation.StsBenchmark.Cosine(fp32, int8);
        Assert.InRange(cosine, 0.97, 0.99999);
    }

    [Fact]
    public void An_unknown_precision_is_one_error_line_naming_the_option()
    {
        var (code, _, error) = Run("embed", "--precision", "fp16", "x");
        Assert.Equal(2, code);
        Assert.StartsWith("error: ", error);
        Assert.Contains("--precision", error);
        Assert.Contains("fp16", error);
    }

    [Fact]
    public void Json_settings_name_the_compute_precision_apart_from_the_stored_form()
    {
        var (code, output, error) = Run("embed", "--format", "json", "--precision", "int8", "--quantize", "binary", "machine learning");
        Assert.True(code == 0, error);
        using var json = JsonDocument.Parse(output);
        Assert.Equal("int8", json.RootElement.GetProperty("precision").GetString());
        Assert.Equal("binary", json.RootElement.GetProperty("quantize").GetString());
    }
}
