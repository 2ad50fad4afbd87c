namespace KeyEmbed.Embedding;

/// <summary>One batch of a plan: which inputs (indexes into the caller's list) and the length it pads to.</summary>
/// <param name="Indexes">Positions in the caller's list, longest first.</param>
/// <param name="PaddedLength">Length every row of the batch is padded to (the longest row's length, at least 1).</param>
internal sealed record PlannedBatch(int[] Indexes, int PaddedLength)
{
    /// <summary>Tokens the batch costs once padded: rows × padded length.</summary>
    public long PaddedTokens => (long)Indexes.Length * PaddedLength;
}

/// <summary>
/// A batching plan: inputs sorted by length (longest first, ties in the caller's order) and cut into batches whose
/// padded size (rows × longest row) stays within a token budget and a row limit. Similar lengths share a batch, so
/// little is spent on padding; <see cref="Restore{T}"/> puts per-batch results back in the caller's order.
/// </summary>
internal sealed class BatchPlan
{
    internal BatchPlan(IReadOnlyList<PlannedBatch> batches, int count)
    {
        Batches = batches;
        Count = count;
    }

    /// <summary>The batches, in the order they should run (longest rows first, so memory peaks early).</summary>
    public IReadOnlyList<PlannedBatch> Batches { get; }

    /// <summary>Number of inputs planned.</summary>
    public int Count { get; }

    /// <summary>
    /// Puts results back in the caller's order: <paramref name="perBatch"/>[k][j] is the result for
    /// <c>Batches[k].Indexes[j]</c>.
    /// </summary>
    public T[] Restore<T>(IReadOnlyList<IReadOnlyList<T>> perBatch)
    {
        if (perBatch.Count != Batches.Count) throw new ArgumentException($"expected {Batches.Count} batch results, got {perBatch.Count}", nameof(perBatch));
        var result = new T[Count];
        for (int k = 0; k < Batches.Count; k++)
        {
            var indexes = Batches[k].Indexes;
            if (perBatch[k].Count != indexes.Length)
                throw new ArgumentException($"batch {k} has {indexes.Length} inputs but {perBatch[k].Count} results", nameof(perBatch));
            for (int j = 0; j < indexes.Length; j++) result[indexes[j]] = perBatch[k][j];
        }
        return result;
    }
}

/// <summary>Makes <see cref="BatchPlan"/>s: sort by length, cut by token budget, row limit and (optionally) attention score budget.</summary>
internal static class BatchPlanner
{
    /// <summary>
    /// Plans batches for inputs of the given token lengths. A single input longer than the budget gets a batch of its
    /// own (it cannot be split here; windowing happens before). Throws <see cref="KeyEmbedException"/> for a budget
    /// or batch size below 1.
    /// </summary>
    /// <param name="lengths">Token count of each input.</param>
    /// <param name="tokenBudget">Most rows × padded length in one batch.</param>
    /// <param name="maxBatchSize">Most rows in one batch.</param>
    /// <param name="scoreBudget">
    /// Most rows × padded length² in one batch (null: no such limit): each attention head's [rows, T, T] scores, so
    /// long rows come in small batches whose scores stay near the caches while short rows are not affected.
    /// </param>
    public static BatchPlan Plan(IReadOnlyList<int> lengths, int tokenBudget, int maxBatchSize, long? scoreBudget = null)
    {
        if (tokenBudget < 1) throw KeyEmbedException.Input($"token budget must be at least 1 (got {tokenBudget})");
        if (maxBatchSize < 1) throw KeyEmbedException.Input($"batch size must be at least 1 (got {maxBatchSize})");

        // Stable: OrderBy keeps equal lengths in the caller's order.
        var order = Enumerable.Range(0, lengths.Count).OrderByDescending(i => Math.Max(lengths[i], 1)).ToArray();
        var batches = new List<PlannedBatch>();
        var current = new List<int>();
        int padded = 0;
        foreach (int index in order)
        {
            int length = Math.Max(lengths[index], 1);
            // Sorted longest first, so the batch's padded length is its first row's.
            if (current.Count > 0 && (current.Count + 1 > maxBatchSize || (long)(current.Count + 1) * padded > tokenBudget
                || (long)(current.Count + 1) * padded * padded > scoreBudget))
            {
                batches.Add(new PlannedBatch([.. current], padded));
                current.Clear();
            }
            if (current.Count == 0) padded = length;
            current.Add(index);
        }
        if (current.Count > 0) batches.Add(new PlannedBatch([.. current], padded));
        return new BatchPlan(batches, lengths.Count);
    }
}
