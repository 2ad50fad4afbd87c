using KeyEmbed.Architectures.Bert;
using KeyEmbed.Checkpoints;
using KeyEmbed.Checkpoints.Safetensors;
using KeyEmbed.Models;

namespace KeyEmbed.Tests.Architectures.Bert;

public sealed class BertInt8InputEstimateTests
{
    // Must match BertGraph's Int8SmoothedChannels: how many channels the int8 graph treats as loud.
    private const int TreatedChannels = 24;

    [Fact]
    public void Weight_only_estimate_names_the_loudest_channel_of_the_real_hidden_states_among_the_treated_ones()
    {
        using var model = LoadedModel.Open("minilm");
        var config = ((BertGraph)model.Architecture).Config;
        var sizes = BertInt8InputEstimate.Estimate(config, new WeightScope(model.Weights, BertWeightMap.Instance));
        Assert.Equal(config.LayerCount, sizes.Count);
        using var io = new SafetensorsReader(SharedData.Golden("bert-minilm", "io.safetensors"));
        var mask = io.ReadInt64("attention_mask");
        int h = config.HiddenSize;
        for (int layer = 0; layer < config.LayerCount; layer++)
        {
            // Hidden state `layer` is layer `layer`'s Q/K/V input: its loudest channel over the real (unpadded) tokens.
            var hidden = io.ReadFloat32($"hidden_states.{layer}");
            var loudness = new float[h];
            for (int token = 0; token < mask.Length; token++)
                if (mask[token] == 1)
                    for (int c = 0; c < h; c++) loudness[c] = Math.Max(loudness[c], Math.Abs(hidden[token * h + c]));
            int loudest = Array.IndexOf(loudness, loudness.Max());
            var estimate = sizes[layer].AttentionInput;
            var treated = Enumerable.Range(0, h).OrderByDescending(c => estimate[c]).Take(TreatedChannels).ToArray();
            Assert.True(treated.Contains(loudest), $"layer {layer}: channel {loudest} (max |x| {loudness[loudest]:F2}) is not among the estimate's top {TreatedChannels}: {string.Join(", ", treated)}");
            Assert.Equal(h, sizes[layer].UpInput.Length);
            Assert.Equal(config.IntermediateSize, sizes[layer].DownInput.Length);
        }
    }
}
