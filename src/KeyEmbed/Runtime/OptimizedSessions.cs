using Microsoft.ML.OnnxRuntime;

namespace KeyEmbed.Runtime;

/// <summary>
/// Sessions that start from ONNX Runtime's own optimized form of a graph, kept in the <see cref="GraphCache"/> beside
/// the graph: the first start optimizes the ONNX graph as usual and has ORT save the result (ORT format); later starts
/// load that file without optimizing again and without copying its weights (<see cref="EncoderSession.FromOptimized"/>).
/// The entry's key adds ORT's version and the CPU's kind to the graph's key, because ORT's optimizer may choose
/// kernels and layouts for the CPU it runs on.
/// </summary>
internal static class OptimizedSessions
{
    /// <summary>
    /// A session for the graph cached under <paramref name="graphKey"/> (<paramref name="onnxGraph"/> gives its ONNX bytes
    /// when needed); <paramref name="graphLabel"/> is the graph entry's label, which the optimized entry's label extends.
    /// </summary>
    public static EncoderSession Open(GraphCache cache, string graphKey, string graphLabel, Func<byte[]> onnxGraph, SessionSettings settings)
    {
        if (!settings.Optimize || cache.Directory is null) return new EncoderSession(onnxGraph(), settings);
        EncoderSession? built = null;
        byte[] optimized;
        try
        {
            optimized = cache.GetOrBuild(Key(graphKey), () =>
            {
                string temp = Path.Combine(Path.GetTempPath(), $"keyembed-{Guid.NewGuid():N}.ort");
                try
                {
                    built = new EncoderSession(onnxGraph(), settings, saveOptimizedTo: temp);
                    return File.ReadAllBytes(temp);
                }
                finally
                {
                    try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
                }
            }, out _, "ORT-optimized: " + graphLabel);
        }
        catch (Exception e) when (built != null && e is IOException or UnauthorizedAccessException)
        {
            return built; // the session is open; only the optimized file could not be kept
        }
        if (built != null) return built;
        try
        {
            return EncoderSession.FromOptimized(optimized, settings);
        }
        catch (KeyEmbedException)
        {
            // An entry this ONNX Runtime cannot load (the checksum holds, so written by a build that differs in a way
            // the key does not capture): start from the graph as before.
            return new EncoderSession(onnxGraph(), settings);
        }
    }

    /// <summary>The cache key of the optimized form of the graph cached under <paramref name="graphKey"/>.</summary>
    public static string Key(string graphKey)
    {
        var cpu = CpuFeatures.Current;
        return GraphCache.Key("ort-optimized ORT_ENABLE_ALL", graphKey, "onnxruntime " + OrtEnv.Instance().GetVersionString(), cpu.Model, cpu.Kind);
    }
}
