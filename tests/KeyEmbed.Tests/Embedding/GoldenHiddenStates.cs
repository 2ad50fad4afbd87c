using KeyEmbed.Checkpoints.Safetensors;
using KeyEmbed.Runtime;

namespace KeyEmbed.Tests.Embedding;

/// <summary>Hidden states, ids and masks of one golden case's <c>io.safetensors</c>.</summary>
internal sealed class GoldenHiddenStates
{
    private GoldenHiddenStates(string caseName)
    {
        using var reader = new SafetensorsReader(SharedData.Golden(caseName, "io.safetensors"));
        reader.TryGetInfo("input_ids", out var ids);
        Batch = (int)ids.Shape[0];
        Seq = (int)ids.Shape[1];
        InputIds = reader.ReadInt64("input_ids");
        AttentionMask = reader.ReadInt64("attention_mask");
        for (int k = 0; reader.TryGetInfo($"hidden_states.{k}", out var info); k++)
        {
            States.Add(new DenseTensor<float>(reader.ReadFloat32(info.Name), info.Shape));
            Hidden = (int)info.Shape[2];
        }
    }

    public static GoldenHiddenStates Bert { get; } = new("bert-tiny-random");

    public static GoldenHiddenStates XLNet { get; } = new("xlnet-tiny-bi");

    /// <summary>The built-in model's 7 hidden states for 4 sentences (loaded on first use: ~1 MB).</summary>
    public static GoldenHiddenStates MiniLm => LazyMiniLm.Value;

    private static readonly Lazy<GoldenHiddenStates> LazyMiniLm = new(() => new("bert-minilm"));

    public int Batch { get; }

    public int Seq { get; }

    public int Hidden { get; }

    /// <summary>Number of transformer layers L (hidden states 0..L).</summary>
    public int LayerCount => States.Count - 1;

    public long[] InputIds { get; }

    public long[] AttentionMask { get; }

    public List<DenseTensor<float>> States { get; } = [];

    public Dictionary<string, DenseTensor<float>> Outputs() =>
        States.Select((s, k) => (s, k)).ToDictionary(p => $"hidden_states.{p.k}", p => p.s);

    public float At(int layer, int b, int t, int h) => States[layer].Data[(b * Seq + t) * Hidden + h];

    /// <summary>1 where the token id is one of <paramref name="specialIds"/>.</summary>
    public long[] SpecialMask(params long[] specialIds) => [.. InputIds.Select(id => specialIds.Contains(id) ? 1L : 0L)];
}
