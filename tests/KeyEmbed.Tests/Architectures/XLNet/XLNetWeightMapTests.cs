using KeyEmbed.Architectures.XLNet;
using KeyEmbed.Checkpoints.Safetensors;

namespace KeyEmbed.Tests.Architectures.XLNet;

public sealed class XLNetWeightMapTests
{
    [Theory]
    [InlineData("xlnet-tiny-uni")] // untie_r false: one shared r_*_bias [n_head, d_head]
    [InlineData("xlnet-tiny-bi")]  // untie_r true: r_*_bias stacked [n_layer, n_head, d_head]
    public void TensorFlow_names_and_layouts_reproduce_the_golden_outputs(string caseName)
    {
        using var dir = new TempDir();
        var config = XLNetConfig.Load(SharedData.Golden(caseName, "config.json"));
        string path = dir.File("tf-named.safetensors");
        using (var hf = new SafetensorsReader(SharedData.Golden(caseName, "model.safetensors")))
            WriteWithTensorFlowNames(hf, config, path);
        using var weights = new SafetensorsReader(path);
        var map = XLNetWeightMap.Resolve(weights, config);
        Assert.Equal(XLNetNaming.TensorFlow, map.Naming);
        Assert.Equal(["model/transformer/mask_emb/mask_emb"], map.IgnoredWeights);
        XLNetGolden.AssertReproduces(caseName, weights, config);
    }

    [Fact]
    public void Hugging_Face_names_list_lm_head_and_mask_embedding_as_ignored()
    {
        using var dir = new TempDir();
        string path = dir.File("with-head.safetensors");
        var writer = new SafetensorsWriter();
        using (var hf = new SafetensorsReader(SharedData.Golden("xlnet-tiny-bi", "model.safetensors")))
            foreach (var t in hf.Tensors) writer.Add(t.Name, t.Shape, hf.ReadFloat32(t.Name));
        writer.Add("lm_loss.bias", [64], new float[64]).Save(path);
        using var weights = new SafetensorsReader(path);
        var map = XLNetWeightMap.Resolve(weights, XLNetConfig.Load(SharedData.Golden("xlnet-tiny-bi", "config.json")));
        Assert.Equal(XLNetNaming.HuggingFace, map.Naming);
        Assert.Equal(["transformer.mask_emb", "lm_loss.bias"], map.IgnoredWeights);
    }

