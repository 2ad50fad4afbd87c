namespace KeyEmbed.Bench;

/// <summary>
/// The slot for KeyEmbed's own embedding pipeline, measured against the peers in the same run. KeyEmbed has no
/// embedding pipeline yet, so <see cref="Create"/> returns null and the report lists the peers only (no
/// candidate column, no ratio) until this method returns an engine over that pipeline.
/// </summary>
internal static class Candidate
{
    public const string Name = "KeyEmbed";

    public static Engine? Create(int threads)
    {
        _ = threads;
        return null;
    }
}
