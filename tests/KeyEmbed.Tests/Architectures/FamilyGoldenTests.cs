using System.Text.RegularExpressions;
using KeyEmbed.Checkpoints.Safetensors;
using KeyEmbed.Cli;
using KeyEmbed.Models;
using KeyEmbed.Runtime;
using KeyEmbed.Tests.Architectures.Bert;
using KeyEmbed.Tests.Fixtures;

namespace KeyEmbed.Tests.Architectures;

/// <summary>RoBERTa, XLM-R, ALBERT, ELECTRA and DistilBERT against their golden hidden states, in every weight layout.</summary>
public sealed partial class FamilyGoldenTests
{
    public static TheoryData<string, string, string> Cases => new()
    {
        { "roberta-tiny-random", "roberta", "roberta." },
        { "xlmr-tiny-random", "xlm-roberta", "roberta." },
        { "albert-tiny-random", "albert", "albert." },
        { "electra-tiny-random", "electra", "electra." },
        { "distilbert-tiny-random", "distilbert", "distilbert." },
    };

    // Through the public library (HiddenStateEncoder), as `hidden-states` runs it.
    private static Dictionary<string, DenseTensor<float>> RunAll(string model, string goldenCase)
    {
        using var encoder = HiddenStateEncoder.Open(model);
        var result = encoder.Run(BertGolden.Inputs(goldenCase), origin: goldenCase);
        Assert.Equal(encoder.LayerCount + 1, result.Tensors.Count);
        return result.Tensors.ToDictionary(t => t.Key, t => t.Value);
    }

    private static Dictionary<string, (float[] Data, long[] Shape)> GoldenWeights(string goldenCase)
    {
        using var reader = new SafetensorsReader(SharedData.Golden(goldenCase, "model.safetensors"));
        return reader.Tensors.ToDictionary(t => t.Name, t => (reader.ReadFloat32(t.Name), t.Shape));
    }

