using KeyEmbed.Checkpoints.Safetensors;
using KeyEmbed.Cli;
using KeyEmbed.Tests.Architectures.XLNet;

namespace KeyEmbed.Tests.Cli;

public sealed class XLNetCliTests
{
    private static (int Code, string Out, string Error) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CliApp.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Every hidden_states.k / new_mems.k of the case's io file, within 1e-4, and nothing expected missing.</summary>
    private static void AssertFileMatches(string caseName, string outputPath)
    {
        using var expected = new SafetensorsReader(SharedData.Golden(caseName, "io.safetensors"));
        using var actual = new SafetensorsReader(outputPath);
        var names = expected.Tensors.Select(t => t.Name)
            .Where(n => n.StartsWith("hidden_states.", StringComparison.Ordinal) || n.StartsWith("new_mems.", StringComparison.Ordinal)).ToList();
        Assert.Equal(names.Order(StringComparer.Ordinal), actual.Tensors.Select(t => t.Name).Order(StringComparer.Ordinal));
        foreach (var name in names)
        {
            Assert.True(expected.TryGetInfo(name, out var e));
            Assert.True(actual.TryGetInfo(name, out var a));
            Assert.Equal(e.Shape, a.Shape);
            XLNetGolden.AssertClose(expected.ReadFloat32(name), actual.ReadFloat32(name), name);
        }
    }

    [Theory]
    [InlineData("xlnet-tiny-bi")]
    [InlineData("xlnet-tiny-mems")] // mems.k read from the input file, new_mems.k written (mem_len 6 from the config)
    [InlineData("xlnet-tiny-uni")]
    public void Hidden_states_command_reproduces_the_Hugging_Face_golden_cases(string caseName)
    {
        // The golden folders have no spiece.model: ids need no tokenizer.
        using var dir = new TempDir();
        var (code, output, error) = Run("hidden-states", "--model", SharedData.Golden(caseName),
            "--input", SharedData.Golden(caseName, "io.safetensors"), "--output", dir.File("out.safetensors"));
        Assert.True(code == 0, error);
        AssertFileMatches(caseName, dir.File("out.safetensors"));
        if (caseName == "xlnet-tiny-mems") Assert.Contains("3 memories [6, 2, 16]", output);
    }

    [Fact]
    public void Hidden_states_command_runs_the_TensorFlow_checkpoint_with_attn_type_overridden()
    {
        // xlnet_config.json has no attn_type (bi by default); the case was run uni.
        using var dir = new TempDir();
        var (code, _, error) = Run("hidden-states", "--model", SharedData.Golden("xlnet-tf-empty"), "--attn-type", "uni",
            "--input", SharedData.Golden("xlnet-tf-empty", "io.safetensors"), "--output", dir.File("out.safetensors"));
        Assert.True(code == 0, error);
        AssertFileMatches("xlnet-tf-empty", dir.File("out.safetensors"));
        using var written = new SafetensorsReader(dir.File("out.safetensors"));
        Assert.Equal("uni", written.Metadata["attn_type"]);
    }

    [Fact]
    public void Mem_len_option_writes_the_last_positions_of_each_layer_input()
    {
        using var dir = new TempDir();
        var (code, _, error) = Run("hidden-states", "--model", SharedData.Golden("xlnet-tiny-bi"), "--mem-len", "4", "--clamp-len", "-1",
            "--input", SharedData.Golden("xlnet-tiny-bi", "io.safetensors"), "--output", dir.File("out.safetensors"));
        Assert.True(code == 0, error);
        using var written = new SafetensorsReader(dir.File("out.safetensors"));
        Assert.True(written.TryGetInfo("new_mems.2", out var info));
        Assert.Equal([4L, 3, 16], info.Shape);
        var memory = written.ReadFloat32("new_mems.2");
        var input = written.ReadFloat32("hidden_states.2"); // [3, 11, 16]
        for (int p = 0; p < 4; p++)
            for (int row = 0; row < 3; row++)
                for (int c = 0; c < 16; c++)
                    Assert.Equal(input[(row * 11 + 7 + p) * 16 + c], memory[(p * 3 + row) * 16 + c]);
    }

