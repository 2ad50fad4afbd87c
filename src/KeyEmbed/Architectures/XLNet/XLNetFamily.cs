using System.Text.Json;
using KeyEmbed.Checkpoints;
using KeyEmbed.Models;

namespace KeyEmbed.Architectures.XLNet;

/// <summary>XLNet in the registry: Hugging Face <c>config.json</c> or Google's <c>xlnet_config.json</c> + <c>xlnet_model.ckpt</c>.</summary>
internal sealed class XLNetFamily : IArchitectureFamily
{
    public string Name => "xlnet";

    public IReadOnlyList<string> ModelTypes { get; } = ["xlnet"];

    public IReadOnlyList<TensorFlowLayout> TensorFlowLayouts { get; } = [new("xlnet_config.json", "xlnet_model.ckpt", ConfigLayout.GoogleXLNet)];

    public TokenizerKind Tokenizer => TokenizerKind.XLNetSentencePiece;

    public bool HasConfigKeys(JsonElement config) => config.TryGetProperty("n_layer", out _) || config.TryGetProperty("d_model", out _);

    public IEncoderArchitecture Open(ModelFiles files, ITensorSource weights, XLNetRunOverrides? overrides)
    {
        // Either config style (xlnet_config.json or config.json); a tokenizer file is not needed to run ids.
        var config = XLNetConfig.Load(files.ConfigPath
            ?? throw KeyEmbedException.Checkpoint(files.WeightsPath, "no config file beside the XLNet weights; add xlnet_config.json or config.json"));
        return XLNetGraph.Load(weights, config, (overrides ?? new XLNetRunOverrides()).Apply(config.DefaultRunSettings));
    }
}
