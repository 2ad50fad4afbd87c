using System.Text.Json;
using KeyEmbed.Architectures.Bert;

namespace KeyEmbed.Tests.Architectures.Bert;

public sealed class BertConfigTests
{
    private static BertConfig Parse(string json, bool google = false)
    {
        using var doc = JsonDocument.Parse(json);
        return BertConfig.Parse(doc.RootElement, "test/config.json", google);
    }

    private const string Minimal = """{"vocab_size": 50, "hidden_size": 16, "num_hidden_layers": 3, "num_attention_heads": 2, "intermediate_size": 32, "max_position_embeddings": 32 %EXTRA%}""";

    private static string With(string extra) => Minimal.Replace("%EXTRA%", extra.Length == 0 ? "" : ", " + extra);

    [Fact]
    public void Reads_the_golden_hugging_face_config()
    {
        var c = BertConfig.Load(SharedData.Golden("bert-minilm", "config.json"), googleLayout: false);
        Assert.Equal((30522, 384, 6, 12, 1536, 512, 2, 1e-12), (c.VocabSize, c.HiddenSize, c.LayerCount, c.HeadCount, c.IntermediateSize, c.MaxPositions, c.TypeVocabSize, c.LayerNormEps));
        Assert.Equal(BertActivation.GeluErf, c.Activation);
        Assert.Equal(32, c.HeadSize);
    }

    [Fact]
    public void Google_bert_config_without_eps_defaults_to_1e_12_and_runs_gelu_as_tanh()
    {
        var c = BertConfig.Load(SharedData.Golden("bert-tf-keras", "bert_config.json"), googleLayout: true);
        Assert.Equal(1e-12, c.LayerNormEps);
        Assert.Equal(BertActivation.GeluTanh, c.Activation);
        Assert.Equal((4, 2, 4, 16, 15), (c.HiddenSize, c.LayerCount, c.HeadCount, c.IntermediateSize, c.VocabSize));
    }

    [Theory]
    [InlineData("gelu", false, "GeluErf")]
    [InlineData("gelu", true, "GeluTanh")]
    [InlineData("gelu_new", false, "GeluTanh")]
    [InlineData("gelu_pytorch_tanh", false, "GeluTanh")]
    [InlineData("relu", false, "Relu")]
    public void Hidden_act_maps_to_the_activation_the_reference_computes(string act, bool google, string expected) =>
        Assert.Equal(expected, Parse(With($"\"hidden_act\": \"{act}\""), google).Activation.ToString());

    [Fact]
    public void Layer_norm_eps_is_read() => Assert.Equal(1e-5, Parse(With("\"layer_norm_eps\": 1e-5")).LayerNormEps);

    [Fact]
    public void Unknown_activation_names_the_allowed_values()
    {
        var e = Assert.Throws<KeyEmbedException>(() => Parse(With("\"hidden_act\": \"swish\"")));
        Assert.Equal(ErrorKind.UnsupportedArchitecture, e.Kind);
        Assert.Contains("swish", e.Message);
        Assert.Contains("gelu_new", e.Message);
    }

    [Fact]
    public void Missing_key_names_the_key_and_file()
    {
        var e = Assert.Throws<KeyEmbedException>(() => Parse("""{"vocab_size": 50, "hidden_size": 16}"""));
        Assert.Equal(ErrorKind.InvalidCheckpoint, e.Kind);
        Assert.Contains("num_attention_heads", e.Message);
        Assert.Contains("test/config.json", e.Message);
    }

    [Fact]
    public void Hidden_size_not_divisible_by_heads_is_rejected() =>
        Assert.Contains("multiple", Assert.Throws<KeyEmbedException>(() => Parse(With("").Replace("\"num_attention_heads\": 2", "\"num_attention_heads\": 3"))).Message);

    [Fact]
    public void Relative_position_embeddings_are_unsupported() =>
        Assert.Equal(ErrorKind.UnsupportedArchitecture,
            Assert.Throws<KeyEmbedException>(() => Parse(With("\"position_embedding_type\": \"relative_key\""))).Kind);

    [Fact]
    public void Xlnet_model_type_is_not_a_bert_config() =>
        Assert.Equal(ErrorKind.UnsupportedArchitecture, Assert.Throws<KeyEmbedException>(() => Parse(With("\"model_type\": \"xlnet\""))).Kind);
}
