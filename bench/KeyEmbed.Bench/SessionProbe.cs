using System.Diagnostics;
using KeyEmbed.Architectures;
using KeyEmbed.Runtime;
using Microsoft.ML.OnnxRuntime;

namespace KeyEmbed.Bench;

/// <summary>`-- session-load VARIANT`: one way of opening ONNX Runtime on the built-in model's pooled graph, timed, with RSS.</summary>
internal static class SessionProbe
{
    public static void Run(string variant, TextWriter output)
    {
        using var model = KeyEmbedModel.Load("minilm", new KeyEmbedModelOptions { CacheBytes = 0 });
        var request = new GraphRequest(model.Info.Layers, [model.Info.Layers]) { Pooling = GraphPooling.MaskedMean };
        var onnx = model.Loaded.GraphBytes(request, new GraphCache(), out _);
        string dir = Path.Combine(Path.GetTempPath(), "keyembed-session-probe");
        Directory.CreateDirectory(dir);
        string ort = Path.Combine(dir, "opt.ort"), optOnnx = Path.Combine(dir, "opt.onnx");
        if (!File.Exists(ort) || !File.Exists(optOnnx))
        {
            foreach (var (path, format) in new[] { (ort, "ORT"), (optOnnx, "ONNX") })
            {
                using var o = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, OptimizedModelFilePath = path };
                o.AddSessionConfigEntry("session.save_model_format", format);
                using var s = new InferenceSession(onnx, o);
            }
        }
        GC.Collect();
        long rss0 = Rss();
        var sw = Stopwatch.StartNew();
        var options = new SessionOptions { IntraOpNumThreads = 2, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        byte[]? keep = null;
        InferenceSession session;
        switch (variant)
        {
            case "onnx": session = new InferenceSession(onnx, options); break;
            case "onnx-noprepack":
                options.AddSessionConfigEntry("session.disable_prepacking", "1");
                session = new InferenceSession(onnx, options); break;
            case "onnx-noarena":
                options.EnableCpuMemArena = false;
                session = new InferenceSession(onnx, options); break;
            case "optimized-onnx":
                onnx = null!;
                options.GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL;
                session = new InferenceSession(File.ReadAllBytes(optOnnx), options); break;
            case "ort-file":
                onnx = null!;
                session = new InferenceSession(ort, options); break;
            case "ort-bytes-direct":
            case "ort-bytes-direct-noopt":
            case "ort-bytes-direct-noprepack":
                onnx = null!;
                var fileBytes = File.ReadAllBytes(ort);
                keep = GC.AllocateUninitializedArray<byte>(fileBytes.Length, pinned: true);
                fileBytes.CopyTo(keep, 0);
                fileBytes = null;
                options.AddSessionConfigEntry("session.use_ort_model_bytes_directly", "1");
                options.AddSessionConfigEntry("session.use_ort_model_bytes_for_initializers", "1");
                if (variant.EndsWith("noopt", StringComparison.Ordinal)) options.GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL;
                if (variant.EndsWith("noprepack", StringComparison.Ordinal)) options.AddSessionConfigEntry("session.disable_prepacking", "1");
                session = new InferenceSession(keep, options); break;
            default: throw new ArgumentException(variant);
        }
        double createMs = sw.Elapsed.TotalMilliseconds;
        onnx = null!;
        GC.Collect();
        long rss1 = Rss();
        var ids = new long[] { 101, 6207, 102 };
        using var idsValue = OrtValue.CreateTensorValueFromMemory(ids, [1, 3]);
        using var mask = OrtValue.CreateTensorValueFromMemory(new long[] { 1, 1, 1 }, [1, 3]);
        using var types = OrtValue.CreateTensorValueFromMemory(new long[] { 0, 0, 0 }, [1, 3]);
        var inputs = new Dictionary<string, OrtValue> { ["input_ids"] = idsValue, ["attention_mask"] = mask, ["token_type_ids"] = types };
        var names = session.InputMetadata.Keys.ToArray();
        sw.Restart();
        using (var r = session.Run(new RunOptions(), names, [.. names.Select(n => inputs[n])], session.OutputMetadata.Keys.ToArray())) { }
        double runMs = sw.Elapsed.TotalMilliseconds;
        sw.Restart();
        for (int i = 0; i < 20; i++)
            using (var r = session.Run(new RunOptions(), names, [.. names.Select(n => inputs[n])], session.OutputMetadata.Keys.ToArray())) { }
        output.WriteLine($"{variant,-28} create {createMs,7:F1} ms  first run {runMs,6:F1} ms  next runs {sw.Elapsed.TotalMilliseconds / 20,5:F2} ms  rss {rss0} -> {rss1} MiB  peak {Peak()} MiB  ({keep?.Length})");
        session.Dispose();
    }

    private static long Rss() => Field("VmRSS");
    private static long Peak() => Field("VmHWM");
    private static long Field(string key)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(key + ":", StringComparison.Ordinal))
                return long.Parse(line[(key.Length + 1)..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) / 1024;
        return -1;
    }
}
