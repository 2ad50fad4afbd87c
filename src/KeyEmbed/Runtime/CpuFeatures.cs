namespace KeyEmbed.Runtime;

/// <summary>
/// The CPU a process runs on, as far as ONNX Runtime's kernels care: its model name and whether it has AVX2,
/// AVX-512, 8-bit dot products (AVX-512 VNNI or AVX-VNNI) and AMX. Speed figures depend on these (int8 above all),
/// so every benchmark names them. On Linux the kernel's <c>/proc/cpuinfo</c> flags are read; elsewhere .NET's own
/// instruction-set checks answer (AMX is then reported as absent: .NET cannot see it).
/// </summary>
internal sealed record CpuFeatures(string Model, bool Avx2, bool Avx512, bool Avx512Vnni, bool AvxVnni, bool Amx)
{
    /// <summary>The CPU of this process (read once).</summary>
    public static CpuFeatures Current { get; } = Detect();

    /// <summary>Whether the CPU has an 8-bit dot-product instruction (VNNI in either encoding, or AMX).</summary>
    public bool HasInt8DotProduct => Avx512Vnni || AvxVnni || Amx;

    /// <summary>A short name of the kind of CPU for grouping figures: e.g. <c>AVX2 only</c>, <c>AVX-512 + VNNI + AMX</c>.</summary>
    public string Kind
    {
        get
        {
            if (!Avx2) return "no AVX2";
            var parts = new List<string> { Avx512 ? "AVX-512" : "AVX2" };
            if (Avx512Vnni) parts.Add("VNNI");
            else if (AvxVnni) parts.Add("AVX-VNNI");
            if (Amx) parts.Add("AMX");
            return parts.Count == 1 && !Avx512 ? "AVX2 only" : string.Join(" + ", parts);
        }
    }

    /// <summary>One line for the top of a benchmark's output: model, cores and each flag.</summary>
    public string Describe() =>
        $"CPU: {Model} ({Environment.ProcessorCount} logical cores); AVX2 {YesNo(Avx2)}, AVX-512 {YesNo(Avx512)}, " +
        $"AVX-512 VNNI {YesNo(Avx512Vnni)}, AVX-VNNI {YesNo(AvxVnni)}, AMX {YesNo(Amx)} (kind: {Kind})";

    private static string YesNo(bool b) => b ? "yes" : "no";

    /// <summary>Parses <c>/proc/cpuinfo</c> text (the first processor's <c>model name</c> and <c>flags</c>).</summary>
    public static CpuFeatures? FromProcCpuInfo(string text)
    {
        string? model = null;
        HashSet<string>? flags = null;
        foreach (var line in text.Split('\n'))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0) continue;
            string key = line[..colon].Trim();
            string value = line[(colon + 1)..].Trim();
            if (model is null && key == "model name") model = value;
            else if (flags is null && key == "flags") flags = [.. value.Split(' ', StringSplitOptions.RemoveEmptyEntries)];
            if (model != null && flags != null) break;
        }
        if (flags is null) return null;
        return new CpuFeatures(model ?? "unknown CPU", flags.Contains("avx2"), flags.Contains("avx512f"),
            flags.Contains("avx512_vnni"), flags.Contains("avx_vnni"), flags.Contains("amx_int8"));
    }

    /// <summary>
    /// The kernel's flags less what CPUID tells this process it lacks (CPUID is what ONNX Runtime and .NET choose their
    /// kernels by; a process can be shown less than the kernel lists, e.g. under bench/avx2-only). Without AVX-512 there
    /// is no AVX-512 VNNI, and AMX goes with it (no CPU has AMX without AVX-512).
    /// </summary>
    public CpuFeatures AsThisProcessSeesIt(bool avx2, bool avx512, bool avxVnni) => this with
    {
        Avx2 = Avx2 && avx2,
        Avx512 = Avx512 && avx512,
        Avx512Vnni = Avx512Vnni && avx512,
        AvxVnni = AvxVnni && avxVnni,
        Amx = Amx && avx512,
    };

    private static CpuFeatures Detect()
    {
        try
        {
            if (File.Exists("/proc/cpuinfo") && FromProcCpuInfo(File.ReadAllText("/proc/cpuinfo")) is { } linux)
                return linux.AsThisProcessSeesIt(System.Runtime.Intrinsics.X86.Avx2.IsSupported, System.Runtime.Intrinsics.X86.Avx512F.IsSupported,
                    System.Runtime.Intrinsics.X86.AvxVnni.IsSupported);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return new CpuFeatures(System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString(),
            System.Runtime.Intrinsics.X86.Avx2.IsSupported, System.Runtime.Intrinsics.X86.Avx512F.IsSupported, false,
            System.Runtime.Intrinsics.X86.AvxVnni.IsSupported, false);
    }
}
