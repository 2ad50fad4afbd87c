using System.Text.Json;
using KeyEmbed.Architectures.XLNet;
using KeyEmbed.Checkpoints;
using KeyEmbed.Checkpoints.Onnx;
using KeyEmbed.Models;

namespace KeyEmbed.Architectures.Bert;

/// <summary>BERT in the registry: Hugging Face <c>config.json</c>, Google's <c>bert_config.json</c> + <c>bert_model.ckpt</c>, or a bare ONNX export.</summary>
internal sealed class BertFamily : IArchitectureFamily
{
    public string Name => "bert";

    public IReadOnlyList<string> ModelTypes { get; } = ["bert"];

    public IReadOnlyList<TensorFlowLayout> TensorFlowLayouts { get; } = [new("bert_config.json", "bert_model.ckpt", ConfigLayout.GoogleBert)];

    public TokenizerKind Tokenizer => TokenizerKind.WordPiece;

    public bool HasConfigKeys(JsonElement config) => config.TryGetProperty("num_hidden_layers", out _);

    public bool ReadsBareOnnxExports => true;

    public IEncoderArchitecture Open(ModelFiles files, ITensorSource weights, XLNetRunOverrides? overrides)
    {
        ArchitectureRegistry.RefuseOverrides(files, overrides);
        var config = files.ConfigPath != null
            ? BertConfig.Load(files.ConfigPath, googleLayout: files.ConfigLayout == ConfigLayout.GoogleBert)
            : weights is OnnxInitializerReader onnx ? BertConfigInference.FromOnnx(onnx)
            : throw KeyEmbedException.Checkpoint(files.WeightsPath, "no config file beside the weights; add the model's config.json");
        return new BertGraph(config, weights);
    }
}
