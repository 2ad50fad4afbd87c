using System.Runtime.InteropServices;
using System.Text.Json;
using KeyEmbed.Checkpoints;
using KeyEmbed.Checkpoints.TensorBundle;
using KeyEmbed.Checkpoints.TensorBundle.Proto;
using KeyEmbed.Tests.Fixtures;

namespace KeyEmbed.Tests.Checkpoints;

public sealed class TensorBundleReaderTests
{
    private static readonly string BertPrefix = SharedData.Golden("bert-tf-keras", "bert_model.ckpt");
    private static readonly string XlnetPrefix = SharedData.Golden("xlnet-tf-empty", "xlnet_model.ckpt");

    private static JsonElement Config(string folder, string file) =>
        JsonDocument.Parse(File.ReadAllText(SharedData.Golden(folder, file))).RootElement;

    private static long[] ShapeOf(ITensorSource source, string name)
    {
        Assert.True(source.TryGetInfo(name, out var info), $"{name} is missing");
        return info.Shape;
    }

    [Fact]
    public void Bert_checkpoint_shapes_match_its_config()
    {
        var config = Config("bert-tf-keras", "bert_config.json");
        long vocab = config.GetProperty("vocab_size").GetInt64(), hidden = config.GetProperty("hidden_size").GetInt64();
        long intermediate = config.GetProperty("intermediate_size").GetInt64();
        using var reader = new TensorBundleReader(BertPrefix);

        Assert.Equal("tensorflow", reader.Format);
        Assert.Equal(1, reader.ShardCount);
        Assert.Equal([vocab, hidden], ShapeOf(reader, "bert/embeddings/word_embeddings"));
        Assert.Equal([config.GetProperty("max_position_embeddings").GetInt64(), hidden], ShapeOf(reader, "bert/embeddings/position_embeddings"));
        Assert.Equal([config.GetProperty("type_vocab_size").GetInt64(), hidden], ShapeOf(reader, "bert/embeddings/token_type_embeddings"));
        for (int layer = 0; layer < config.GetProperty("num_hidden_layers").GetInt32(); layer++)
        {
            string p = $"bert/encoder/layer_{layer}/";
            foreach (var part in new[] { "query", "key", "value" })
                Assert.Equal([hidden, hidden], ShapeOf(reader, p + $"attention/self/{part}/kernel"));
            Assert.Equal([hidden, intermediate], ShapeOf(reader, p + "intermediate/dense/kernel"));
            Assert.Equal([intermediate, hidden], ShapeOf(reader, p + "output/dense/kernel"));
            Assert.Equal([hidden], ShapeOf(reader, p + "output/LayerNorm/gamma"));
        }
        Assert.False(reader.TryGetInfo($"bert/encoder/layer_{config.GetProperty("num_hidden_layers").GetInt32()}/output/dense/kernel", out _));
    }

    [Fact]
    public void Bert_checkpoint_lists_optimizer_slots_heads_and_step_as_stored()
    {
        using var reader = new TensorBundleReader(BertPrefix + ".index");
        var names = reader.Tensors.Select(t => t.Name).ToList();
        // Counts from the case's README.
        Assert.Equal(92, names.Count(n => n.EndsWith("/adam_m", StringComparison.Ordinal) || n.EndsWith("/adam_v", StringComparison.Ordinal)));
        Assert.Equal(7, names.Count(n => n.StartsWith("cls/", StringComparison.Ordinal) && !n.Contains("/adam_")));
        Assert.Contains("global_step", names);
        Assert.Equal(TensorDType.I64, reader.Tensors.Single(t => t.Name == "global_step").DType);
        Assert.Equal(names.Order(StringComparer.Ordinal), names); // table order is key order
        Assert.Empty(reader.UnreadableTensors);
    }

