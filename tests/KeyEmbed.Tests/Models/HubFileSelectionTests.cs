using KeyEmbed.Models;

namespace KeyEmbed.Tests.Models;

/// <summary>What <c>keyembed pull</c> takes from a repository's listing: the files KeyEmbed reads and one set of weights.</summary>
public sealed class HubFileSelectionTests
{
    [Fact]
    public void A_sentence_transformers_repository_gives_its_config_tokenizer_pooling_and_safetensors_only()
    {
        string[] listing =
        [
            ".gitattributes", "README.md", "config.json", "config_sentence_transformers.json", "modules.json", "1_Pooling/config.json",
            "sentence_bert_config.json", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt",
            "model.safetensors", "pytorch_model.bin", "tf_model.h5", "onnx/model.onnx", "openvino/openvino_model.bin",
        ];
        var chosen = HubFileSelection.Select("org/st", listing);
        Assert.Equal(
            ["1_Pooling/config.json", "config.json", "model.safetensors", "modules.json", "sentence_bert_config.json",
             "special_tokens_map.json", "tokenizer_config.json", "vocab.txt"],
            chosen.Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("pytorch_model.bin", new[] { "config.json", "pytorch_model.bin", "spiece.model", "tf_model.h5" })]
    [InlineData("model.safetensors.index.json", new[] { "config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors", "pytorch_model.bin" })]
    [InlineData("pytorch_model.bin.index.json", new[] { "config.json", "pytorch_model.bin.index.json", "pytorch_model-00001-of-00002.bin" })]
    [InlineData("model.onnx", new[] { "config.json", "model.onnx", "vocab.txt" })]
    public void One_set_of_weights_is_chosen_safetensors_first(string weights, string[] listing)
    {
        var chosen = HubFileSelection.Select("org/m", listing);
        Assert.Contains(weights, chosen);
        Assert.Single(chosen, f => HubFileSelection.WeightFiles.Contains(f));
    }

    [Fact]
    public void A_google_tensorflow_release_gives_its_config_index_and_data_shards()
    {
        string[] listing = ["bert_config.json", "bert_model.ckpt.index", "bert_model.ckpt.data-00000-of-00001", "bert_model.ckpt.meta", "vocab.txt"];
        Assert.Equal(
            ["bert_config.json", "bert_model.ckpt.data-00000-of-00001", "bert_model.ckpt.index", "vocab.txt"],
            HubFileSelection.Select("google/bert", listing).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_repository_without_readable_weights_is_refused_with_its_listing()
    {
        var e = Assert.Throws<KeyEmbedException>(() => HubFileSelection.Select("org/tf-only", ["config.json", "tf_model.h5", "vocab.txt"]));
        Assert.Equal(ErrorKind.UnsupportedArchitecture, e.Kind);
        Assert.Contains("org/tf-only", e.Message);
        Assert.Contains("tf_model.h5", e.Message);
    }

    [Theory]
    [InlineData("config.json", true)]
    [InlineData("1_Pooling/config.json", true)]
    [InlineData("../config.json", false)]
    [InlineData("a/../../b", false)]
    [InlineData("/etc/passwd", false)]
    [InlineData("a//b", false)]
    [InlineData("a\\b", false)]
    [InlineData("", false)]
    public void Only_plain_relative_paths_are_written_under_a_snapshot(string path, bool safe) =>
        Assert.Equal(safe, HubDownloader.IsSafeRelativePath(path));
}