    [Fact]
    public void Hugging_Face_folder_with_pytorch_model_bin_reproduces_the_golden_case()
    {
        using var dir = new TempDir();
        string folder = Path.Combine(dir.Path, "xlnet-torch");
        Directory.CreateDirectory(folder);
        File.Copy(SharedData.Golden("xlnet-tiny-uni", "config.json"), Path.Combine(folder, "config.json"));
        var torch = new KeyEmbed.Tests.Fixtures.PyTorchZipWriter();
        using (var weights = new SafetensorsReader(SharedData.Golden("xlnet-tiny-uni", "model.safetensors")))
            foreach (var t in weights.Tensors) torch.Add(t.Name, t.Shape, weights.ReadFloat32(t.Name));
        torch.Save(Path.Combine(folder, "pytorch_model.bin"));
        var (code, _, error) = Run("hidden-states", "--model", folder,
            "--input", SharedData.Golden("xlnet-tiny-uni", "io.safetensors"), "--output", dir.File("out.safetensors"));
        Assert.True(code == 0, error);
        AssertFileMatches("xlnet-tiny-uni", dir.File("out.safetensors"));
    }

    [Fact]
    public void Inspect_prints_the_XLNet_facts_under_the_labels_BERT_uses_each_once()
    {
        var (code, output, error) = Run("inspect", "--model", SharedData.Golden("xlnet-tiny-mems"));
        Assert.True(code == 0, error);
        foreach (var line in new[] { "architecture: xlnet", "layers: 3", "hidden size: 16 (d_model)", "attention heads: 2 (n_head), head size 8 (d_head)",
                     "attn_type: bi", "mem_len: 6", "clamp_len: none", "untie_r: true", "source format: safetensors", "transformer.mask_emb" })
            Assert.Contains(line, output);
        AssertEachLabelOnce(output);

        (code, output, error) = Run("inspect", "--model", SharedData.Golden("xlnet-tf-empty"));
        Assert.True(code == 0, error);
        foreach (var line in new[] { "architecture: xlnet", "layers: 2", "hidden size: 6 (d_model)", "mem_len: 0 (no memory)",
                     "untie_r: false", "activation: gelu (tanh approximation)", "source format: tensorflow", "ignored tensors: 0" })
            Assert.Contains(line, output);
        AssertEachLabelOnce(output);

        // The labels BERT's inspect prints are XLNet's too.
        var (_, bert, _) = Run("inspect", "--model", SharedData.Golden("bert-tiny-random"));
        foreach (var label in new[] { "layers", "hidden size", "attention heads", "intermediate size", "activation", "vocab size", "max positions", "token types", "layer norm eps", "parameters" })
        {
            Assert.Contains($"\n{label}: ", bert);
            Assert.Contains($"\n{label}: ", output);
        }
    }

    private static void AssertEachLabelOnce(string output)
    {
        var labels = output.Split('\n').Where(l => !l.StartsWith(' ') && l.Contains(": ")).Select(l => l[..l.IndexOf(": ", StringComparison.Ordinal)]).ToList();
        Assert.Equal(labels.Distinct().Count(), labels.Count);
    }

    [Fact]
    public void Unknown_attention_type_is_one_error_line_naming_the_option()
    {
        using var dir = new TempDir();
        var (code, _, error) = Run("hidden-states", "--model", SharedData.Golden("xlnet-tiny-bi"), "--attn-type", "both",
            "--input", SharedData.Golden("xlnet-tiny-bi", "io.safetensors"), "--output", dir.File("out.safetensors"));
        Assert.Equal(CliApp.UserError, code);
        Assert.StartsWith("error: --attn-type", error);
    }

    [Fact]
    public void XLNet_options_on_a_BERT_model_are_refused()
    {
        using var dir = new TempDir();
        var (code, _, error) = Run("hidden-states", "--model", SharedData.Golden("bert-tiny-random"), "--mem-len", "4",
            "--input", SharedData.Golden("bert-tiny-random", "io.safetensors"), "--output", dir.File("out.safetensors"));
        Assert.Equal(CliApp.UserError, code);
        Assert.Contains("XLNet models only", error);
    }