    [Fact]
    public void Bert_weights_read_as_plausible_numbers()
    {
        using var reader = new TensorBundleReader(BertPrefix);
        var embeddings = reader.ReadFloat32("bert/embeddings/word_embeddings");
        Assert.Equal(15 * 4, embeddings.Length);
        Assert.All(embeddings, v => Assert.True(float.IsFinite(v) && Math.Abs(v) < 1f, $"{v} is not a small initialised weight"));
        Assert.True(embeddings.Distinct().Count() > embeddings.Length / 2, "weights should not repeat");
        var gamma = reader.ReadFloat32("bert/encoder/layer_0/output/LayerNorm/gamma");
        Assert.All(gamma, g => Assert.InRange(g, 0.5f, 1.5f)); // LayerNorm scales start at 1
        var step = Assert.Single(reader.ReadInt64("global_step"));
        Assert.True(step >= 0);
        foreach (var t in reader.Tensors.Where(t => t.DType == TensorDType.F32))
            Assert.Equal(t.ElementCount, reader.ReadFloat32(t.Name).Length); // every CRC checks out
    }

    [Fact]
    public void Xlnet_checkpoint_shapes_match_its_config()
    {
        var config = Config("xlnet-tf-empty", "xlnet_config.json");
        long model = config.GetProperty("d_model").GetInt64(), heads = config.GetProperty("n_head").GetInt64();
        long head = config.GetProperty("d_head").GetInt64(), inner = config.GetProperty("d_inner").GetInt64();
        using var reader = new TensorBundleReader(XlnetPrefix);
        Assert.Equal([config.GetProperty("n_token").GetInt64(), model], ShapeOf(reader, "model/transformer/word_embedding/lookup_table"));
        Assert.Equal([heads, head], ShapeOf(reader, "model/transformer/r_w_bias")); // untie_r false: one bias for all layers
        for (int layer = 0; layer < config.GetProperty("n_layer").GetInt32(); layer++)
        {
            foreach (var part in new[] { "q", "k", "v", "o", "r" })
                Assert.Equal([model, heads, head], ShapeOf(reader, $"model/transformer/layer_{layer}/rel_attn/{part}/kernel"));
            Assert.Equal([model, inner], ShapeOf(reader, $"model/transformer/layer_{layer}/ff/layer_1/kernel"));
        }
        var table = reader.ReadFloat32("model/transformer/word_embedding/lookup_table");
        Assert.All(table, v => Assert.True(float.IsFinite(v)));
        Assert.Contains(table, v => v != 0);
    }

    [Fact]
    public void Written_bundle_round_trips_over_several_shards_and_blocks()
    {
        using var dir = new TempDir();
        var random = new Random(7);
        var writer = new TensorBundleWriter { ShardCount = 3, BlockSize = 64, RestartInterval = 3 };
        var expected = new Dictionary<string, (long[] Shape, float[] Data)>();
        for (int i = 0; i < 40; i++)
        {
            string name = $"model/layer_{i % 7}/weights_{i}";
            long[] shape = [i % 4 + 1, 3];
            var data = Enumerable.Range(0, (int)(shape[0] * 3)).Select(_ => (float)random.NextDouble() - 0.5f).ToArray();
            expected[name] = (shape, data);
            writer.Add(name, shape, data);
        }
        writer.Add("step", [], [42L]);
        writer.Save(dir.File("model.ckpt"));
        Assert.Equal(3, Directory.GetFiles(dir.Path, "model.ckpt.data-*-of-00003").Length);

        using var reader = new TensorBundleReader(dir.File("model.ckpt"));
        Assert.Equal(3, reader.ShardCount);
        Assert.Equal(41, reader.Tensors.Count);
        foreach (var (name, (shape, data)) in expected)
        {
            Assert.True(reader.TryGetInfo(name, out var info));
            Assert.Equal(shape, info.Shape);
            Assert.Equal(data, reader.ReadFloat32(name));
        }
        Assert.Equal([42L], reader.ReadInt64("step"));
    }

