namespace KeyEmbed.Tests.Fixtures;

/// <summary>Asserts that opening or reading a bad file fails cleanly: a KeyEmbedException, quickly, without a big allocation.</summary>
internal static class Rejection
{
    private const long AllocationLimitBytes = 64L * 1024 * 1024;

    public static KeyEmbedException Expect(Action action, ErrorKind kind = ErrorKind.InvalidCheckpoint)
    {
        long allocated = 0;
        var run = Task.Run(() =>
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            try { action(); }
            finally { allocated = GC.GetAllocatedBytesForCurrentThread() - before; }
        });
        bool finished = Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(60))).Result == run;
        Assert.True(finished, "the reader did not finish within 60 s");
        var error = Assert.IsType<KeyEmbedException>(run.Exception?.InnerException, exactMatch: true);
        Assert.Equal(kind, error.Kind);
        Assert.True(allocated < AllocationLimitBytes, $"the reader allocated {allocated} bytes before failing");
        return error;
    }

    /// <summary>Expects the message to name the file and to contain each fragment (case-insensitive).</summary>
    public static KeyEmbedException Expect(Action action, string file, params string[] fragments)
    {
        var error = Expect(action);
        Assert.Contains(Path.GetFileName(file), error.Message);
        foreach (var fragment in fragments) Assert.Contains(fragment, error.Message, StringComparison.OrdinalIgnoreCase);
        return error;
    }
}
