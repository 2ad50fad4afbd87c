using System.Text.Json.Nodes;
using KeyEmbed.Architectures.Bert;
using KeyEmbed.Checkpoints;
using KeyEmbed.Checkpoints.Safetensors;
using KeyEmbed.Models;

namespace KeyEmbed.Tests.Architectures.Bert;

/// <summary>The tiny random BERT rewritten under other names, layouts and configs.</summary>
public sealed class BertCheckpointVariantsTests
{
    private const string Case = "bert-tiny-random";

    /// <summary>Copies the golden model to a folder, renaming tensors (and transposing where asked) and editing the config.</summary>
    private static string WriteVariant(TempDir dir, Func<string, (string Name, bool Transpose)?> rename,
        Action<JsonObject>? editConfig = null, IEnumerable<(string Name, long[] Shape)>? extras = null)
    {
        using var source = new SafetensorsReader(SharedData.Golden(Case, "model.safetensors"));
        var writer = new SafetensorsWriter();
        foreach (var t in source.Tensors)
        {
            if (rename(t.Name) is not { } target) continue;
            var data = source.ReadFloat32(t.Name);
            if (target.Transpose)
                writer.Add(target.Name, [t.Shape[1], t.Shape[0]], WeightScope.Transpose(data, (int)t.Shape[0], (int)t.Shape[1]));
            else
                writer.Add(target.Name, t.Shape, data);
        }
        foreach (var (name, shape) in extras ?? [])
            writer.Add(name, shape, new float[shape.Aggregate(1L, (a, b) => a * b)]);
        writer.Save(dir.File("model.safetensors"));
        var config = JsonNode.Parse(File.ReadAllText(SharedData.Golden(Case, "config.json")))!.AsObject();
        editConfig?.Invoke(config);
        File.WriteAllText(dir.File("config.json"), config.ToJsonString());
        return dir.Path;
    }

    private static void AssertGolden(string folder)
    {
        using var loaded = LoadedModel.Open(folder);
        using var session = loaded.CreateSession(loaded.AllHiddenStates);
        var result = session.Run(BertGolden.Inputs(Case), [.. Enumerable.Range(0, 4).Select(k => $"hidden_states.{k}")]);
        BertGolden.AssertMatches(Case, result);
    }

    /// <summary>Hugging Face name → Google TensorFlow name (kernels transposed), from the map under test's own table.</summary>
    private static (string, bool)? Tensorflow(string name)
    {
        if (name.StartsWith("pooler.", StringComparison.Ordinal)) return ("bert/pooler/dense/" + (name.EndsWith("weight") ? "kernel" : "bias"), name.EndsWith("weight"));
        var tf = BertWeightMap.Instance.Candidates(name).Last();
        return (tf.StoredName, tf.Transposed);
    }

    [Fact]
    public void Google_tensorflow_names_with_optimizer_slots_and_heads_reproduce_the_golden_states()
    {
        using var dir = new TempDir();
        var folder = WriteVariant(dir, Tensorflow, extras:
        [
            ("bert/encoder/layer_0/attention/self/query/kernel/adam_m", [16, 16]),
            ("bert/encoder/layer_0/attention/self/query/kernel/adam_v", [16, 16]),
            ("cls/predictions/output_bias", [50]),
            ("global_step", [1]),
        ]);
        Assert.Contains("bert/encoder/layer_2/output/dense/kernel", new SafetensorsReader(dir.File("model.safetensors")).Tensors.Select(t => t.Name));
        AssertGolden(folder);
        using var loaded = LoadedModel.Open(folder);
        Assert.Equal(
            ["bert/pooler/dense/kernel", "bert/pooler/dense/bias", "bert/encoder/layer_0/attention/self/query/kernel/adam_m",
             "bert/encoder/layer_0/attention/self/query/kernel/adam_v", "cls/predictions/output_bias", "global_step"],
            loaded.Architecture.IgnoredWeights);
        Assert.All(loaded.Architecture.IgnoredWeights, n => Assert.NotNull(BertWeightMap.WhyIgnored(n)));
    }

    [Fact]
    public void Prefixed_names_with_old_layer_norm_spelling_reproduce_the_golden_states()
    {
        using var dir = new TempDir();
        var folder = WriteVariant(dir, n => ("bert." + n.Replace("LayerNorm.weight", "LayerNorm.gamma").Replace("LayerNorm.bias", "LayerNorm.beta"), false),
            extras: [("cls.predictions.bias", [50]), ("bert.embeddings.position_ids", [1, 32])]);
        AssertGolden(folder);
        using var loaded = LoadedModel.Open(folder);
        Assert.Contains("cls.predictions.bias", loaded.Architecture.IgnoredWeights);
        Assert.Contains("bert.pooler.dense.weight", loaded.Architecture.IgnoredWeights);
    }

