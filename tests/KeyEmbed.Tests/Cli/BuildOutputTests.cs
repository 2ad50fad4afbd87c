using System.Runtime.InteropServices;

namespace KeyEmbed.Tests.Cli;

/// <summary>The build is for the machine's own runtime: no ONNX Runtime natives for other platforms beside the CLI.</summary>
public sealed class BuildOutputTests
{
    [Fact]
    public void Build_output_holds_onnx_runtime_natives_for_this_platform_only()
    {
        var output = AppContext.BaseDirectory;
        // The portable layout (runtimes/<rid>/native for Android, iOS, Windows, macOS…) is what a RID-less build copies.
        Assert.False(Directory.Exists(Path.Combine(output, "runtimes")),
            $"{output} has a runtimes/ folder: the build is not specific to {RuntimeInformation.RuntimeIdentifier}");
        var natives = Directory.EnumerateFiles(output, "*onnxruntime*").Select(Path.GetFileName).ToList();
        if (!OperatingSystem.IsWindows()) Assert.DoesNotContain(natives, n => n!.EndsWith(".dll", StringComparison.Ordinal) && n != "Microsoft.ML.OnnxRuntime.dll");
        Assert.Contains(natives, n => n!.StartsWith("libonnxruntime", StringComparison.Ordinal) || n == "onnxruntime.dll");
    }
}