    [Fact]
    public void Missing_weight_is_named()
    {
        using var dir = new TempDir();
        string path = CopyWithout(dir, "transformer.layer.1.rel_attn.r_r_bias");
        using var weights = new SafetensorsReader(path);
        var e = Assert.Throws<KeyEmbedException>(() => XLNetGraph.Load(weights, TinyConfig()));
        Assert.Equal(ErrorKind.MissingWeight, e.Kind);
        Assert.Contains("'transformer.layer.1.rel_attn.r_r_bias'", e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Weight_whose_shape_does_not_match_the_config_is_named()
    {
        using var dir = new TempDir();
        string path = dir.File("bad-shape.safetensors");
        var writer = new SafetensorsWriter();
        using (var hf = new SafetensorsReader(SharedData.Golden("xlnet-tiny-bi", "model.safetensors")))
            foreach (var t in hf.Tensors)
                // A layer_1 weight stored [in, out] instead of torch's [out, in].
                writer.Add(t.Name, t.Name == "transformer.layer.2.ff.layer_1.weight" ? [16, 32] : t.Shape, hf.ReadFloat32(t.Name));
        writer.Save(path);
        using var weights = new SafetensorsReader(path);
        var e = Assert.Throws<KeyEmbedException>(() => XLNetGraph.Load(weights, TinyConfig()));
        Assert.Equal(ErrorKind.ShapeMismatch, e.Kind);
        Assert.Contains("'transformer.layer.2.ff.layer_1.weight'", e.Message);
        Assert.Contains("[16, 32]", e.Message);
        Assert.Contains("[32, 16]", e.Message);
    }

    [Fact]
    public void Config_with_another_width_is_a_shape_mismatch_on_the_embedding()
    {
        using var weights = new SafetensorsReader(SharedData.Golden("xlnet-tiny-bi", "model.safetensors"));
        var e = Assert.Throws<KeyEmbedException>(() => XLNetGraph.Load(weights, TinyConfig() with { DModel = 32 }));
        Assert.Equal(ErrorKind.ShapeMismatch, e.Kind);
        Assert.Contains("'transformer.word_embedding.weight'", e.Message);
    }

    [Fact]
    public void Shared_TensorFlow_biases_under_an_untie_r_config_are_a_shape_mismatch()
    {
        using var dir = new TempDir();
        var uni = XLNetConfig.Load(SharedData.Golden("xlnet-tiny-uni", "config.json"));
        string path = dir.File("tf-shared.safetensors");
        using (var hf = new SafetensorsReader(SharedData.Golden("xlnet-tiny-uni", "model.safetensors")))
            WriteWithTensorFlowNames(hf, uni, path);
        using var weights = new SafetensorsReader(path);
        var e = Assert.Throws<KeyEmbedException>(() => XLNetWeightMap.Resolve(weights, uni with { UntieR = true }));
        Assert.Equal(ErrorKind.ShapeMismatch, e.Kind);
        Assert.Contains("'model/transformer/r_w_bias'", e.Message);
        Assert.Contains("untie_r true", e.Message);
    }

    [Fact]
    public void Checkpoint_without_an_XLNet_embedding_says_what_was_looked_for()
    {
        using var dir = new TempDir();
        string path = dir.File("other.safetensors");
        new SafetensorsWriter().Add("bert.embeddings.word_embeddings.weight", [2, 2], [1f, 2f, 3f, 4f]).Save(path);
        using var weights = new SafetensorsReader(path);
        var e = Assert.Throws<KeyEmbedException>(() => XLNetWeightMap.Resolve(weights, TinyConfig()));
        Assert.Equal(ErrorKind.MissingWeight, e.Kind);
        Assert.Contains("model/transformer/word_embedding/lookup_table", e.Message);
        Assert.Contains("transformer.word_embedding.weight", e.Message);
    }

    private static XLNetConfig TinyConfig() => XLNetConfig.Load(SharedData.Golden("xlnet-tiny-bi", "config.json"));

    private static string CopyWithout(TempDir dir, string dropped)
    {
        string path = dir.File("partial.safetensors");
        var writer = new SafetensorsWriter();
        using (var hf = new SafetensorsReader(SharedData.Golden("xlnet-tiny-bi", "model.safetensors")))
            foreach (var t in hf.Tensors.Where(t => t.Name != dropped)) writer.Add(t.Name, t.Shape, hf.ReadFloat32(t.Name));
        writer.Save(path);
        return path;
    }

    /// <summary>Rewrites a Hugging Face XLNet checkpoint the way Google's TensorFlow code stores it.</summary>
    private static void WriteWithTensorFlowNames(SafetensorsReader hf, XLNetConfig c, string path)
    {
        const string root = "model/transformer/";
        int layers = c.LayerCount, n = c.HeadCount, d = c.HeadSize, h = c.DModel, inner = c.InnerSize;
        var writer = new SafetensorsWriter();
        writer.Add(root + "word_embedding/lookup_table", [c.VocabSize, h], hf.ReadFloat32("transformer.word_embedding.weight"));
        writer.Add(root + "mask_emb/mask_emb", [1, 1, h], hf.ReadFloat32("transformer.mask_emb"));
        foreach (var bias in new[] { "r_w_bias", "r_r_bias", "r_s_bias" })
        {
            var perLayer = Enumerable.Range(0, layers).Select(i => hf.ReadFloat32($"transformer.layer.{i}.rel_attn.{bias}")).ToList();
            if (c.UntieR) writer.Add(root + bias, [layers, n, d], perLayer.SelectMany(x => x).ToArray());
            else
            {
                Assert.All(perLayer, p => Assert.Equal(perLayer[0], p)); // HF repeats the shared bias in every layer
                writer.Add(root + bias, [n, d], perLayer[0]);
            }
        }
        writer.Add(root + "seg_embed", [layers, 2, n, d],
            Enumerable.Range(0, layers).SelectMany(i => hf.ReadFloat32($"transformer.layer.{i}.rel_attn.seg_embed")).ToArray());
        for (int i = 0; i < layers; i++)
        {
            string from = $"transformer.layer.{i}.", to = $"{root}layer_{i}/";
            foreach (var p in new[] { "q", "k", "v", "r", "o" })
                writer.Add($"{to}rel_attn/{p}/kernel", [h, n, d], hf.ReadFloat32($"{from}rel_attn.{p}"));
            writer.Add(to + "rel_attn/LayerNorm/gamma", [h], hf.ReadFloat32(from + "rel_attn.layer_norm.weight"));
            writer.Add(to + "rel_attn/LayerNorm/beta", [h], hf.ReadFloat32(from + "rel_attn.layer_norm.bias"));
            writer.Add(to + "ff/layer_1/kernel", [h, inner], Transpose(hf.ReadFloat32(from + "ff.layer_1.weight"), inner, h));
            writer.Add(to + "ff/layer_1/bias", [inner], hf.ReadFloat32(from + "ff.layer_1.bias"));
            writer.Add(to + "ff/layer_2/kernel", [inner, h], Transpose(hf.ReadFloat32(from + "ff.layer_2.weight"), h, inner));
            writer.Add(to + "ff/layer_2/bias", [h], hf.ReadFloat32(from + "ff.layer_2.bias"));
            writer.Add(to + "ff/LayerNorm/gamma", [h], hf.ReadFloat32(from + "ff.layer_norm.weight"));
            writer.Add(to + "ff/LayerNorm/beta", [h], hf.ReadFloat32(from + "ff.layer_norm.bias"));
        }
        writer.Save(path);
    }

    private static float[] Transpose(float[] m, int rows, int cols)
    {
        var t = new float[m.Length];
        for (int r = 0; r < rows; r++)
            for (int col = 0; col < cols; col++) t[col * rows + r] = m[r * cols + col];
        return t;
    }
}
