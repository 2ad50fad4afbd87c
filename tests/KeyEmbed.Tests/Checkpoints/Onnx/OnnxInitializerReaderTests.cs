using Google.Protobuf;
using KeyEmbed.Architectures.Bert;
using KeyEmbed.Checkpoints;
using KeyEmbed.Checkpoints.Onnx;
using KeyEmbed.Checkpoints.Safetensors;
using KeyEmbed.Models;
using KeyEmbed.Onnx;
using Onnx;

namespace KeyEmbed.Tests.Checkpoints.Onnx;

public sealed class OnnxInitializerReaderTests
{
    private static OnnxInitializerReader BuiltIn() =>
        new(BuiltInModels.ReadMiniLmResource(BuiltInModels.MiniLmModelResource), "built-in");

    [Fact]
    public void Built_in_export_exposes_named_weights_and_names_its_matmul_weights_through_the_bias_add()
    {
        using var reader = BuiltIn();
        Assert.True(reader.TryGetInfo("embeddings.word_embeddings.weight", out var words));
        Assert.Equal([30522L, 384], words.Shape);
        // Stored as unnamed [384, 1536]; exposed [out, in] like a Hugging Face Linear.
        Assert.True(reader.TryGetInfo("encoder.layer.5.intermediate.dense.weight", out var intermediate));
        Assert.Equal([1536L, 384], intermediate.Shape);
        Assert.True(reader.IsTransposedMatMulWeight("encoder.layer.5.intermediate.dense.weight"));
        Assert.True(reader.TryGetInfo("encoder.layer.0.attention.self.query.weight", out _));
        Assert.True(reader.TryGetInfo("pooler.dense.weight", out _));
        Assert.True(reader.TryGetInfo("embeddings.position_ids", out var positions));
        Assert.Equal(TensorDType.I64, positions.DType);
        Assert.Equal(Enumerable.Range(0, 512).Select(i => (long)i), reader.ReadInt64("embeddings.position_ids"));
        // Shape constants (unnamed int64 initializers) are not weights; no MatMul weight is left unnamed.
        Assert.DoesNotContain(reader.Tensors, t => OnnxInitializerReader.IsAutoNamed(t.Name));
        Assert.Equal(6 * 6, reader.Tensors.Count(t => t.Name.StartsWith("encoder.layer.", StringComparison.Ordinal) && t.Name.EndsWith(".weight") && !t.Name.Contains("LayerNorm")));
    }

    [Fact]
    public void Config_inferred_from_the_built_in_graph_matches_the_golden_config()
    {
        using var reader = BuiltIn();
        var inferred = BertConfigInference.FromOnnx(reader);
        var golden = BertConfig.Load(SharedData.Golden("bert-minilm", "config.json"), googleLayout: false);
        Assert.Equal(golden with { Source = inferred.Source }, inferred);
    }

