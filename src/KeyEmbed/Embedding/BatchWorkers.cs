using System.Runtime.ExceptionServices;

namespace KeyEmbed.Embedding;

/// <summary>
/// Runs the batches of one call on several threads at once, each batch on one worker. On a few cores, one
/// single-threaded ONNX Runtime run per core keeps every core busy on its own matrices, where one run split across
/// all cores waits on itself at every operator (measured in docs/performance.md).
/// </summary>
internal static class BatchWorkers
{
    /// <summary>
    /// Calls <paramref name="work"/> for items 0 … <paramref name="count"/> − 1, taken in order by
    /// <paramref name="workers"/> threads (the calling thread is one of them). The first failure stops the others from
    /// taking new items and is rethrown unchanged (not wrapped in an <see cref="AggregateException"/>).
    /// </summary>
    public static void Run(int count, int workers, Action<int> work, CancellationToken cancellation = default)
    {
        workers = Math.Clamp(workers, 1, Math.Max(count, 1));
        int next = -1;
        ExceptionDispatchInfo? failure = null;
        void Loop()
        {
            try
            {
                while (Volatile.Read(ref failure) is null)
                {
                    int item = Interlocked.Increment(ref next);
                    if (item >= count) return;
                    cancellation.ThrowIfCancellationRequested();
                    work(item);
                }
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref failure, ExceptionDispatchInfo.Capture(e), null);
            }
        }
        // Dedicated threads, not the thread pool: each holds a core for the whole call, and a busy pool (the HTTP
        // server's) must not delay them.
        var helpers = new Thread[workers - 1];
        for (int i = 0; i < helpers.Length; i++)
        {
            helpers[i] = new Thread(Loop) { IsBackground = true, Name = $"KeyEmbed batch worker {i + 1}" };
            helpers[i].Start();
        }
        Loop();
        foreach (var helper in helpers) helper.Join();
        failure?.Throw();
    }
}
