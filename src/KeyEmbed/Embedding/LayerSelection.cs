using System.Numerics.Tensors;
using KeyEmbed.Runtime;

namespace KeyEmbed.Embedding;

/// <summary>
/// Python-style layer indexes over <c>hidden_states.0..L</c> (0 = embedding output, -1 = last layer) and the
/// combination of several selected layers into one [B, T, H'] tensor.
/// </summary>
internal static class LayerSelection
{
    /// <summary>The graph output that carries hidden state <paramref name="layer"/> (absolute, 0..L).</summary>
    public static string OutputName(int layer) => Runtime.GraphNames.HiddenState(layer);

    /// <summary>The valid index range as text, e.g. <c>-13..12</c> for 12 layers.</summary>
    public static string RangeText(int layerCount) => $"{-(layerCount + 1)}..{layerCount}";

    /// <summary>Maps one Python-style index to an absolute hidden-state number 0..L.</summary>
    public static int Resolve(int index, int layerCount)
    {
        if (index < -(layerCount + 1) || index > layerCount)
            throw KeyEmbedException.Input(
                $"layer {index} is outside this model: it has {layerCount} layers, so hidden states 0..{layerCount} " +
                $"and valid indexes are {RangeText(layerCount)} (0 = embedding output, -1 = last layer)", nameof(EmbeddingOptions.Layers));
        return index < 0 ? layerCount + 1 + index : index;
    }

    /// <summary>Maps several indexes; two indexes naming the same hidden state are an error.</summary>
    public static int[] Resolve(IReadOnlyList<int> indexes, int layerCount)
    {
        var result = new int[indexes.Count];
        for (int i = 0; i < indexes.Count; i++)
        {
            result[i] = Resolve(indexes[i], layerCount);
            for (int j = 0; j < i; j++)
                if (result[j] == result[i])
                    throw KeyEmbedException.Input(
                        $"layers {indexes[j]} and {indexes[i]} both name hidden state {result[i]}; list each layer once", nameof(EmbeddingOptions.Layers));
        }
        return result;
    }

    /// <summary>
    /// Combines the given hidden states (each [B, T, H], same shape, in the order the layers were requested)
    /// by element-wise sum, mean, or concatenation along the last axis.
    /// </summary>
    public static DenseTensor<float> Combine(IReadOnlyList<DenseTensor<float>> states, LayerMode mode)
    {
        if (states.Count == 0) throw new ArgumentException("no hidden states to combine", nameof(states));
        var first = states[0];
        if (first.Shape.Length != 3) throw new ArgumentException($"hidden states must be [B, T, H], got {first.ShapeText}", nameof(states));
        foreach (var s in states)
            if (!s.Shape.AsSpan().SequenceEqual(first.Shape))
                throw new ArgumentException($"hidden states differ in shape: {first.ShapeText} and {s.ShapeText}", nameof(states));
        if (states.Count == 1) return first;

        switch (mode)
        {
            case LayerMode.Sum:
            case LayerMode.Mean:
            {
                var sum = (float[])first.Data.Clone();
                for (int k = 1; k < states.Count; k++) TensorPrimitives.Add(sum, states[k].Data, sum);
                if (mode == LayerMode.Mean) TensorPrimitives.Multiply(sum, 1f / states.Count, sum);
                return new DenseTensor<float>(sum, [.. first.Shape]);
            }
            case LayerMode.Concat:
            {
                int hidden = checked((int)first.Shape[2]);
                int rows = first.Data.Length / Math.Max(hidden, 1);
                int width = hidden * states.Count;
                var result = new float[rows * width];
                for (int r = 0; r < rows; r++)
                    for (int k = 0; k < states.Count; k++)
                        states[k].Data.AsSpan(r * hidden, hidden).CopyTo(result.AsSpan(r * width + k * hidden, hidden));
                return new DenseTensor<float>(result, [first.Shape[0], first.Shape[1], width]);
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(mode), mode, null);
        }
    }

    /// <summary>
    /// Picks the requested layers out of a graph's outputs (keyed <c>hidden_states.k</c>) and combines them.
    /// </summary>
    public static DenseTensor<float> Select(IReadOnlyDictionary<string, DenseTensor<float>> outputs, IReadOnlyList<int> layers, LayerMode mode)
    {
        var states = new DenseTensor<float>[layers.Count];
        for (int i = 0; i < layers.Count; i++)
        {
            string name = OutputName(layers[i]);
            if (!outputs.TryGetValue(name, out var tensor))
                throw new ArgumentException($"the graph's outputs lack '{name}'", nameof(outputs));
            states[i] = tensor;
        }
        return Combine(states, mode);
    }
}
