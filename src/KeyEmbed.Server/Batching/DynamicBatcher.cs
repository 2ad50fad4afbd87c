using System.Diagnostics;
using KeyEmbed.Embedding;
using KeyEmbed.Server.Metrics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KeyEmbed.Server.Batching;

/// <summary>Limits of the batcher, taken from <see cref="ServerOptions"/>.</summary>
internal sealed record BatcherSettings(int MaxBatchTokens, TimeSpan MaxWait, int MaxQueuedRequests)
{
    public static BatcherSettings From(ServerOptions options) =>
        new(options.MaxBatchTokens, options.MaxBatchWait, options.MaxQueuedRequests);
}

/// <summary>
/// Merges concurrent embedding requests into model batches (text-embeddings-inference's queue + batching task):
/// one worker takes the oldest request, waits at most <see cref="BatcherSettings.MaxWait"/> for company, then adds
/// every queued request with equal options while the batch stays within the token budget, and runs the model once.
/// Token-level and keyword work goes through the same queue unmerged, so the model only ever runs on the worker.
/// The queue is bounded (full: <see cref="ErrorKind.Overloaded"/>); a cancelled request still waiting leaves it;
/// stopping drains what was accepted.
/// </summary>
internal sealed class DynamicBatcher : IHostedService
{
    private static readonly EmbeddingOptionsComparer SameOptions = new();
    private readonly Task<IEmbeddingBackend> _backend;
    private readonly BatcherSettings _settings;
    private readonly ServerMetrics _metrics;
    private readonly ILogger<DynamicBatcher> _log;
    private readonly object _gate = new();
    private readonly LinkedList<Pending> _queue = new();
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _stopping;
    private Task? _worker;

    public DynamicBatcher(Task<IEmbeddingBackend> backend, BatcherSettings settings, ServerMetrics metrics, ILogger<DynamicBatcher> log)
    {
        _backend = backend;
        _settings = settings;
        _metrics = metrics;
        _log = log;
    }

    /// <summary>Requests waiting for the model now.</summary>
    public int QueueDepth { get { lock (_gate) return _queue.Count; } }

    /// <summary>Embeds <paramref name="texts"/> (costing <paramref name="tokens"/> tokens) in a shared batch.</summary>
    public Task<float[][]> EmbedAsync(IReadOnlyList<string> texts, int tokens, EmbeddingOptions options, CancellationToken cancellation) =>
        EmbedPreparedAsync([.. texts.Select(t => new PreparedInput(t, 0, 0))], tokens, options, cancellation);

    /// <summary>Embeds texts the backend <see cref="IEmbeddingBackend.Prepare"/>d (costing <paramref name="tokens"/> tokens) in a shared batch; the queue carries their encodings.</summary>
    public async Task<float[][]> EmbedPreparedAsync(IReadOnlyList<PreparedInput> inputs, int tokens, EmbeddingOptions options, CancellationToken cancellation)
    {
        var result = await Enqueue(new Pending(inputs, tokens, options, null), cancellation).ConfigureAwait(false);
        return (float[][])result!;
    }

