using KeyEmbed.Checkpoints;
using KeyEmbed.Checkpoints.PyTorch;
using KeyEmbed.Checkpoints.Safetensors;
using KeyEmbed.Checkpoints.TensorBundle;
using KeyEmbed.Tests.Fixtures;

namespace KeyEmbed.Tests.Checkpoints;

/// <summary>The same tensors written as safetensors, a torch.save zip and a TensorFlow bundle read back bit for bit.</summary>
public sealed class CrossFormatTests
{
    [Fact]
    public void Same_tensors_read_back_bit_identical_through_all_three_readers()
    {
        using var dir = new TempDir();
        var random = new Random(2024);
        var tensors = new List<(string Name, long[] Shape, float[] Data)>();
        foreach (var shape in new long[][] { [5, 4], [4], [2, 3, 2], [], [0, 3] })
        {
            var data = new float[shape.Aggregate(1L, (a, b) => a * b)];
            for (int i = 0; i < data.Length; i++) data[i] = (float)(random.NextDouble() * 2 - 1) * MathF.Pow(10, random.Next(-6, 6));
            tensors.Add(($"t{tensors.Count}/weight", shape, data));
        }
        // Values whose bits a careless conversion would change.
        tensors.Add(("special", [6], [float.NaN, float.NegativeInfinity, -0f, float.Epsilon, float.MaxValue, BitConverter.Int32BitsToSingle(0x7fc0_1234)]));

        var safetensors = new SafetensorsWriter();
        var torch = new PyTorchZipWriter();
        var bundle = new TensorBundleWriter { ShardCount = 2 };
        foreach (var (name, shape, data) in tensors)
        {
            safetensors.Add(name, shape, data);
            torch.Add(name, shape, data);
            bundle.Add(name, shape, data);
        }
        safetensors.Save(dir.File("model.safetensors"));
        torch.Save(dir.File("pytorch_model.bin"));
        bundle.Save(dir.File("model.ckpt"));

        ITensorSource[] readers =
        [
            new SafetensorsReader(dir.File("model.safetensors")),
            new PyTorchZipReader(dir.File("pytorch_model.bin")),
            new TensorBundleReader(dir.File("model.ckpt")),
        ];
        try
        {
            foreach (var reader in readers)
            {
                Assert.Equal(tensors.Count, reader.Tensors.Count);
                foreach (var (name, shape, data) in tensors)
                {
                    Assert.True(reader.TryGetInfo(name, out var info), $"{reader.Format}: {name} missing");
                    Assert.Equal(shape, info.Shape);
                    Assert.Equal(TensorDType.F32, info.DType);
                    var bits = reader.ReadFloat32(name).Select(BitConverter.SingleToInt32Bits);
                    Assert.Equal(data.Select(BitConverter.SingleToInt32Bits), bits);
                }
            }
        }
        finally
        {
            foreach (var reader in readers) reader.Dispose();
        }
    }

    [Fact]
    public void Shared_bert_checkpoint_converted_to_every_format_reads_back_identical()
    {
        using var dir = new TempDir();
        using var original = new TensorBundleReader(SharedData.Golden("bert-tf-keras", "bert_model.ckpt"));
        var floats = original.Tensors.Where(t => t.DType == TensorDType.F32).ToList();
        var safetensors = new SafetensorsWriter();
        var torch = new PyTorchZipWriter();
        var bundle = new TensorBundleWriter { ShardCount = 4, BlockSize = 256 };
        foreach (var t in floats)
        {
            var data = original.ReadFloat32(t.Name);
            safetensors.Add(t.Name, t.Shape, data);
            torch.Add(t.Name, t.Shape, data);
            bundle.Add(t.Name, t.Shape, data);
        }
        safetensors.Save(dir.File("model.safetensors"));
        torch.Save(dir.File("pytorch_model.bin"));
        bundle.Save(dir.File("model.ckpt"));

        using var fromSafetensors = new SafetensorsReader(dir.File("model.safetensors"));
        using var fromTorch = new PyTorchZipReader(dir.File("pytorch_model.bin"));
        using var fromBundle = new TensorBundleReader(dir.File("model.ckpt"));
        foreach (ITensorSource copy in new ITensorSource[] { fromSafetensors, fromTorch, fromBundle })
        {
            Assert.Equal(floats.Select(t => t.Name).Order(StringComparer.Ordinal), copy.Tensors.Select(t => t.Name).Order(StringComparer.Ordinal));
            foreach (var t in floats)
                Assert.Equal(original.ReadFloat32(t.Name), copy.ReadFloat32(t.Name));
        }
    }
}
