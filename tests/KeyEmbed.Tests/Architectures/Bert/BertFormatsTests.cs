using System.Text.Json.Nodes;
using KeyEmbed.Architectures.Bert;
using KeyEmbed.Checkpoints;
using KeyEmbed.Checkpoints.Safetensors;
using KeyEmbed.Cli;
using KeyEmbed.Models;
using KeyEmbed.Tests.Fixtures;

namespace KeyEmbed.Tests.Architectures.Bert;

/// <summary>BERT from a real TensorFlow checkpoint, and one model in every format giving the same hidden states.</summary>
public sealed class BertFormatsTests
{
    private const string TfCase = "bert-tf-keras";

    [Fact]
    public void Tensorflow_checkpoint_reproduces_the_golden_states_through_the_library()
    {
        using var loaded = LoadedModel.Open(SharedData.Golden(TfCase));
        Assert.Equal("tensorflow", loaded.Weights.Format);
        Assert.Equal(BertActivation.GeluTanh, ((BertGraph)loaded.Architecture).Config.Activation);
        using var session = loaded.CreateSession(loaded.AllHiddenStates);
        var result = session.Run(BertGolden.Inputs(TfCase), ["hidden_states.0", "hidden_states.1", "hidden_states.2"]);
        BertGolden.AssertMatches(TfCase, result);
    }

    [Fact]
    public void Tensorflow_checkpoint_reproduces_the_golden_states_through_the_cli()
    {
        using var dir = new TempDir();
        int code = CliApp.Run(["hidden-states", "--model", SharedData.Golden(TfCase), "--input", SharedData.Golden(TfCase, "io.safetensors"),
            "--output", dir.File("out.safetensors")], new StringWriter(), new StringWriter());
        Assert.Equal(0, code);
        BertGolden.AssertFileMatches(TfCase, dir.File("out.safetensors"));
    }

    [Fact]
    public void Inspect_of_the_tensorflow_checkpoint_lists_slots_heads_step_and_pooler_as_ignored()
    {
        var stdout = new StringWriter();
        Assert.Equal(0, CliApp.Run(["inspect", "--model", SharedData.Golden(TfCase)], stdout, new StringWriter()));
        string output = stdout.ToString();
        Assert.Contains("source format: tensorflow", output);
        Assert.Contains("ignored tensors: 102", output);
        var reasons = output.Split('\n').Where(l => l.StartsWith("  ") && l.TrimEnd().EndsWith(')') && !l.Contains(": ")).ToList();
        Assert.Equal(102, reasons.Count);
        Assert.Equal(92, reasons.Count(l => l.Contains("(optimizer slot)")));
        Assert.Equal(7, reasons.Count(l => l.Contains("(pre-training head)")));
        Assert.Equal(1, reasons.Count(l => l.Contains("(training step counter)")));
        Assert.Equal(2, reasons.Count(l => l.Contains("(pooler)")));
    }

    [Fact]
    public void One_model_as_safetensors_pytorch_zip_and_tensorflow_checkpoint_gives_identical_hidden_states()
    {
        using var dir = new TempDir();
        using var source = new SafetensorsReader(SharedData.Golden("bert-tiny-random", "model.safetensors"));
        var config = JsonNode.Parse(File.ReadAllText(SharedData.Golden("bert-tiny-random", "config.json")))!.AsObject();
        // Google's layout runs "gelu" as the tanh approximation; Hugging Face calls that "gelu_new".
        config["hidden_act"] = "gelu_new";
        var googleConfig = JsonNode.Parse(config.ToJsonString())!.AsObject();
        googleConfig.Remove("model_type");
        googleConfig["hidden_act"] = "gelu";

        string[] folders = ["safetensors", "pytorch", "tensorflow"];
        foreach (var f in folders) Directory.CreateDirectory(dir.File(f));
        var safetensors = new SafetensorsWriter();
        var torch = new PyTorchZipWriter();
        var bundle = new TensorBundleWriter { ShardCount = 2 };
        foreach (var t in source.Tensors)
        {
            var data = source.ReadFloat32(t.Name);
            safetensors.Add(t.Name, t.Shape, data);
            torch.Add("bert." + t.Name, t.Shape, data);
            if (t.Name.StartsWith("pooler.", StringComparison.Ordinal)) continue;
            var tf = BertWeightMap.Instance.Candidates(t.Name).Last();
            if (tf.Transposed) bundle.Add(tf.StoredName, [t.Shape[1], t.Shape[0]], WeightScope.Transpose(data, (int)t.Shape[0], (int)t.Shape[1]));
            else bundle.Add(tf.StoredName, t.Shape, data);
        }
        safetensors.Save(dir.File("safetensors/model.safetensors"));
        torch.Save(dir.File("pytorch/pytorch_model.bin"));
        bundle.Save(dir.File("tensorflow/bert_model.ckpt"));
        File.WriteAllText(dir.File("safetensors/config.json"), config.ToJsonString());
        File.WriteAllText(dir.File("pytorch/config.json"), config.ToJsonString());
        File.WriteAllText(dir.File("tensorflow/bert_config.json"), googleConfig.ToJsonString());

        var names = Enumerable.Range(0, 4).Select(k => $"hidden_states.{k}").ToList();
        var outputs = folders.Select(f =>
        {
            using var loaded = LoadedModel.Open(dir.File(f));
            Assert.Equal(f, loaded.Weights.Format);
            using var session = loaded.CreateSession(loaded.AllHiddenStates);
            return session.Run(BertGolden.Inputs("bert-tiny-random"), names);
        }).ToList();
        foreach (var name in names)
        {
            Assert.Equal(outputs[0][name].Data, outputs[1][name].Data);
            Assert.Equal(outputs[0][name].Data, outputs[2][name].Data);
        }
        // And the tanh form really is in use: it differs from the erf golden reference.
        using var io = new SafetensorsReader(SharedData.Golden("bert-tiny-random", "io.safetensors"));
        var erf = io.ReadFloat32("hidden_states.3");
        Assert.True(erf.Select((v, i) => Math.Abs(v - outputs[2]["hidden_states.3"].Data[i])).Max() > BertGolden.Tolerance);
    }
}
