using KeyEmbed.Architectures.XLNet;
using KeyEmbed.Checkpoints.TensorBundle;
using Xunit.Abstractions;

namespace KeyEmbed.Tests.Architectures.XLNet;

public sealed class XLNetTensorFlowCheckpointTests(ITestOutputHelper output)
{
    [Fact]
    public void Google_release_layout_checkpoint_reproduces_the_golden_outputs()
    {
        using var weights = new TensorBundleReader(SharedData.Golden("xlnet-tf-empty", "xlnet_model.ckpt"));
        var config = XLNetConfig.Load(SharedData.Golden("xlnet-tf-empty", "xlnet_config.json"));
        var map = XLNetWeightMap.Resolve(weights, config);
        Assert.Equal(XLNetNaming.TensorFlow, map.Naming);
        Assert.Empty(map.IgnoredWeights);
        Assert.Equal(XLNetActivation.GeluTanh, config.Activation);
        float worst = XLNetGolden.AssertReproduces("xlnet-tf-empty", weights, config);
        output.WriteLine($"xlnet-tf-empty: max abs error {worst:E2}");
    }

    [Fact]
    public void Untie_r_config_over_shared_TensorFlow_biases_names_the_bias()
    {
        using var weights = new TensorBundleReader(SharedData.Golden("xlnet-tf-empty", "xlnet_model.ckpt"));
        var config = XLNetConfig.Load(SharedData.Golden("xlnet-tf-empty", "xlnet_config.json")) with { UntieR = true };
        var e = Assert.Throws<KeyEmbedException>(() => XLNetGraph.Load(weights, config));
        Assert.Equal(ErrorKind.ShapeMismatch, e.Kind);
        Assert.Contains("'model/transformer/r_w_bias'", e.Message);
        Assert.Contains("[2, 3]", e.Message);
    }
}
