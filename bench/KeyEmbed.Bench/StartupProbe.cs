using System.Diagnostics;

namespace KeyEmbed.Bench;

/// <summary>
/// Where a cold process's start goes (`-- startup`): each step of loading the built-in model and embedding three
/// keywords, timed, with the resident set after it (VmRSS) and the peak (VmHWM). Run it in a fresh process; the graph
/// cache (KEYEMBED_CACHE) is whatever earlier runs left.
/// </summary>
internal static class StartupProbe
{
    public static void Run(TextWriter output)
    {
        var total = Stopwatch.StartNew();
        var sw = Stopwatch.StartNew();
        void Step(string what)
        {
            output.WriteLine($"{what,-48} {sw.Elapsed.TotalMilliseconds,8:F1} ms   rss {Status("VmRSS"),5} MiB   peak {Status("VmHWM"),5} MiB");
            sw.Restart();
        }
        Step("process start to Main (runtime)");
        using var model = KeyEmbedModel.Load("minilm", new KeyEmbedModelOptions { CacheBytes = 0 });
        Step("KeyEmbedModel.Load (weights, config)");
        var encoder = model.Tokenizer;
        Step("tokenizer (vocabulary)");
        var vectors = model.Embed(["apple", "banana", "car"]).Vectors;
        Step("first Embed (session + run)");
        var again = model.Embed(["pear", "plum", "bus"]).Vectors;
        Step("second Embed (run only)");
        output.WriteLine($"total {total.Elapsed.TotalMilliseconds:F0} ms in Main; {vectors.Length + again.Length} vectors");
    }

    private static string Status(string key)
    {
        if (!File.Exists("/proc/self/status")) return "?";
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(key + ":", StringComparison.Ordinal))
                return (long.Parse(line[(key.Length + 1)..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) / 1024).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return "?";
    }
}
