using KeyEmbed.Stores;

namespace KeyEmbed.Tests.Stores;

/// <summary><see cref="StoreWritePipeline"/>: the store writes one batch while the next is embedded, commits stay in order.</summary>
public sealed class StoreWritePipelineTests
{
    // A store whose writes wait until they are released (or fail after a time), recording what it committed.
    private sealed class GatedStore : IVectorStore
    {
        private readonly HashSet<string> _stored = new(StringComparer.Ordinal);
        public ManualResetEventSlim Open { get; } = new(false);
        public List<string[]> Commits { get; } = [];
        public int FailOnCommit { get; init; } = -1;
        public string Location => "gated";
        public StoreProfile? Profile => null;
        public void Claim(StoreProfile profile, string action) { }
        public long Count() { lock (_stored) return _stored.Count; }
        public IReadOnlySet<string> Existing(IReadOnlyCollection<string> ids) { lock (_stored) return ids.Where(_stored.Contains).ToHashSet(); }
        public int Add(IReadOnlyList<StoreItem> items, IReadOnlyList<float[]> vectors)
        {
            if (!Open.Wait(TimeSpan.FromSeconds(5))) throw new TimeoutException("the write was never overlapped with the next batch's embedding");
            lock (_stored)
            {
                if (Commits.Count == FailOnCommit) throw KeyEmbedException.Input("store full");
                Commits.Add([.. items.Select(i => i.Id)]);
                return items.Count(i => _stored.Add(i.Id));
            }
        }
        public IReadOnlyList<StoreHit> Search(float[] query, int top, bool exact = false) => [];
        public float[]? Vector(string id) => null;
        public void Ping() { }
        public SearchTuning? Tuning => null;
        public bool SearchesExactly => false;
        public SearchTuning TuneSearch(double targetRecall, IProgress<SearchTuningStep>? progress, IReadOnlyList<float[]>? queries) => throw new NotSupportedException();
        public void Dispose() => Open.Dispose();
    }

    private static StoreItem[] Batch(params string[] ids) => [.. ids.Select(id => new StoreItem(id, "text " + id))];

    [Fact]
    public void The_next_batch_is_embedded_while_the_previous_one_is_written_and_commits_keep_input_order()
    {
        using var store = new GatedStore();
        var embedded = new List<string>();
        IReadOnlyList<float[]> Embed(IReadOnlyList<string> texts)
        {
            embedded.AddRange(texts);
            // The first write is held until the second batch is being embedded: only an overlapping writer gets here.
            if (embedded.Count > 2) store.Open.Set();
            return [.. texts.Select(_ => new float[] { 1, 0 })];
        }
        using var pipeline = new StoreWritePipeline(store, Embed);
        var results = new List<StoreWriteResult?>
        {
            pipeline.Add(Batch("a", "b")),
            pipeline.Add(Batch("b", "c", "c")), // b is in the batch being written: not embedded again
            pipeline.Add(Batch("d")),
            pipeline.Finish(),
        };
        Assert.Null(results[0]);
        Assert.Equal([["a", "b"], ["c"], ["d"]], store.Commits);
        Assert.Equal(["text a", "text b", "text c", "text d"], embedded);
        Assert.Equal([2, 1, 1], results.Skip(1).Select(r => r!.Added));
        Assert.Equal([0, 2, 0], results.Skip(1).Select(r => r!.AlreadyStored));
        Assert.True(pipeline.WaitSeconds >= 0);
    }

    [Fact]
    public void A_failed_write_surfaces_at_the_next_call()
    {
        using var store = new GatedStore { FailOnCommit = 1 };
        store.Open.Set();
        using var pipeline = new StoreWritePipeline(store, texts => [.. texts.Select(_ => new float[] { 1 })]);
        Assert.Null(pipeline.Add(Batch("a")));
        Assert.NotNull(pipeline.Add(Batch("b")));
        var error = Assert.Throws<KeyEmbedException>(() => pipeline.Finish());
        Assert.Contains("store full", error.Message);
        Assert.Equal([["a"]], store.Commits);
    }
}
