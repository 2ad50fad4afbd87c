using KeyEmbed.Runtime;

namespace KeyEmbed.Embedding;

/// <summary>
/// Everything after the encoder for one resolved request, as one call per batch: pick and combine layers, pool,
/// truncate, normalize (sentence-transformers' Pooling → Normalize chain). Quantization stays a separate last step
/// (<see cref="Quantization"/>) because similarity is computed on the float vectors.
/// </summary>
internal sealed class EmbeddingHead(ResolvedEmbeddingOptions plan)
{
    /// <summary>The plan this head carries out.</summary>
    public ResolvedEmbeddingOptions Plan { get; } = plan;

    /// <summary>
    /// One float32 vector per row of the batch. <paramref name="outputs"/> are the graph's outputs (keyed
    /// <c>hidden_states.k</c>, each [B, T, H]); <paramref name="attentionMask"/> is [B, T]; <paramref name="specialMask"/>
    /// ([B, T], 1 = special token) is used only when the plan excludes special tokens.
    /// </summary>
    public float[][] Vectors(IReadOnlyDictionary<string, DenseTensor<float>> outputs, ReadOnlySpan<long> attentionMask, ReadOnlySpan<long> specialMask = default)
    {
        if (Plan.Pooling == PoolingMode.None) throw new InvalidOperationException("token-level plans go through Tokens");
        var hidden = LayerSelection.Select(outputs, Plan.Layers, Plan.LayerMode);
        var pooled = Pooling.Pool(hidden, attentionMask, Plan.Pooling, Exclusions(specialMask));
        for (int i = 0; i < pooled.Length; i++) pooled[i] = VectorMath.Finish(pooled[i], Plan.Dimensions, Plan.Normalize);
        return pooled;
    }

    /// <summary>Token-level output (<see cref="PoolingMode.None"/>): each kept token's vector, truncated and normalized like a pooled one.</summary>
    public TokenVectors[] Tokens(IReadOnlyDictionary<string, DenseTensor<float>> outputs, ReadOnlySpan<long> attentionMask, ReadOnlySpan<long> specialMask = default)
    {
        var hidden = LayerSelection.Select(outputs, Plan.Layers, Plan.LayerMode);
        var rows = Pooling.Tokens(hidden, attentionMask, Exclusions(specialMask));
        foreach (var row in rows)
            for (int j = 0; j < row.Vectors.Length; j++) row.Vectors[j] = VectorMath.Finish(row.Vectors[j], Plan.Dimensions, Plan.Normalize);
        return rows;
    }

    private ReadOnlySpan<long> Exclusions(ReadOnlySpan<long> specialMask)
    {
        if (!Plan.ExcludeSpecialTokens) return default;
        if (specialMask.IsEmpty) throw new ArgumentException("the plan excludes special tokens but no special-token mask was given", nameof(specialMask));
        return specialMask;
    }
}