    private static ModelProto MatMulThenBias(bool biasFirst, out float[] weightInOut)
    {
        var b = new GraphBuilder("t");
        string x = b.Input("x", ElementType.Float, "n", 2L);
        weightInOut = [1, 2, 3, 4, 5, 6];
        string w = b.Initializer("onnx::MatMul_7", weightInOut, 2, 3);
        string bias = b.Initializer("dense.bias", [0.5f, 0.25f, 0.125f], 3);
        string product = b.MatMul(x, w);
        b.Output("y", biasFirst ? b.Add(bias, product) : b.Add(product, bias), ElementType.Float, "n", 3L);
        return b.Build();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Matmul_weight_is_exposed_transposed_under_the_bias_name(bool biasFirst)
    {
        var model = MatMulThenBias(biasFirst, out var stored);
        using var reader = new OnnxInitializerReader(model.ToByteArray(), "t.onnx");
        Assert.True(reader.TryGetInfo("dense.weight", out var info));
        Assert.Equal([3L, 2], info.Shape);
        Assert.Equal(WeightScope.Transpose(stored, 2, 3), reader.ReadFloat32("dense.weight"));
        Assert.Equal([0.5f, 0.25f, 0.125f], reader.ReadFloat32("dense.bias"));
        Assert.False(reader.TryGetInfo("onnx::MatMul_7", out _));
    }

    [Fact]
    public void A_matmul_node_without_an_output_names_nothing_and_the_weights_still_read()
    {
        // Found by fuzzing (onnx target, 2026-12-05): the MatMul-to-bias naming read the node's first output without
        // checking it has one (ArgumentOutOfRangeException).
        var model = MatMulThenBias(false, out var stored);
        model.Graph.Node.Single(n => n.OpType == "MatMul").Output.Clear();
        using var reader = new OnnxInitializerReader(model.ToByteArray(), "t.onnx");
        Assert.Equal(stored, reader.ReadFloat32("onnx::MatMul_7"));
        Assert.False(reader.TryGetInfo("dense.weight", out _));
    }

    [Fact]
    public void Unnamed_matrix_without_a_bias_keeps_its_name_and_unnamed_constants_are_left_out()
    {
        var b = new GraphBuilder("t");
        string x = b.Input("x", ElementType.Float, "n", 2L);
        string w = b.Initializer("onnx::MatMul_9", [1f, 2f, 3f, 4f], 2, 2);
        string scale = b.Initializer("onnx::Div_3", [8f], 1);
        b.Output("y", b.Div(b.MatMul(x, w), scale), ElementType.Float, "n", 2L);
        using var reader = new OnnxInitializerReader(b.Build().ToByteArray(), "t.onnx");
        Assert.Equal(["onnx::MatMul_9"], reader.Tensors.Select(t => t.Name));
        Assert.Equal([1f, 2f, 3f, 4f], reader.ReadFloat32("onnx::MatMul_9"));
    }

    [Fact]
    public void Float_data_storage_is_read_like_raw_data()
    {
        var model = MatMulThenBias(false, out _);
        var tensor = new TensorProto { Name = "extra", DataType = (int)TensorProto.Types.DataType.Float };
        tensor.Dims.Add(2);
        tensor.FloatData.Add(1.5f);
        tensor.FloatData.Add(-2f);
        model.Graph.Initializer.Add(tensor);
        using var reader = new OnnxInitializerReader(model.ToByteArray(), "t.onnx");
        Assert.Equal([1.5f, -2f], reader.ReadFloat32("extra"));
    }

    [Fact]
    public void External_data_is_rejected_with_what_to_do()
    {
        var model = MatMulThenBias(false, out _);
        var tensor = model.Graph.Initializer.First(t => t.Name == "dense.bias");
        tensor.RawData = ByteString.Empty;
        tensor.DataLocation = TensorProto.Types.DataLocation.External;
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "weights.bin" });
        var e = Assert.Throws<KeyEmbedException>(() => new OnnxInitializerReader(model.ToByteArray(), "t.onnx"));
        Assert.Equal(ErrorKind.InvalidCheckpoint, e.Kind);
        Assert.Contains("t.onnx", e.Message);
        Assert.Contains("external data", e.Message);
    }

    // The built-in export saved with its larger initializers as ONNX external data (one file, consecutive ranges),
    // as onnx.save(model, path, save_as_external_data=True) does; returns the folder's model path.
    private static string SaveWithExternalData(string folder, string dataName = "model.onnx.data")
    {
        var model = ModelProto.Parser.ParseFrom(BuiltInModels.ReadMiniLmResource(BuiltInModels.MiniLmModelResource));
        using (var data = File.Create(Path.Combine(folder, dataName)))
            foreach (var tensor in model.Graph.Initializer.Where(t => t.RawData.Length >= 1024))
            {
                long offset = data.Position;
                data.Write(tensor.RawData.Span);
                tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = dataName });
                tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = tensor.RawData.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                tensor.DataLocation = TensorProto.Types.DataLocation.External;
                tensor.RawData = ByteString.Empty;
            }
        string path = Path.Combine(folder, "model.onnx");
        File.WriteAllBytes(path, model.ToByteArray());
        File.WriteAllBytes(Path.Combine(folder, "vocab.txt"), BuiltInModels.ReadMiniLmResource(BuiltInModels.MiniLmVocabResource));
        return path;
    }

    [Fact]
    public void External_data_beside_the_model_is_read_and_gives_the_same_vectors()
    {
        using var dir = new TempDir();
        string path = SaveWithExternalData(dir.Path);
        Assert.True(new FileInfo(path).Length < 1 << 20, "the .onnx file should hold the graph only");
        using (var reader = new OnnxInitializerReader(path))
        {
            using var builtIn = BuiltIn();
            Assert.Equal(builtIn.Tensors.Select(t => t.Name), reader.Tensors.Select(t => t.Name));
            Assert.Equal(builtIn.ReadFloat32("encoder.layer.3.output.dense.weight"), reader.ReadFloat32("encoder.layer.3.output.dense.weight"));
            Assert.Equal([Path.GetFullPath(dir.File("model.onnx.data"))], reader.ExternalDataFiles);
        }
        var options = new KeyEmbedModelOptions { UseGraphCache = false, CacheBytes = 0 };
        using var external = KeyEmbedModel.Load(dir.Path, options);
        using var reference = KeyEmbedModel.Load("minilm", options);
        string[] texts = ["machine learning", "a man is playing a guitar."];
        // Same plan for both (a bare .onnx folder has no sentence-transformers defaults beside it).
        var plan = new KeyEmbed.Embedding.EmbeddingOptions { Layers = [-1], Pooling = KeyEmbed.Embedding.PoolingMode.Mean, Normalize = true };
        var expected = reference.Embed(texts, plan).Vectors;
        var actual = external.Embed(texts, plan).Vectors;
        for (int i = 0; i < texts.Length; i++) Assert.Equal(expected[i], actual[i]);
        // The data file is part of the weights the graph cache hashes.
        using var loaded = LoadedModel.Open(dir.Path);
        Assert.Contains(Path.GetFullPath(dir.File("model.onnx.data")), loaded.Files.WeightFiles);
    }

    [Fact]
    public void Missing_truncated_or_outside_external_data_is_a_clear_error()
    {
        using var dir = new TempDir();
        string path = SaveWithExternalData(dir.Path);
        string data = dir.File("model.onnx.data");
        byte[] bytes = File.ReadAllBytes(data);

        File.WriteAllBytes(data, bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<KeyEmbedException>(() => new OnnxInitializerReader(path));
        Assert.Equal(ErrorKind.InvalidCheckpoint, e.Kind);
        Assert.Contains("truncated", e.Message);

        File.Delete(data);
        e = Assert.Throws<KeyEmbedException>(() => KeyEmbedModel.Load(dir.Path));
        Assert.Contains("model.onnx.data", e.Message);
        Assert.Contains("missing", e.Message);

        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        foreach (var entry in model.Graph.Initializer.SelectMany(t => t.ExternalData).Where(x => x.Key == "location")) entry.Value = "../elsewhere.data";
        File.WriteAllBytes(path, model.ToByteArray());
        e = Assert.Throws<KeyEmbedException>(() => new OnnxInitializerReader(path));
        Assert.Contains("outside the model's folder", e.Message);
    }

    [Fact]
    public void Raw_data_shorter_than_the_shape_is_rejected()
    {
        var model = MatMulThenBias(false, out _);
        var tensor = model.Graph.Initializer.First(t => t.Name == "dense.bias");
        tensor.RawData = ByteString.CopyFrom(new byte[8]);
        var e = Assert.Throws<KeyEmbedException>(() => new OnnxInitializerReader(model.ToByteArray(), "t.onnx"));
        Assert.Contains("dense.bias", e.Message);
        Assert.Contains("8 bytes", e.Message);
    }

    [Fact]
    public void A_file_that_is_not_onnx_names_the_file()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("model.onnx"), [0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]);
        var e = Assert.Throws<KeyEmbedException>(() => new OnnxInitializerReader(dir.File("model.onnx")));
        Assert.Equal(ErrorKind.InvalidCheckpoint, e.Kind);
        Assert.Contains(dir.File("model.onnx"), e.Message);
    }

    /// <summary>The tiny random BERT's weights as named initializers of an otherwise minimal graph.</summary>
    private static ModelProto TinyExport(bool withReshape, bool withErf)
    {
        var b = new GraphBuilder("tiny");
        string x = b.Input("x", ElementType.Float, "n", 16L);
        using (var source = new SafetensorsReader(SharedData.Golden("bert-tiny-random", "model.safetensors")))
            foreach (var t in source.Tensors) b.Initializer(t.Name, source.ReadFloat32(t.Name), t.Shape);
        string y = x;
        if (withReshape) y = b.Reshape(y, 0, 0, 2, 8);
        if (withErf) y = b.Erf(y);
        b.Output("y", y, ElementType.Float);
        return b.Build();
    }

    [Fact]
    public void Bare_export_without_head_count_in_its_graph_asks_for_a_config_json()
    {
        using var reader = new OnnxInitializerReader(TinyExport(withReshape: false, withErf: true).ToByteArray(), "tiny.onnx");
        var e = Assert.Throws<KeyEmbedException>(() => BertConfigInference.FromOnnx(reader));
        Assert.Contains("attention heads", e.Message);
        Assert.Contains("config.json", e.Message);
    }

    [Fact]
    public void Bare_export_without_a_recognisable_activation_asks_for_a_config_json()
    {
        using var reader = new OnnxInitializerReader(TinyExport(withReshape: true, withErf: false).ToByteArray(), "tiny.onnx");
        var e = Assert.Throws<KeyEmbedException>(() => BertConfigInference.FromOnnx(reader));
        Assert.Contains("activation", e.Message);
    }

    [Fact]
    public void Bare_onnx_file_runs_with_the_config_inferred_from_its_graph()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("tiny.onnx"), TinyExport(withReshape: true, withErf: true).ToByteArray());
        using var loaded = LoadedModel.Open(dir.File("tiny.onnx"));
        var config = ((BertGraph)loaded.Architecture).Config;
        Assert.Equal((16, 3, 2, 32, 50, 32), (config.HiddenSize, config.LayerCount, config.HeadCount, config.IntermediateSize, config.VocabSize, config.MaxPositions));
        using var session = loaded.CreateSession(loaded.AllHiddenStates);
        var result = session.Run(KeyEmbed.Tests.Architectures.Bert.BertGolden.Inputs("bert-tiny-random"),
            [.. Enumerable.Range(0, 4).Select(k => $"hidden_states.{k}")]);
        KeyEmbed.Tests.Architectures.Bert.BertGolden.AssertMatches("bert-tiny-random", result);
    }
}