    private static void WriteSafetensors(string path, IEnumerable<KeyValuePair<string, (float[] Data, long[] Shape)>> tensors)
    {
        var writer = new SafetensorsWriter();
        foreach (var (name, (data, shape)) in tensors) writer.Add(name, shape, data);
        writer.Save(path);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void The_library_reproduces_every_hidden_state(string goldenCase, string architecture, string prefix)
    {
        _ = prefix;
        using (var loaded = LoadedModel.Open(SharedData.Golden(goldenCase)))
            Assert.Equal(architecture, loaded.Files.Architecture);
        using (var encoder = HiddenStateEncoder.Open(SharedData.Golden(goldenCase)))
            Assert.Equal(architecture, encoder.Architecture);
        BertGolden.AssertMatches(goldenCase, RunAll(SharedData.Golden(goldenCase), goldenCase));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void The_hidden_states_command_reproduces_every_hidden_state(string goldenCase, string architecture, string prefix)
    {
        _ = (architecture, prefix);
        using var dir = new TempDir();
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CliApp.Run(["hidden-states", "--model", SharedData.Golden(goldenCase),
            "--input", SharedData.Golden(goldenCase, "io.safetensors"), "--output", dir.File("out.safetensors")], stdout, stderr);
        Assert.True(code == 0, stderr.ToString());
        BertGolden.AssertFileMatches(goldenCase, dir.File("out.safetensors"));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Weights_under_the_model_prefix_load_the_same(string goldenCase, string architecture, string prefix)
    {
        _ = architecture;
        using var dir = new TempDir();
        File.Copy(SharedData.Golden(goldenCase, "config.json"), dir.File("config.json"));
        WriteSafetensors(dir.File("model.safetensors"), GoldenWeights(goldenCase).Select(p => KeyValuePair.Create(prefix + p.Key, p.Value)));
        BertGolden.AssertMatches(goldenCase, RunAll(dir.Path, goldenCase));
    }

    [Theory]
    [InlineData("distilbert-tiny-random", "transformer.layer.1.ffn.lin2.weight")]
    [InlineData("albert-tiny-random", "encoder.albert_layer_groups.0.albert_layers.0.full_layer_layer_norm.bias")]
    [InlineData("electra-tiny-random", "embeddings_project.weight")]
    [InlineData("roberta-tiny-random", "encoder.layer.1.attention.self.key.bias")]
    public void A_missing_or_mis_shaped_tensor_names_the_checkpoint_tensor(string goldenCase, string tensor)
    {
        var weights = GoldenWeights(goldenCase);
        using (var dir = new TempDir())
        {
            File.Copy(SharedData.Golden(goldenCase, "config.json"), dir.File("config.json"));
            WriteSafetensors(dir.File("model.safetensors"), weights.Where(p => p.Key != tensor));
            var e = Assert.Throws<KeyEmbedException>(() => LoadedModel.Open(dir.Path));
            Assert.Equal(ErrorKind.MissingWeight, e.Kind);
            Assert.Contains($"'{tensor}'", e.Message);
        }
        using (var dir = new TempDir())
        {
            File.Copy(SharedData.Golden(goldenCase, "config.json"), dir.File("config.json"));
            var (data, shape) = weights[tensor];
            weights[tensor] = (data[..^1], [data.Length - 1]);
            WriteSafetensors(dir.File("model.safetensors"), weights);
            var e = Assert.Throws<KeyEmbedException>(() => LoadedModel.Open(dir.Path));
            Assert.Equal(ErrorKind.ShapeMismatch, e.Kind);
            Assert.Contains($"'{tensor}'", e.Message);
            _ = shape;
        }
    }

    // Google's ALBERT release: bert/embeddings/…, bert/encoder/embedding_hidden_mapping_in, and the shared layers under
    // bert/encoder/transformer/group_G/inner_group_J (attention_1/self, attention_1/output/dense, LayerNorm, ffn_1/…, LayerNorm_1).
    private static (string Name, bool Kernel) AlbertTensorflowName(string hf)
    {
        var m = AlbertLayer().Match(hf);
        string scope, leaf = hf[(hf.LastIndexOf('.') + 1)..];
        if (m.Success)
        {
            string part = m.Groups[3].Value switch
            {
                "attention.query" => "attention_1/self/query",
                "attention.key" => "attention_1/self/key",
                "attention.value" => "attention_1/self/value",
                "attention.dense" => "attention_1/output/dense",
                "attention.LayerNorm" => "LayerNorm",
                "ffn" => "ffn_1/intermediate/dense",
                "ffn_output" => "ffn_1/intermediate/output/dense",
                "full_layer_layer_norm" => "LayerNorm_1",
                var other => throw new InvalidOperationException(other),
            };
            scope = $"bert/encoder/transformer/group_{m.Groups[1].Value}/inner_group_{m.Groups[2].Value}/{part}";
        }
        else if (hf.StartsWith("encoder.embedding_hidden_mapping_in.", StringComparison.Ordinal)) scope = "bert/encoder/embedding_hidden_mapping_in";
        else if (hf.EndsWith("_embeddings.weight", StringComparison.Ordinal)) return ("bert/" + hf[..^".weight".Length].Replace('.', '/'), false);
        else scope = "bert/" + hf[..hf.LastIndexOf('.')].Replace('.', '/');
        return TensorflowLeaf(scope, leaf);
    }

    // Google's / HFL's ELECTRA release: BERT's TF names under electra/, plus electra/embeddings_project.
    private static (string Name, bool Kernel) ElectraTensorflowName(string hf)
    {
        if (hf.EndsWith("_embeddings.weight", StringComparison.Ordinal)) return ("electra/" + hf[..^".weight".Length].Replace('.', '/'), false);
        string scope = "electra/" + LayerIndex().Replace(hf[..hf.LastIndexOf('.')], "layer_$1").Replace('.', '/');
        return TensorflowLeaf(scope, hf[(hf.LastIndexOf('.') + 1)..]);
    }

    private static (string Name, bool Kernel) TensorflowLeaf(string scope, string leaf) =>
        scope.EndsWith("LayerNorm", StringComparison.Ordinal) || scope.EndsWith("LayerNorm_1", StringComparison.Ordinal)
            ? (scope + (leaf == "weight" ? "/gamma" : "/beta"), false)
            : leaf == "weight" ? (scope + "/kernel", true) : (scope + "/bias", false);

    private static void WriteBundle(string prefix, string goldenCase, Func<string, (string Name, bool Kernel)> rename)
    {
        var writer = new TensorBundleWriter { ShardCount = 2 };
        foreach (var (name, (data, shape)) in GoldenWeights(goldenCase))
        {
            var (tfName, kernel) = rename(name);
            writer.Add(tfName, kernel ? [shape[1], shape[0]] : shape, kernel ? KeyEmbed.Checkpoints.WeightScope.Transpose(data, (int)shape[0], (int)shape[1]) : data);
        }
        writer.Add("global_step", [], [1000L]);
        writer.Save(prefix);
    }

    [Fact]
    public void Albert_TensorFlow_release_layout_gives_the_same_hidden_states()
    {
        using var dir = new TempDir();
        // Google's albert_config.json has no model_type; its gelu is the tanh form (the golden's gelu_new).
        string config = File.ReadAllText(SharedData.Golden("albert-tiny-random", "config.json"));
        File.WriteAllText(dir.File("albert_config.json"), ModelType().Replace(config, "").Replace("\"gelu_new\"", "\"gelu\""));
        WriteBundle(dir.File("model.ckpt-best"), "albert-tiny-random", AlbertTensorflowName);
        using (var loaded = LoadedModel.Open(dir.Path))
        {
            Assert.Equal("albert", loaded.Architecture.Name);
            Assert.Equal(CheckpointFormat.TensorFlow, loaded.Files.Format);
        }
        BertGolden.AssertMatches("albert-tiny-random", RunAll(dir.Path, "albert-tiny-random"));
    }

    [Fact]
    public void Electra_TensorFlow_release_layout_gives_the_same_hidden_states_as_its_hugging_face_layout()
    {
        // ELECTRA's TF code computes gelu with tanh: the Hugging Face run it is compared with says gelu_new.
        string config = File.ReadAllText(SharedData.Golden("electra-tiny-random", "config.json"));
        using var hf = new TempDir();
        File.WriteAllText(hf.File("config.json"), config.Replace("\"gelu\"", "\"gelu_new\""));
        File.Copy(SharedData.Golden("electra-tiny-random", "model.safetensors"), hf.File("model.safetensors"));
        using var tf = new TempDir();
        File.WriteAllText(tf.File("small_discriminator_config.json"), ModelType().Replace(config, ""));
        WriteBundle(tf.File("electra_small"), "electra-tiny-random", ElectraTensorflowName);
        using (var loaded = LoadedModel.Open(tf.Path))
            Assert.Equal(("electra", CheckpointFormat.TensorFlow), (loaded.Architecture.Name, loaded.Files.Format));
        var expected = RunAll(hf.Path, "electra-tiny-random");
        var actual = RunAll(tf.Path, "electra-tiny-random");
        foreach (var (name, tensor) in expected)
            Assert.True(tensor.Data.Zip(actual[name].Data).Max(p => Math.Abs(p.First - p.Second)) <= 1e-5f, name);
    }

    // brightmart's albert_zh has no golden: its twin is a BERT whose word table is the product words · projection and
    // whose every layer is the shared one. The BERT path is checked against its goldens; the twins must agree.
    [Fact]
    public void Albert_zh_TensorFlow_layout_projects_the_words_before_the_positions()
    {
        const int vocab = 50, hidden = 16, embedding = 8, layers = 3;
        var golden = GoldenWeights("bert-tiny-random");
        var random = new Random(20191001);
        float[] words = [.. Enumerable.Range(0, vocab * embedding).Select(_ => (float)(random.NextDouble() - 0.5))];
        float[] projection = [.. Enumerable.Range(0, embedding * hidden).Select(_ => (float)(random.NextDouble() - 0.5))];
        var product = new float[vocab * hidden];
        for (int v = 0; v < vocab; v++)
            for (int o = 0; o < hidden; o++)
                product[v * hidden + o] = (float)Enumerable.Range(0, embedding).Sum(i => words[v * embedding + i] * (double)projection[i * hidden + o]);
        var layer0 = golden.Where(p => p.Key.StartsWith("encoder.layer.0.", StringComparison.Ordinal)).ToList();
        string config = File.ReadAllText(SharedData.Golden("bert-tiny-random", "config.json"));

        using var twin = new TempDir();
        // brightmart's gelu is the tanh form.
        File.WriteAllText(twin.File("config.json"), config.Replace("\"gelu\"", "\"gelu_new\""));
        var twinWeights = golden.Where(p => !p.Key.StartsWith("encoder.layer.", StringComparison.Ordinal))
            .Select(p => p.Key == "embeddings.word_embeddings.weight" ? KeyValuePair.Create(p.Key, (product, new long[] { vocab, hidden })) : p)
            .Concat(Enumerable.Range(0, layers).SelectMany(k => layer0.Select(p => KeyValuePair.Create(p.Key.Replace("layer.0.", $"layer.{k}.", StringComparison.Ordinal), p.Value))));
        WriteSafetensors(twin.File("model.safetensors"), twinWeights);

        using var zh = new TempDir();
        File.WriteAllText(zh.File("albert_config_tiny.json"), ModelType().Replace(config, "").Replace("\"vocab_size\"", $"\"embedding_size\": {embedding}, \"vocab_size\""));
        File.Copy(SharedData.Golden("bert-tiny-random", "vocab.txt"), zh.File("vocab.txt"));
        var writer = new TensorBundleWriter { ShardCount = 2 };
        writer.Add("bert/embeddings/word_embeddings", [vocab, embedding], words);
        writer.Add("bert/embeddings/word_embeddings_2", [embedding, hidden], projection);
        foreach (var (name, (data, shape)) in golden.Where(p => p.Key != "embeddings.word_embeddings.weight" && !p.Key.StartsWith("encoder.layer.", StringComparison.Ordinal)))
        {
            var (tfName, kernel) = name.EndsWith("_embeddings.weight", StringComparison.Ordinal)
                ? ("bert/" + name[..^".weight".Length].Replace('.', '/'), false)
                : TensorflowLeaf("bert/" + name[..name.LastIndexOf('.')].Replace('.', '/'), name[(name.LastIndexOf('.') + 1)..]);
            writer.Add(tfName, kernel ? [shape[1], shape[0]] : shape, kernel ? KeyEmbed.Checkpoints.WeightScope.Transpose(data, (int)shape[0], (int)shape[1]) : data);
        }
        foreach (var (name, (data, shape)) in layer0)
        {
            string rest = name["encoder.layer.0.".Length..];
            var (tfName, kernel) = TensorflowLeaf("bert/encoder/layer_shared/" + rest[..rest.LastIndexOf('.')].Replace('.', '/'), rest[(rest.LastIndexOf('.') + 1)..]);
            writer.Add(tfName, kernel ? [shape[1], shape[0]] : shape, kernel ? KeyEmbed.Checkpoints.WeightScope.Transpose(data, (int)shape[0], (int)shape[1]) : data);
        }
        writer.Add("global_step", [], [125000L]);
        writer.Save(zh.File("albert_model.ckpt"));

        using (var loaded = LoadedModel.Open(zh.Path))
        {
            Assert.Equal(("albert", CheckpointFormat.TensorFlow), (loaded.Architecture.Name, loaded.Files.Format));
            Assert.Contains(loaded.Architecture.Facts, f => f.Value.Contains("albert_zh", StringComparison.Ordinal));
            Assert.DoesNotContain(loaded.Architecture.IgnoredWeights, n => n.StartsWith("bert/encoder", StringComparison.Ordinal) || n.StartsWith("bert/embeddings", StringComparison.Ordinal));
        }
        var expected = RunAll(twin.Path, "bert-tiny-random");
        var actual = RunAll(zh.Path, "bert-tiny-random");
        Assert.Equal(layers + 1, actual.Count);
        foreach (var (name, tensor) in expected)
            Assert.True(tensor.Data.Zip(actual[name].Data).Max(p => Math.Abs(p.First - p.Second)) <= 1e-5f, name);
    }

    [GeneratedRegex(@"^encoder\.albert_layer_groups\.(\d+)\.albert_layers\.(\d+)\.(.+)\.[a-z]+$")]
    private static partial Regex AlbertLayer();

    [GeneratedRegex(@"layer\.(\d+)")]
    private static partial Regex LayerIndex();

    [GeneratedRegex("\"model_type\":\\s*\"[a-z-]+\",?")]
    private static partial Regex ModelType();
}
