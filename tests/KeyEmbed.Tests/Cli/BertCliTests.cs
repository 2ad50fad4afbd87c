using KeyEmbed.Checkpoints.Safetensors;
using KeyEmbed.Cli;
using KeyEmbed.Tests.Architectures.Bert;

namespace KeyEmbed.Tests.Cli;

public sealed class BertCliTests
{
    private static (int Code, string Out, string Error) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CliApp.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void Hidden_states_command_reproduces_the_tiny_random_golden_case()
    {
        using var dir = new TempDir();
        var (code, _, error) = Run("hidden-states", "--model", SharedData.Golden("bert-tiny-random"),
            "--input", SharedData.Golden("bert-tiny-random", "io.safetensors"), "--output", dir.File("out.safetensors"));
        Assert.True(code == 0, error);
        BertGolden.AssertFileMatches("bert-tiny-random", dir.File("out.safetensors"));
    }

    [Fact]
    [Trait("Resource", "built-in model (90 MB graph)")]
    public void Hidden_states_command_on_the_default_model_reproduces_all_seven_minilm_states()
    {
        using var dir = new TempDir();
        var (code, _, error) = Run("hidden-states",
            "--input", SharedData.Golden("bert-minilm", "io.safetensors"), "--output", dir.File("out.safetensors"));
        Assert.True(code == 0, error);
        using (var output = new SafetensorsReader(dir.File("out.safetensors")))
            Assert.Equal(Enumerable.Range(0, 7).Select(k => $"hidden_states.{k}"), output.Tensors.Select(t => t.Name));
        BertGolden.AssertFileMatches("bert-minilm", dir.File("out.safetensors"));
    }

    [Fact]
    public void Inspect_prints_the_built_in_model_facts()
    {
        var (code, output, error) = Run("inspect");
        Assert.True(code == 0, error);
        foreach (var line in new[] { "architecture: bert", "layers: 6", "hidden size: 384", "attention heads: 12",
                     "intermediate size: 1536", "vocab size: 30522", "max positions: 512", "source format: onnx",
                     "parameters: 22,565,376", "ignored tensors: 3", "pooler.dense.weight (pooler)" })
            Assert.Contains(line, output);
    }

    [Fact]
    public void Inspect_of_a_missing_folder_is_one_error_line_and_exit_code_2()
    {
        var (code, output, error) = Run("inspect", "--model", "/no/such/folder");
        Assert.Equal(CliApp.UserError, code);
        Assert.Equal("", output);
        Assert.StartsWith("error: ", error);
        Assert.Contains("/no/such/folder", error);
        Assert.Single(error.Trim().Split('\n'));
    }

    [Fact]
    public void Hidden_states_without_input_ids_names_the_file()
    {
        using var dir = new TempDir();
        new SafetensorsWriter().Add("ids", [1, 2], [2L, 3L]).Save(dir.File("in.safetensors"));
        var (code, _, error) = Run("hidden-states", "--model", SharedData.Golden("bert-tiny-random"),
            "--input", dir.File("in.safetensors"), "--output", dir.File("out.safetensors"));
        Assert.Equal(CliApp.UserError, code);
        Assert.Contains(dir.File("in.safetensors"), error);
        Assert.Contains("input_ids", error);
        Assert.False(File.Exists(dir.File("out.safetensors")));
    }

    [Fact]
    public void Hidden_states_with_a_mask_of_another_shape_is_rejected()
    {
        using var dir = new TempDir();
        new SafetensorsWriter().Add("input_ids", [1, 2], [2L, 3L]).Add("attention_mask", [1, 3], [1L, 1L, 1L]).Save(dir.File("in.safetensors"));
        var (code, _, error) = Run("hidden-states", "--model", SharedData.Golden("bert-tiny-random"),
            "--input", dir.File("in.safetensors"), "--output", dir.File("out.safetensors"));
        Assert.Equal(CliApp.UserError, code);
        Assert.Contains("attention_mask", error);
    }

    [Theory]
    [InlineData(new long[] { 2, 99, 3 }, "input_ids holds 99")]
    [InlineData(new long[] { 2, -1, 3 }, "input_ids holds -1")]
    public void Hidden_states_with_ids_outside_the_vocabulary_is_an_input_error(long[] ids, string expected)
    {
        using var dir = new TempDir();
        new SafetensorsWriter().Add("input_ids", [1, ids.Length], ids).Save(dir.File("in.safetensors"));
        var (code, _, error) = Run("hidden-states", "--model", SharedData.Golden("bert-tiny-random"),
            "--input", dir.File("in.safetensors"), "--output", dir.File("out.safetensors"));
        Assert.Equal(CliApp.UserError, code);
        Assert.Contains(expected, error);
        Assert.Contains("0..49", error);
    }

    [Fact]
    public void Hidden_states_longer_than_the_positions_is_an_input_error()
    {
        using var dir = new TempDir();
        new SafetensorsWriter().Add("input_ids", [1, 40], Enumerable.Repeat(2L, 40).ToArray()).Save(dir.File("in.safetensors"));
        var (code, _, error) = Run("hidden-states", "--model", SharedData.Golden("bert-tiny-random"),
            "--input", dir.File("in.safetensors"), "--output", dir.File("out.safetensors"));
        Assert.Equal(CliApp.UserError, code);
        Assert.Contains("40 tokens", error);
        Assert.Contains("32 positions", error);
    }
}