    [Fact]
    public void Half_bfloat16_double_and_int32_tensors_convert()
    {
        using var dir = new TempDir();
        double[] doubles = [1.5, -2.25, 1e-3];
        Half[] halves = [(Half)0.5f, (Half)(-3f)];
        ushort[] bfloats = [0x3f80, 0xc040]; // 1.0, -3.0
        int[] ints = [-7, 1 << 30];
        new TensorBundleWriter()
            .AddRaw("d", DataType.DtDouble, [3], MemoryMarshal.AsBytes(doubles.AsSpan()).ToArray())
            .AddRaw("h", DataType.DtHalf, [2], MemoryMarshal.AsBytes(halves.AsSpan()).ToArray())
            .AddRaw("b", DataType.DtBfloat16, [2], MemoryMarshal.AsBytes(bfloats.AsSpan()).ToArray())
            .AddRaw("i", DataType.DtInt32, [2], MemoryMarshal.AsBytes(ints.AsSpan()).ToArray())
            .Save(dir.File("m.ckpt"));
        using var reader = new TensorBundleReader(dir.File("m.ckpt.index"));
        Assert.Equal([1.5f, -2.25f, 1e-3f], reader.ReadFloat32("d"));
        Assert.Equal([0.5f, -3f], reader.ReadFloat32("h"));
        Assert.Equal([1f, -3f], reader.ReadFloat32("b"));
        Assert.Equal([-7L, 1L << 30], reader.ReadInt64("i"));
        Rejection.Expect(() => reader.ReadInt64("d"), reader.Path, "'d'", "not an integer");
        Assert.Equal(ErrorKind.MissingWeight, Rejection.Expect(() => reader.ReadFloat32("absent"), ErrorKind.MissingWeight).Kind);
    }

    [Fact]
    public void String_and_partitioned_variables_are_listed_as_unreadable()
    {
        using var dir = new TempDir();
        new TensorBundleWriter()
            .Add("kept", [1], [1f])
            .AddRaw("_CHECKPOINTABLE_OBJECT_GRAPH", DataType.DtString, [], [1, 2, 3])
            .AddRaw("sliced", DataType.DtFloat, [4], [], e => e.Slices.Add(new TensorSlice()))
            .Save(dir.File("m.ckpt"));
        using var reader = new TensorBundleReader(dir.File("m.ckpt"));
        Assert.Equal(["kept"], reader.Tensors.Select(t => t.Name));
        Assert.Contains("DT_STRING", reader.UnreadableTensors["_CHECKPOINTABLE_OBJECT_GRAPH"]);
        Assert.Contains("slices", reader.UnreadableTensors["sliced"]);
        Rejection.Expect(() => reader.ReadFloat32("_CHECKPOINTABLE_OBJECT_GRAPH"), reader.Path, "cannot be read", "DT_STRING");
    }

    [Fact]
    public void Crc32c_matches_the_standard_check_value()
    {
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));
        Assert.Equal(0x12345678u, Crc32C.Unmask(Crc32C.Mask(0x12345678u)));
    }

    [Fact]
    public void Prefix_index_and_data_shard_paths_open_the_same_checkpoint()
    {
        List<string>? first = null;
        foreach (var path in new[] { BertPrefix, BertPrefix + ".index", BertPrefix + ".data-00000-of-00001" })
        {
            using var reader = new TensorBundleReader(path);
            Assert.Equal(BertPrefix + ".index", reader.Path);
            var names = reader.Tensors.Select(t => t.Name).ToList();
            first ??= names;
            Assert.Equal(first, names);
        }
        // Every trained variable has exactly its two Adam slots; global_step has none.
        var all = first!;
        var variables = all.Where(n => !n.EndsWith("/adam_m", StringComparison.Ordinal) && !n.EndsWith("/adam_v", StringComparison.Ordinal) && n != "global_step").ToList();
        Assert.All(variables, v => Assert.True(all.Contains(v + "/adam_m") && all.Contains(v + "/adam_v"), v));
        Assert.Equal(variables.Count * 3 + 1, all.Count);
    }

    [Fact]
    public void Missing_index_names_the_expected_file()
    {
        using var dir = new TempDir();
        Rejection.Expect(() => new TensorBundleReader(dir.File("nothing.ckpt")), "nothing.ckpt.index", "checkpoint index not found");
    }
}
