using System.Globalization;
using KeyEmbed.Checkpoints.Safetensors;

namespace KeyEmbed.Tests.Fixtures;

/// <summary>
/// A Hugging Face XLNet folder in a temp dir that reads real text: the tiny random model of
/// <c>golden/xlnet-tiny-bi</c> (3 layers, d_model 16) with its word embedding widened to XLNet's 32000-piece vocabulary
/// (seeded random rows), a <c>config.json</c>, and the real <c>spiece.model</c> copied from <c>../shared/models</c>.
/// Nothing lands in the repository; the folder is deleted on dispose.
/// </summary>
internal sealed class TinyXLNetFolder : IDisposable
{
    public const int Vocabulary = 32000;
    public const int DModel = 16;
    public const int Layers = 3;

    private readonly TempDir _dir = new();

    /// <param name="memoryLength">The config's <c>mem_len</c> (null: none, as in the released configs).</param>
    public TinyXLNetFolder(int? memoryLength = null)
    {
        Path = _dir.Path;
        using (var golden = new SafetensorsReader(SharedData.Golden("xlnet-tiny-bi", "model.safetensors")))
        {
            var writer = new SafetensorsWriter();
            var random = new Random(20261125);
            var embedding = new float[Vocabulary * DModel];
            for (int i = 0; i < embedding.Length; i++) embedding[i] = (float)(random.NextDouble() * 2 - 1);
            foreach (var tensor in golden.Tensors)
            {
                if (tensor.Name == "transformer.word_embedding.weight") writer.Add(tensor.Name, [Vocabulary, DModel], embedding);
                else writer.Add(tensor.Name, tensor.Shape, golden.ReadFloat32(tensor.Name));
            }
            writer.Save(_dir.File("model.safetensors"));
        }
        string memory = memoryLength is { } m ? m.ToString(CultureInfo.InvariantCulture) : "null";
        File.WriteAllText(_dir.File("config.json"), $$"""
            {
              "model_type": "xlnet", "architectures": ["XLNetModel"],
              "d_model": {{DModel}}, "n_layer": {{Layers}}, "n_head": 2, "d_head": 8, "d_inner": 32,
              "ff_activation": "gelu", "untie_r": true, "attn_type": "bi", "vocab_size": {{Vocabulary}},
              "layer_norm_eps": 1e-12, "mem_len": {{memory}}, "reuse_len": null, "clamp_len": -1,
              "same_length": false, "bi_data": false, "pad_token_id": 5
            }
            """);
        File.Copy(SharedData.Models("xlnet-spiece", "spiece.model"), _dir.File("spiece.model"));
    }

    public string Path { get; }

    public void Dispose() => _dir.Dispose();
}
