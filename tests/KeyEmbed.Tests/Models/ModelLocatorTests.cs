using KeyEmbed.Models;

namespace KeyEmbed.Tests.Models;

public sealed class ModelLocatorTests
{
    private static void Copy(string goldenCase, string file, TempDir dir, string? as_ = null) =>
        File.Copy(SharedData.Golden(goldenCase, file), dir.File(as_ ?? file));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("minilm")]
    [InlineData("MiniLM")]
    public void Built_in_name_or_nothing_is_the_built_in_model(string? model)
    {
        var files = ModelLocator.Locate(model);
        Assert.Equal("minilm", files.BuiltInName);
        Assert.Equal(CheckpointFormat.Onnx, files.Format);
        Assert.Equal("bert", files.Architecture);
        Assert.NotEmpty(files.ReadVocab()!);
    }

    [Fact]
    public void Hugging_face_safetensors_folder_is_detected_with_its_tokenizer_and_pooling_files()
    {
        using var dir = new TempDir();
        Copy("bert-tiny-random", "config.json", dir);
        Copy("bert-tiny-random", "model.safetensors", dir);
        Copy("bert-tiny-random", "vocab.txt", dir);
        File.WriteAllText(dir.File("modules.json"), "[]");
        File.WriteAllText(dir.File("tokenizer_config.json"), "{}");
        Directory.CreateDirectory(dir.File("1_Pooling"));
        File.WriteAllText(dir.File(Path.Combine("1_Pooling", "config.json")), "{}");
        var files = ModelLocator.Locate(dir.Path);
        Assert.Equal(CheckpointFormat.Safetensors, files.Format);
        Assert.Equal(ConfigLayout.HuggingFace, files.ConfigLayout);
        Assert.Equal("bert", files.Architecture);
        Assert.Equal(dir.File("model.safetensors"), files.WeightsPath);
        Assert.Equal(dir.File("vocab.txt"), files.VocabPath);
        Assert.Equal(dir.File("modules.json"), files.ModulesPath);
        Assert.Equal(dir.File("tokenizer_config.json"), files.TokenizerConfigPath);
        Assert.Equal(dir.File(Path.Combine("1_Pooling", "config.json")), files.PoolingConfigPath);
        Assert.Null(files.SentencePiecePath);
    }

    [Fact]
    public void Pytorch_bin_folder_is_detected()
    {
        using var dir = new TempDir();
        Copy("bert-tiny-random", "config.json", dir);
        File.WriteAllBytes(dir.File("pytorch_model.bin"), [1, 2, 3]);
        var files = ModelLocator.Locate(dir.Path);
        Assert.Equal(CheckpointFormat.PyTorch, files.Format);
        Assert.Equal(dir.File("pytorch_model.bin"), files.WeightsPath);
    }

    [Fact]
    public void Google_bert_checkpoint_folder_is_detected_with_prefix_and_shards()
    {
        var folder = SharedData.Golden("bert-tf-keras");
        var files = ModelLocator.Locate(folder);
        Assert.Equal(CheckpointFormat.TensorFlow, files.Format);
        Assert.Equal(ConfigLayout.GoogleBert, files.ConfigLayout);
        Assert.Equal("bert", files.Architecture);
        Assert.Equal(Path.Combine(folder, "bert_model.ckpt"), files.WeightsPath);
        Assert.Equal([Path.Combine(folder, "bert_model.ckpt.index"), Path.Combine(folder, "bert_model.ckpt.data-00000-of-00001")], files.WeightFiles);
        Assert.Equal(Path.Combine(folder, "vocab.txt"), files.VocabPath);
    }

    [Fact]
    public void Google_xlnet_checkpoint_folder_is_xlnet()
    {
        var files = ModelLocator.Locate(SharedData.Golden("xlnet-tf-empty"));
        Assert.Equal("xlnet", files.Architecture);
        Assert.Equal(ConfigLayout.GoogleXLNet, files.ConfigLayout);
        Assert.Equal(CheckpointFormat.TensorFlow, files.Format);
    }

    [Fact]
    public void Hugging_face_xlnet_config_is_xlnet()
    {
        var files = ModelLocator.Locate(SharedData.Golden("xlnet-tiny-bi"));
        Assert.Equal("xlnet", files.Architecture);
        Assert.Equal(CheckpointFormat.Safetensors, files.Format);
    }

    [Fact]
    public void Onnx_file_and_onnx_folder_are_detected_and_use_a_config_beside_them()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("model.onnx"), [0]);
        Copy("bert-tiny-random", "vocab.txt", dir);
        var bare = ModelLocator.Locate(dir.File("model.onnx"));
        Assert.Equal(CheckpointFormat.Onnx, bare.Format);
        Assert.Equal(ConfigLayout.None, bare.ConfigLayout);
        Assert.Equal(dir.File("vocab.txt"), bare.VocabPath);
        Copy("bert-tiny-random", "config.json", dir);
        var withConfig = ModelLocator.Locate(dir.Path);
        Assert.Equal(CheckpointFormat.Onnx, withConfig.Format);
        Assert.Equal(dir.File("config.json"), withConfig.ConfigPath);
    }

    [Fact]
    public void Missing_folder_says_what_model_accepts()
    {
        var e = Assert.Throws<KeyEmbedException>(() => ModelLocator.Locate("/no/such/model-folder"));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Contains("/no/such/model-folder", e.Message);
        Assert.Contains("minilm", e.Message);
    }

    [Fact]
    public void Folder_without_a_model_lists_what_was_expected_and_found()
    {
        using var dir = new TempDir();
        Copy("bert-tiny-random", "vocab.txt", dir);
        Copy("bert-tiny-random", "config.json", dir);
        var e = Assert.Throws<KeyEmbedException>(() => ModelLocator.Locate(dir.Path));
        Assert.Equal(ErrorKind.InvalidCheckpoint, e.Kind);
        Assert.Contains("model.safetensors", e.Message);
        Assert.Contains("bert_config.json", e.Message);
        Assert.Contains("model.onnx", e.Message);
        Assert.Contains("Found: config.json, vocab.txt", e.Message);
    }

    [Fact]
    public void Folder_with_two_models_names_both()
    {
        using var dir = new TempDir();
        Copy("bert-tiny-random", "config.json", dir);
        Copy("bert-tiny-random", "model.safetensors", dir);
        File.WriteAllBytes(dir.File("model.onnx"), [0]);
        var e = Assert.Throws<KeyEmbedException>(() => ModelLocator.Locate(dir.Path));
        Assert.Contains("model.safetensors", e.Message);
        Assert.Contains("model.onnx", e.Message);
        Assert.Contains("more than one model", e.Message);
    }

    [Fact]
    public void A_file_that_is_not_onnx_asks_for_the_folder()
    {
        var e = Assert.Throws<KeyEmbedException>(() => ModelLocator.Locate(SharedData.Golden("bert-tiny-random", "model.safetensors")));
        Assert.Contains("folder", e.Message);
    }

    [Fact]
    public void Unsupported_model_type_is_named()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("config.json"), """{"model_type": "gpt2"}""");
        File.WriteAllBytes(dir.File("model.safetensors"), [0]);
        var e = Assert.Throws<KeyEmbedException>(() => ModelLocator.Locate(dir.Path));
        Assert.Equal(ErrorKind.UnsupportedArchitecture, e.Kind);
        Assert.Contains("gpt2", e.Message);
    }
}