    [Fact]
    public void Missing_weight_names_the_weight_and_the_file()
    {
        using var dir = new TempDir();
        var folder = WriteVariant(dir, n => n == "encoder.layer.1.intermediate.dense.bias" ? null : (n, false));
        var e = Assert.Throws<KeyEmbedException>(() => LoadedModel.Open(folder));
        Assert.Equal(ErrorKind.MissingWeight, e.Kind);
        Assert.Contains("encoder.layer.1.intermediate.dense.bias", e.Message);
        Assert.Contains(dir.File("model.safetensors"), e.Message);
    }

    [Fact]
    public void Config_hidden_size_not_matching_the_weights_names_weight_expected_and_actual_shape()
    {
        using var dir = new TempDir();
        var folder = WriteVariant(dir, n => (n, false), c => c["hidden_size"] = 32);
        var e = Assert.Throws<KeyEmbedException>(() => LoadedModel.Open(folder));
        Assert.Equal(ErrorKind.ShapeMismatch, e.Kind);
        Assert.Contains("embeddings.word_embeddings.weight", e.Message);
        Assert.Contains("[50, 16]", e.Message);
        Assert.Contains("[50, 32]", e.Message);
    }

    [Fact]
    public void Wrongly_shaped_weight_is_a_shape_mismatch()
    {
        // Stored transposed under its Hugging Face name: [16, 32] where [32, 16] belongs.
        using var dir = new TempDir();
        var folder = WriteVariant(dir, n => (n, n == "encoder.layer.0.intermediate.dense.weight"));
        var e = Assert.Throws<KeyEmbedException>(() => LoadedModel.Open(folder));
        Assert.Equal(ErrorKind.ShapeMismatch, e.Kind);
        Assert.Contains("encoder.layer.0.intermediate.dense.weight", e.Message);
        Assert.Contains("[16, 32]", e.Message);
        Assert.Contains("[32, 16]", e.Message);
    }

    [Fact]
    public void Config_with_fewer_layers_than_the_weights_is_rejected()
    {
        using var dir = new TempDir();
        var folder = WriteVariant(dir, n => (n, false), c => c["num_hidden_layers"] = 2);
        var e = Assert.Throws<KeyEmbedException>(() => LoadedModel.Open(folder));
        Assert.Equal(ErrorKind.ShapeMismatch, e.Kind);
        Assert.Contains("layer 2", e.Message);
        Assert.Contains("num_hidden_layers = 2", e.Message);
    }

    [Fact]
    public void Config_with_more_layers_than_the_weights_is_a_missing_weight()
    {
        using var dir = new TempDir();
        var folder = WriteVariant(dir, n => (n, false), c => c["num_hidden_layers"] = 4);
        var e = Assert.Throws<KeyEmbedException>(() => LoadedModel.Open(folder));
        Assert.Equal(ErrorKind.MissingWeight, e.Kind);
        Assert.Contains("encoder.layer.3.", e.Message);
    }

    [Theory]
    [InlineData("relu", "Relu")]
    [InlineData("gelu_new", "Tanh")]
    [InlineData("gelu", "Erf")]
    public void Activation_from_the_config_is_the_one_the_graph_computes(string hiddenAct, string onnxOperator)
    {
        using var dir = new TempDir();
        var folder = WriteVariant(dir, n => (n, false), c => c["hidden_act"] = hiddenAct);
        using var loaded = LoadedModel.Open(folder);
        var graph = loaded.Architecture.BuildGraph(new KeyEmbed.Architectures.GraphRequest(3));
        Assert.Equal(3, graph.Graph.Node.Count(n => n.OpType == onnxOperator));
        using var session = new KeyEmbed.Runtime.EncoderSession(Google.Protobuf.MessageExtensions.ToByteArray(graph));
        var last = session.Run(BertGolden.Inputs(Case), ["hidden_states.3"])["hidden_states.3"].Data;
        using var io = new SafetensorsReader(SharedData.Golden(Case, "io.safetensors"));
        var expected = io.ReadFloat32("hidden_states.3");
        float worst = expected.Select((v, i) => Math.Abs(v - last[i])).Max();
        // Only the erf form is the golden reference; the others must really change the result.
        if (hiddenAct == "gelu") Assert.True(worst < BertGolden.Tolerance);
        else Assert.True(worst > BertGolden.Tolerance, $"{hiddenAct} gave the erf result (max diff {worst})");
    }
}
