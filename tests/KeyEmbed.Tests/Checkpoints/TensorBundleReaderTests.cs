using KeyEmbed.Checkpoints;
using KeyEmbed.Checkpoints.TensorBundle;
using Xunit.Abstractions;

namespace KeyEmbed.Tests.Checkpoints;

public sealed class TensorBundleReaderTests(ITestOutputHelper output)
{
    [Fact]
    public void Dump()
    {
        using var r = new TensorBundleReader(SharedData.Golden("xlnet-tf-empty", "xlnet_model.ckpt"));
        foreach (var t in r.Tensors) output.WriteLine($"{t.Name} {t.ShapeText} {t.DType}");
        foreach (var t in r.Tensors) if (t.DType == TensorDType.F32) r.ReadFloat32(t.Name);
        using var b = new TensorBundleReader(SharedData.Golden("bert-tf-keras", "bert_model.ckpt.index"));
        foreach (var t in b.Tensors) output.WriteLine($"{t.Name} {t.ShapeText} {t.DType}");
        foreach (var t in b.Tensors) if (t.DType == TensorDType.F32) b.ReadFloat32(t.Name); else output.WriteLine(string.Join(",", b.ReadInt64(t.Name)));
    }
}