    /// <summary>Runs <paramref name="work"/> alone on the worker, after the requests queued before it.</summary>
    public async Task<T> RunExclusiveAsync<T>(Func<IEmbeddingBackend, T> work, int tokens, CancellationToken cancellation)
    {
        var result = await Enqueue(new Pending([], tokens, null, backend => work(backend)), cancellation).ConfigureAwait(false);
        return (T)result!;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _worker = Task.Run(WorkLoop, CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <summary>Refuses new work, lets the worker finish everything queued, then returns.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _stopping = true;
            _wake.TrySetResult();
        }
        if (_worker is null) return;
        var waiting = QueueDepth;
        if (waiting > 0) _log.LogInformation("Draining {Count} queued requests before stopping", waiting);
        await _worker.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private Task<object?> Enqueue(Pending pending, CancellationToken cancellation)
    {
        cancellation.ThrowIfCancellationRequested();
        lock (_gate)
        {
            if (_stopping)
                throw new KeyEmbedException(ErrorKind.Overloaded, "The service is shutting down; retry against another instance or after it restarts.");
            if (_queue.Count >= _settings.MaxQueuedRequests)
            {
                _metrics.Rejected.Inc();
                throw new KeyEmbedException(ErrorKind.Overloaded,
                    $"The request queue is full ({_settings.MaxQueuedRequests} requests waiting, see --max-queue); retry shortly.");
            }
            pending.Node = _queue.AddLast(pending);
            _metrics.QueueDepth.Set(_queue.Count);
            _wake.TrySetResult();
        }
        if (cancellation.CanBeCanceled)
            pending.Registration = cancellation.Register(() => Withdraw(pending, cancellation));
        return pending.Completion.Task;
    }

    /// <summary>A cancelled request that has not reached the model leaves the queue.</summary>
    private bool Withdraw(Pending pending, CancellationToken token)
    {
        lock (_gate)
        {
            if (pending.Node?.List is null) return false;
            _queue.Remove(pending.Node);
            _metrics.QueueDepth.Set(_queue.Count);
        }
        pending.Completion.TrySetCanceled(token);
        return true;
    }

    private async Task WorkLoop()
    {
        IEmbeddingBackend backend;
        try
        {
            backend = await _backend.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // Loading failed: the endpoints never report ready, so nothing is queued; fail anything that is.
            FailAll(e);
            return;
        }
        while (true)
        {
            Task wake;
            Pending? first;
            lock (_gate)
            {
                first = _queue.First?.Value;
                if (first is null)
                {
                    if (_stopping) return;
                    if (_wake.Task.IsCompleted) _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
                    wake = _wake.Task;
                }
                else wake = Task.CompletedTask;
            }
            if (first is null)
            {
                await wake.ConfigureAwait(false);
                continue;
            }
            // Give concurrent requests a moment to join, unless the budget is already spent or we are draining.
            var waited = Stopwatch.GetElapsedTime(first.EnqueuedAt);
            if (waited < _settings.MaxWait && !_stopping && first.Options is not null && QueuedTokens(first.Options) < _settings.MaxBatchTokens)
                await Task.Delay(_settings.MaxWait - waited).ConfigureAwait(false);
            var batch = TakeBatch();
            if (batch.Count > 0) Run(backend, batch);
        }
    }

    private int QueuedTokens(EmbeddingOptions options)
    {
        lock (_gate)
        {
            var tokens = 0;
            foreach (var pending in _queue)
                if (pending.Options is not null && SameOptions.Equals(pending.Options, options)) tokens += pending.Tokens;
            return tokens;
        }
    }

    /// <summary>The oldest request, then every later one with equal options that fits the token budget.</summary>
    private List<Pending> TakeBatch()
    {
        var batch = new List<Pending>();
        lock (_gate)
        {
            var node = _queue.First;
            if (node is null) return batch;
            var first = node.Value;
            _queue.Remove(node);
            batch.Add(first);
            if (first.Options is not null)
            {
                var tokens = first.Tokens;
                for (node = _queue.First; node is not null;)
                {
                    var next = node.Next;
                    var candidate = node.Value;
                    if (candidate.Options is not null && SameOptions.Equals(candidate.Options, first.Options) && tokens + candidate.Tokens <= _settings.MaxBatchTokens)
                    {
                        _queue.Remove(node);
                        batch.Add(candidate);
                        tokens += candidate.Tokens;
                    }
                    node = next;
                }
            }
            _metrics.QueueDepth.Set(_queue.Count);
        }
        return batch;
    }

    private void Run(IEmbeddingBackend backend, List<Pending> batch)
    {
        foreach (var pending in batch) pending.Registration.Dispose();
        var started = Stopwatch.GetTimestamp();
        var tokens = batch.Sum(p => p.Tokens);
        try
        {
            if (batch[0].Work is { } work)
            {
                batch[0].Completion.TrySetResult(work(backend));
            }
            else
            {
                var inputs = batch.Count == 1 ? batch[0].Inputs : batch.SelectMany(p => p.Inputs).ToArray();
                var vectors = backend.EmbedPrepared(inputs, batch[0].Options!);
                if (vectors.Length != inputs.Count)
                    throw new InvalidOperationException($"The backend returned {vectors.Length} vectors for {inputs.Count} texts.");
                var offset = 0;
                foreach (var pending in batch)
                {
                    pending.Completion.TrySetResult(vectors[offset..(offset + pending.Inputs.Count)]);
                    offset += pending.Inputs.Count;
                }
                _metrics.BatchSize.Observe(inputs.Count);
                _metrics.BatchRequests.Observe(batch.Count);
            }
            _metrics.Tokens.Inc(tokens);
        }
        catch (Exception e)
        {
            // Only this batch's requests fail (each answers with the failure's status); the worker goes on with the next.
            // Every failure that answers 5xx is logged with its reason (a bug with its stack trace).
            if (e is not KeyEmbedException known)
                _log.LogError(e, "A model batch of {Requests} requests failed: {Reason}", batch.Count, e.Message);
            else if (known.Kind is not (ErrorKind.InvalidInput or ErrorKind.Overloaded))
                _log.LogError("A model batch of {Requests} requests failed ({Kind}): {Reason}", batch.Count, known.Kind, known.Message);
            foreach (var pending in batch) pending.Completion.TrySetException(e);
        }
        finally
        {
            _metrics.BatchSeconds.Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
    }

    private void FailAll(Exception e)
    {
        List<Pending> all;
        lock (_gate)
        {
            all = [.. _queue];
            _queue.Clear();
            _metrics.QueueDepth.Set(0);
        }
        foreach (var pending in all) pending.Completion.TrySetException(e);
    }

    private sealed class Pending(IReadOnlyList<PreparedInput> inputs, int tokens, EmbeddingOptions? options, Func<IEmbeddingBackend, object?>? work)
    {
        public IReadOnlyList<PreparedInput> Inputs { get; } = inputs;
        public int Tokens { get; } = tokens;
        /// <summary>Null for exclusive work, which never shares a batch.</summary>
        public EmbeddingOptions? Options { get; } = options;
        public Func<IEmbeddingBackend, object?>? Work { get; } = work;
        public long EnqueuedAt { get; } = Stopwatch.GetTimestamp();
        public TaskCompletionSource<object?> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public LinkedListNode<Pending>? Node { get; set; }
        public CancellationTokenRegistration Registration { get; set; }
    }
}

/// <summary>Options equality for batching: the record's own equality, with the layer list compared by value.</summary>
internal sealed class EmbeddingOptionsComparer : IEqualityComparer<EmbeddingOptions>
{
    public bool Equals(EmbeddingOptions? x, EmbeddingOptions? y)
    {
        if (x is null || y is null) return ReferenceEquals(x, y);
        var sameLayers = x.Layers is null ? y.Layers is null : y.Layers is not null && x.Layers.SequenceEqual(y.Layers);
        return sameLayers && (x with { Layers = null }).Equals(y with { Layers = null });
    }

    public int GetHashCode(EmbeddingOptions options)
    {
        var hash = new HashCode();
        hash.Add(options with { Layers = null });
        if (options.Layers is not null) foreach (var layer in options.Layers) hash.Add(layer);
        return hash.ToHashCode();
    }
}