    [Fact]
    public void Memories_for_only_some_layers_are_refused()
    {
        using var dir = new TempDir();
        string input = dir.File("in.safetensors");
        using (var io = new SafetensorsReader(SharedData.Golden("xlnet-tiny-mems", "io.safetensors")))
        {
            var writer = new SafetensorsWriter();
            foreach (var name in new[] { "input_ids", "attention_mask", "token_type_ids" })
                writer.Add(name, [2, 5], io.ReadInt64(name));
            writer.Add("mems.0", [4, 2, 16], io.ReadFloat32("mems.0")).Save(input);
        }
        var (code, _, error) = Run("hidden-states", "--model", SharedData.Golden("xlnet-tiny-mems"),
            "--input", input, "--output", dir.File("out.safetensors"));
        Assert.Equal(CliApp.UserError, code);
        Assert.Contains("mems.0, mems.1, mems.2", error);
    }
}

public sealed class XLNetSegmentCliTests
{
    [Fact]
    public void Segment_length_option_matches_the_library_segment_runner_row_by_row()
    {
        using var dir = new TempDir();
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CliApp.Run(["hidden-states", "--model", SharedData.Golden("xlnet-tiny-mems"), "--segment-length", "2",
            "--input", SharedData.Golden("xlnet-tiny-mems", "io.safetensors"), "--output", dir.File("out.safetensors")], stdout, stderr);
        // The mems case's io file carries mems.k, which segment mode refuses; make an input without them.
        Assert.Equal(CliApp.UserError, code);
        Assert.Contains("empty memory", stderr.ToString());

        string input = dir.File("in.safetensors");
        long[] ids, types;
        using (var io = new SafetensorsReader(SharedData.Golden("xlnet-tiny-mems", "io.safetensors")))
        {
            ids = io.ReadInt64("input_ids");
            types = io.ReadInt64("token_type_ids");
            new SafetensorsWriter().Add("input_ids", [2, 5], ids).Add("token_type_ids", [2, 5], types).Save(input);
        }
        stderr = new StringWriter();
        code = CliApp.Run(["hidden-states", "--model", SharedData.Golden("xlnet-tiny-mems"), "--segment-length", "2",
            "--input", input, "--output", dir.File("out.safetensors")], new StringWriter(), stderr);
        Assert.True(code == 0, stderr.ToString());

        using var weights = new SafetensorsReader(SharedData.Golden("xlnet-tiny-mems", "model.safetensors"));
        var graph = KeyEmbed.Architectures.XLNet.XLNetGraph.Load(weights,
            KeyEmbed.Architectures.XLNet.XLNetConfig.Load(SharedData.Golden("xlnet-tiny-mems", "config.json")));
        using var runner = new KeyEmbed.Architectures.XLNet.XLNetSegmentRunner(graph, 2);
        using var written = new SafetensorsReader(dir.File("out.safetensors"));
        Assert.Equal("6", written.Metadata["mem_len"]);
        for (int row = 0; row < 2; row++)
        {
            var expected = runner.Run(ids[(row * 5)..(row * 5 + 5)], types[(row * 5)..(row * 5 + 5)]);
            for (int k = 0; k <= 3; k++)
                XLNetGolden.AssertClose(expected.HiddenStates[k].Data, written.ReadFloat32($"hidden_states.{k}")[(row * 80)..(row * 80 + 80)], $"row {row} hidden_states.{k}");
            var memory = written.ReadFloat32("new_mems.1"); // [5 kept of 5, 2, 16]: position p of row r at (p * 2 + r)
            for (int p = 0; p < 5; p++)
                XLNetGolden.AssertClose(expected.Memories[1].Data[(p * 16)..(p * 16 + 16)], memory[((p * 2 + row) * 16)..((p * 2 + row) * 16 + 16)], $"row {row} new_mems.1 position {p}");
        }
    }

    [Fact]
    public void Segment_length_on_padded_rows_is_refused()
    {
        using var dir = new TempDir();
        var stderr = new StringWriter();
        int code = CliApp.Run(["hidden-states", "--model", SharedData.Golden("xlnet-tiny-bi"), "--segment-length", "4",
            "--input", SharedData.Golden("xlnet-tiny-bi", "io.safetensors"), "--output", dir.File("out.safetensors")], new StringWriter(), stderr);
        Assert.Equal(CliApp.UserError, code);
        Assert.Contains("without padding", stderr.ToString());
    }
}
