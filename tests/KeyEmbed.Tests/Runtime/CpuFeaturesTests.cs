using KeyEmbed.Runtime;

namespace KeyEmbed.Tests.Runtime;

public sealed class CpuFeaturesTests
{
    private static string CpuInfo(string model, string flags) =>
        $"processor\t: 0\nvendor_id\t: X\nmodel name\t: {model}\nflags\t\t: {flags}\n\nprocessor\t: 1\nmodel name\t: other\nflags\t\t: fpu\n";

    [Fact]
    public void Avx2_only_cpu_is_named_so()
    {
        var cpu = CpuFeatures.FromProcCpuInfo(CpuInfo("AMD EPYC 7B12", "fpu sse4_2 avx fma avx2 bmi2"))!;
        Assert.Equal("AMD EPYC 7B12", cpu.Model);
        Assert.True(cpu.Avx2);
        Assert.False(cpu.Avx512);
        Assert.False(cpu.HasInt8DotProduct);
        Assert.Equal("AVX2 only", cpu.Kind);
        Assert.Contains("AVX-512 VNNI no", cpu.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void Avx512_vnni_and_amx_are_read_from_the_first_processor()
    {
        var cpu = CpuFeatures.FromProcCpuInfo(CpuInfo("Intel(R) Xeon(R) Processor", "avx2 avx512f avx512bw avx512_vnni amx_tile amx_int8 amx_bf16"))!;
        Assert.True(cpu.Avx512 && cpu.Avx512Vnni && cpu.Amx);
        Assert.False(cpu.AvxVnni);
        Assert.True(cpu.HasInt8DotProduct);
        Assert.Equal("AVX-512 + VNNI + AMX", cpu.Kind);
        Assert.Contains("Intel(R) Xeon(R) Processor", cpu.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void Avx_vnni_without_avx512_is_its_own_kind()
    {
        var cpu = CpuFeatures.FromProcCpuInfo(CpuInfo("12th Gen Intel(R) Core(TM) i7-1260P", "avx2 avx_vnni"))!;
        Assert.Equal("AVX2 + AVX-VNNI", cpu.Kind);
        Assert.True(cpu.HasInt8DotProduct);
    }

    [Fact]
    public void Text_without_flags_gives_nothing()
    {
        Assert.Null(CpuFeatures.FromProcCpuInfo("processor\t: 0\nmodel name\t: ARM\n"));
    }

    [Fact]
    public void This_process_cpu_is_described()
    {
        string line = CpuFeatures.Current.Describe();
        Assert.StartsWith("CPU: ", line, StringComparison.Ordinal);
        Assert.Contains("AVX2 ", line, StringComparison.Ordinal);
    }

    [Fact]
    public void What_cpuid_hides_from_the_process_is_not_reported()
    {
        var kernel = CpuFeatures.FromProcCpuInfo(CpuInfo("Intel(R) Xeon(R) Processor", "avx2 avx512f avx512bw avx512_vnni amx_tile amx_int8 avx_vnni"))!;
        Assert.Equal("AVX-512 + VNNI + AMX", kernel.AsThisProcessSeesIt(avx2: true, avx512: true, avxVnni: true).Kind);
        var seen = kernel.AsThisProcessSeesIt(avx2: true, avx512: false, avxVnni: false);
        Assert.Equal("AVX2 only", seen.Kind);
        Assert.False(seen.Amx || seen.Avx512Vnni || seen.HasInt8DotProduct);
    }
}
