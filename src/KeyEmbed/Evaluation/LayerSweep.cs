using System.Globalization;
using KeyEmbed.Embedding;

namespace KeyEmbed.Evaluation;

/// <summary>One configuration of a layer × pooling sweep.</summary>
/// <param name="Layers">The layer label (see <see cref="LayerSweep"/>): <c>k</c>, or <c>a,b sum</c> / <c>a,b concat</c>.</param>
/// <param name="Pooling">The pooling name as the user writes it (<c>mean</c>, <c>max</c>, <c>cls</c>, <c>mean-max</c>, …).</param>
/// <param name="Options">The embedding options the configuration stands for.</param>
public sealed record SweepConfiguration(string Layers, string Pooling, EmbeddingOptions Options);

/// <summary>
/// The configurations a layer sweep compares for a model with L transformer layers: every single hidden state
/// 0..L, then the first transformer layer plus the last (<c>1,L sum</c>), the last two summed (<c>L-1,L sum</c>) and the
/// last two concatenated (<c>L-1,L concat</c>); each with every pooling asked for.
/// </summary>
/// <remarks>
/// Labels use absolute hidden-state numbers, so a label reads back as CLI options: <c>k</c> is <c>--layers k</c>,
/// <c>a,b sum</c> is <c>--layers a,b --layer-mode sum</c>. "First" is hidden state 1 (the first transformer layer), not 0
/// (the embedding output), as in SimCSE's corrected "first-last average". Sum and mean of layers give the same cosine,
/// because they differ by a constant factor. Normalization is left off: cosine does not depend on a vector's length.
/// </remarks>
public static class LayerSweep
{
    /// <summary>The poolings swept when none are given: mean, max, cls, mean-max.</summary>
    public static IReadOnlyList<PoolingMode> DefaultPoolings { get; } = [PoolingMode.Mean, PoolingMode.Max, PoolingMode.Cls, PoolingMode.MeanMax];

    /// <summary>The layer choices for a model with <paramref name="layerCount"/> layers, in chart order, with their labels.</summary>
    internal static IReadOnlyList<(string Label, IReadOnlyList<int> Layers, LayerMode Mode)> LayerChoices(int layerCount)
    {
        if (layerCount < 1) throw new ArgumentOutOfRangeException(nameof(layerCount), "a sweep needs at least one transformer layer");
        var choices = new List<(string, IReadOnlyList<int>, LayerMode)>();
        for (int k = 0; k <= layerCount; k++) choices.Add((Number(k), [k], LayerMode.Sum));
        int last = layerCount;
        // With two layers or fewer, "first + last" is the same pair as "last two" (or one layer twice): listed once.
        if (last - 1 > 1) choices.Add(($"1,{Number(last)} sum", [1, last], LayerMode.Sum));
        choices.Add(($"{Number(last - 1)},{Number(last)} sum", [last - 1, last], LayerMode.Sum));
        choices.Add(($"{Number(last - 1)},{Number(last)} concat", [last - 1, last], LayerMode.Concat));
        return choices;
    }

    /// <summary>
    /// Every layer choice with every pooling (layers outer, poolings inner), unnormalized.
    /// </summary>
    /// <exception cref="KeyEmbedException">A pooling is <c>none</c> or given twice, or the list is empty.</exception>
    public static IReadOnlyList<SweepConfiguration> Configurations(int layerCount, IReadOnlyList<PoolingMode> poolings)
    {
        ArgumentNullException.ThrowIfNull(poolings);
        if (poolings.Count == 0)
            throw KeyEmbedException.Input("poolings: give at least one pooling, e.g. mean,max,cls,mean-max");
        if (poolings.Contains(PoolingMode.None))
            throw KeyEmbedException.Input("poolings: 'none' gives token-level vectors; a sweep needs one vector per text (use mean, max, mean-max, first, last, cls)");
        var names = poolings.Select(EmbeddingOptions.FormatPooling).ToList();
        if (names.Distinct().Count() != names.Count)
            throw KeyEmbedException.Input($"poolings: '{string.Join(",", names)}' lists a pooling twice");
        var configurations = new List<SweepConfiguration>();
        foreach (var (label, layers, mode) in LayerChoices(layerCount))
            foreach (var pooling in poolings)
                configurations.Add(new SweepConfiguration(label, EmbeddingOptions.FormatPooling(pooling),
                    new EmbeddingOptions { Layers = layers, LayerMode = mode, Pooling = pooling, Normalize = false }));
        return configurations;
    }

    /// <summary>Parses a comma-separated pooling list such as <c>mean,max,cls</c>.</summary>
    /// <exception cref="KeyEmbedException">An unknown name (the message lists the valid ones).</exception>
    public static IReadOnlyList<PoolingMode> ParsePoolings(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return [.. text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(EmbeddingOptions.ParsePooling)];
    }

    private static string Number(int k) => k.ToString(CultureInfo.InvariantCulture);
}
