using KeyEmbed.Architectures.XLNet;

namespace KeyEmbed.Tests.Architectures.XLNet;

public sealed class XLNetConfigTests
{
    [Fact]
    public void Original_config_keys_are_read_with_tanh_gelu_and_original_defaults()
    {
        var c = XLNetConfig.Load(SharedData.Golden("xlnet-tf-empty", "xlnet_config.json"));
        Assert.Equal(XLNetConfigStyle.Original, c.Style);
        Assert.Equal((6, 2, 2, 3, 12, 31), (c.DModel, c.LayerCount, c.HeadCount, c.HeadSize, c.InnerSize, c.VocabSize));
        Assert.False(c.UntieR);
        Assert.Equal(XLNetActivation.GeluTanh, c.Activation);
        Assert.Equal(1e-12f, c.LayerNormEpsilon);
        Assert.Equal(new XLNetRunSettings(XLNetAttentionType.Bi, 0, -1), c.DefaultRunSettings);
    }

    [Fact]
    public void Hugging_Face_config_keys_are_read_with_erf_gelu_and_run_settings()
    {
        var bi = XLNetConfig.Load(SharedData.Golden("xlnet-tiny-bi", "config.json"));
        Assert.Equal(XLNetConfigStyle.HuggingFace, bi.Style);
        Assert.Equal((16, 3, 2, 8, 32, 64), (bi.DModel, bi.LayerCount, bi.HeadCount, bi.HeadSize, bi.InnerSize, bi.VocabSize));
        Assert.Equal(XLNetActivation.GeluErf, bi.Activation);
        Assert.True(bi.UntieR);
        Assert.Equal(0, bi.MemoryLength); // "mem_len": null

        var mems = XLNetConfig.Load(SharedData.Golden("xlnet-tiny-mems", "config.json"));
        Assert.Equal(6, mems.MemoryLength);

        var uni = XLNetConfig.Load(SharedData.Golden("xlnet-tiny-uni", "config.json"));
        Assert.Equal(XLNetActivation.Relu, uni.Activation);
        Assert.Equal(XLNetAttentionType.Uni, uni.AttentionType);
        Assert.Equal(3, uni.ClampLength);
        Assert.False(uni.UntieR);
    }

    [Fact]
    public void Hugging_Face_config_without_d_head_derives_it_and_reads_eps()
    {
        var c = XLNetConfig.Parse("""
            {"model_type":"xlnet","d_model":8,"n_layer":1,"n_head":2,"d_inner":16,"vocab_size":10,
             "ff_activation":"gelu_new","layer_norm_eps":1e-5,"same_length":true,"reuse_len":3}
            """, "config.json");
        Assert.Equal(4, c.HeadSize);
        Assert.Equal(XLNetActivation.GeluTanh, c.Activation);
        Assert.Equal(1e-5f, c.LayerNormEpsilon);
        Assert.True(c.DefaultRunSettings.SameLength);
        Assert.Equal(3, c.DefaultRunSettings.ReuseLength);
    }

    [Fact]
    public void Another_model_type_is_an_unsupported_architecture()
    {
        var e = Assert.Throws<KeyEmbedException>(() => XLNetConfig.Parse("""{"model_type":"bert","d_model":8}""", "x/config.json"));
        Assert.Equal(ErrorKind.UnsupportedArchitecture, e.Kind);
        Assert.Contains("x/config.json", e.Message);
    }

    [Theory]
    [InlineData("""{"d_model":8,"n_head":2,"d_head":4,"d_inner":16,"n_token":10,"ff_activation":"gelu","untie_r":true}""", "'n_layer'")]
    [InlineData("""{"d_model":"8","n_layer":1,"n_head":2,"d_head":4,"d_inner":16,"n_token":10}""", "'d_model'")]
    [InlineData("""{"d_model":8,"n_layer":1,"n_head":2,"d_inner":16,"n_token":10}""", "'d_head'")]
    [InlineData("""{"d_model":8,"n_layer":1,"n_head":2,"d_head":4,"d_inner":16,"n_token":10,"ff_activation":"swish"}""", "swish")]
    [InlineData("""{"model_type":"xlnet","d_model":8,"n_layer":1,"n_head":2,"d_inner":16,"vocab_size":10,"attn_type":"both"}""", "attn_type")]
    [InlineData("""{"model_type":"xlnet","d_model":8,"n_layer":1,"n_head":2,"d_inner":16,"vocab_size":10,"bi_data":true}""", "bi_data")]
    public void Bad_config_names_the_key(string json, string named)
    {
        var e = Assert.Throws<KeyEmbedException>(() => XLNetConfig.Parse(json, "xlnet_config.json"));
        Assert.Contains(named, e.Message);
        Assert.Contains("xlnet_config.json", e.Message);
    }

    [Fact]
    public void Attention_type_parses_both_names()
    {
        Assert.Equal(XLNetAttentionType.Bi, XLNetRunSettings.ParseAttentionType("bi", "--attn-type"));
        Assert.Equal(XLNetAttentionType.Uni, XLNetRunSettings.ParseAttentionType("uni", "--attn-type"));
    }

    [Fact]
    public void Unknown_attention_type_names_the_option()
    {
        var e = Assert.Throws<KeyEmbedException>(() => XLNetRunSettings.ParseAttentionType("left", "--attn-type"));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Contains("--attn-type", e.Message);
    }

    // Fuzz finding (config): an escaped name with an unpaired surrogate threw InvalidOperationException when read.
    [Fact]
    public void An_unpaired_surrogate_escape_in_a_name_is_a_config_error_naming_the_file()
    {
        var e = Assert.Throws<KeyEmbedException>(() => XLNetConfig.Parse("""{"d_in\uDeFF\uDFFFner": 12, "d_model": 6, "n_layer": 1}""", "x/config.json"));
        Assert.Equal(ErrorKind.InvalidCheckpoint, e.Kind);
        Assert.Contains("x/config.json", e.Message);
        Assert.Contains("unpaired surrogate", e.Message);
    }
}
