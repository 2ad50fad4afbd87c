using System.IO.Compression;
using KeyEmbed.Checkpoints;
using KeyEmbed.Checkpoints.PyTorch;
using KeyEmbed.Tests.Fixtures;

namespace KeyEmbed.Tests.Checkpoints;

public sealed class PyTorchZipReaderTests
{
    [Fact]
    public void State_dict_round_trips_in_order()
    {
        using var dir = new TempDir();
        float[] weight = [1, 2, 3, 4, 5, 6];
        float[] bias = [-0.5f, 0.25f];
        new PyTorchZipWriter()
            .Add("encoder.layer.0.weight", [2, 3], weight)
            .Add("encoder.layer.0.bias", [2], bias)
            .Add("embeddings.position_ids", [1, 3], [0L, 1L, 2L])
            .Add("scalar", [], [9f])
            .Save(dir.File("pytorch_model.bin"));

        using var reader = new PyTorchZipReader(dir.File("pytorch_model.bin"));
        Assert.Equal("pytorch", reader.Format);
        Assert.Equal(["encoder.layer.0.weight", "encoder.layer.0.bias", "embeddings.position_ids", "scalar"], reader.Tensors.Select(t => t.Name));
        Assert.True(reader.TryGetInfo("encoder.layer.0.weight", out var info));
        Assert.Equal([2L, 3L], info.Shape);
        Assert.Equal(TensorDType.F32, info.DType);
        Assert.Equal(weight, reader.ReadFloat32("encoder.layer.0.weight"));
        Assert.Equal(bias, reader.ReadFloat32("encoder.layer.0.bias"));
        Assert.Equal([0L, 1L, 2L], reader.ReadInt64("embeddings.position_ids"));
        Assert.Equal([9f], reader.ReadFloat32("scalar"));
        Assert.Empty(reader.Tensors.Single(t => t.Name == "scalar").Shape);
    }

    [Fact]
    public void Members_are_stored_uncompressed_like_torch_save()
    {
        using var dir = new TempDir();
        new PyTorchZipWriter().Add("w", [2], [1f, 2f]).Save(dir.File("m.bin"));
        using var zip = ZipFile.OpenRead(dir.File("m.bin"));
        Assert.Contains(zip.Entries, e => e.FullName == "archive/data.pkl");
        Assert.All(zip.Entries, e => Assert.Equal(e.Length, e.CompressedLength));
    }

    [Fact]
    public void Views_with_an_offset_share_one_storage()
    {
        using var dir = new TempDir();
        var writer = new PyTorchZipWriter { ArchiveName = "pytorch_model" };
        int storage = writer.AddStorage([10, 11, 12, 13, 14, 15, 16]);
        writer.AddView("first", storage, 0, [2, 2], [2, 1]).AddView("tail", storage, 4, [3], [1]);
        writer.Save(dir.File("m.bin"));
        using var reader = new PyTorchZipReader(dir.File("m.bin"));
        Assert.Equal([10f, 11f, 12f, 13f], reader.ReadFloat32("first"));
        Assert.Equal([14f, 15f, 16f], reader.ReadFloat32("tail"));
    }

    [Fact]
    public void A_transposed_view_is_materialized_in_row_major_order()
    {
        using var dir = new TempDir();
        var writer = new PyTorchZipWriter();
        // Storage holds a 2x3 matrix row-major; the saved tensor is its 3x2 transpose (strides [1, 3]).
        int storage = writer.AddStorage([1, 2, 3, 4, 5, 6]);
        writer.AddView("t", storage, 0, [3, 2], [1, 3]);
        // A broadcast view: one row repeated (stride 0), as expand() saves it.
        writer.AddView("expanded", storage, 3, [2, 3], [0, 1]);
        writer.Save(dir.File("m.bin"));
        using var reader = new PyTorchZipReader(dir.File("m.bin"));
        Assert.Equal([1f, 4f, 2f, 5f, 3f, 6f], reader.ReadFloat32("t"));
        Assert.Equal([4f, 5f, 6f, 4f, 5f, 6f], reader.ReadFloat32("expanded"));
    }

    [Fact]
    public void A_view_with_more_elements_than_its_storage_is_refused_before_anything_is_allocated()
    {
        // Found by checking the fuzz harness's allocation bound: a 612-byte file whose one tensor is a stride-0 view of
        // 100 million elements over a 4-element storage made the reader allocate 800 MB (fuzz/findings/pytorch).
        using var dir = new TempDir();
        var writer = new PyTorchZipWriter();
        int storage = writer.AddStorage([1, 2, 3, 4]);
        writer.AddView("w", storage, 0, [100_000_000], [0]);
        writer.Save(dir.File("m.bin"));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<KeyEmbedException>(() =>
        {
            using var reader = new PyTorchZipReader(dir.File("m.bin"));
            reader.ReadFloat32("w");
        });
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 << 20);
        Assert.Equal(ErrorKind.InvalidCheckpoint, e.Kind);
        Assert.Contains("'w'", e.Message);
        Assert.Contains("100000000 elements from 4 stored", e.Message);
        Assert.Contains(".contiguous()", e.Message);
    }

    [Fact]
    public void Nested_dicts_are_flattened_with_dots_and_other_values_skipped()
    {
        using var dir = new TempDir();
        // {'epoch': 3, 'model': OrderedDict({'w': tensor}), 'note': 'x'}
        var pickle = new PickleBuilder().Proto(2).EmptyDict().Mark()
            .String("epoch").Int(3)
            .String("model").Global("collections", "OrderedDict").EmptyTuple().Reduce()
                .Mark().String("w").Global("torch._utils", "_rebuild_parameter")
                    .Mark().Global("torch._utils", "_rebuild_tensor_v2")
                        .Mark().Mark().String("storage").Global("torch", "FloatStorage").String("0").String("cpu").Int(2).Tuple().PersistentId()
                        .Int(0).IntTuple([2]).IntTuple([1]).False().Global("collections", "OrderedDict").EmptyTuple().Reduce().Tuple().Reduce()
                    .Op(0x88).Global("collections", "OrderedDict").EmptyTuple().Reduce().Tuple().Reduce()
                .SetItems()
            .String("note").String("x")
            .SetItems().Stop().ToArray();
        PyTorchZipWriter.SaveArchive(dir.File("ckpt.pt"), pickle, new Dictionary<string, byte[]> { ["0"] = [0, 0, 0x80, 0x3f, 0, 0, 0, 0x40] });
        using var reader = new PyTorchZipReader(dir.File("ckpt.pt"));
        Assert.Equal(["model.w"], reader.Tensors.Select(t => t.Name));
        Assert.Equal([1f, 2f], reader.ReadFloat32("model.w"));
    }

    [Fact]
    public void Half_and_bfloat16_storages_convert_to_float32()
    {
        using var dir = new TempDir();
        var writer = new PyTorchZipWriter();
        // Two float32 slots reinterpreted as four 16-bit values: 1.0 and -2.0 in each encoding.
        float[] halfBits = [BitConverter.Int32BitsToSingle(unchecked((int)0xC000_3C00u))];
        float[] bfloatBits = [BitConverter.Int32BitsToSingle(unchecked((int)0xC000_3F80u))];
        writer.AddView("h", writer.AddStorage(halfBits, "HalfStorage", 2), 0, [2], [1]);
        writer.AddView("b", writer.AddStorage(bfloatBits, "BFloat16Storage", 2), 0, [2], [1]);
        writer.Save(dir.File("m.bin"));
        using var reader = new PyTorchZipReader(dir.File("m.bin"));
        Assert.Equal(TensorDType.F16, reader.Tensors[0].DType);
        Assert.Equal([1f, -2f], reader.ReadFloat32("h"));
        Assert.Equal([1f, -2f], reader.ReadFloat32("b"));
    }

    [Fact]
    public void Legacy_pre_1_6_format_reads_the_same_tensors()
    {
        using var dir = new TempDir();
        var writer = new PyTorchZipWriter();
        int shared = writer.AddStorage([1, 2, 3, 4, 5, 6]);
        writer.AddView("weight", shared, 0, [2, 3], [3, 1]).AddView("transposed", shared, 0, [3, 2], [1, 3]);
        writer.Add("ids", [2], [7L, 8L]).Add("bias", [2], [0.5f, -0.5f]);
        writer.SaveLegacy(dir.File("legacy.bin"));
        writer.Save(dir.File("zip.bin"));

        using var legacy = new PyTorchZipReader(dir.File("legacy.bin"));
        using var zip = new PyTorchZipReader(dir.File("zip.bin"));
        Assert.Equal(zip.Tensors.Select(t => (t.Name, t.ShapeText, t.DType)), legacy.Tensors.Select(t => (t.Name, t.ShapeText, t.DType)));
        Assert.Equal([1f, 2f, 3f, 4f, 5f, 6f], legacy.ReadFloat32("weight"));
        Assert.Equal([1f, 4f, 2f, 5f, 3f, 6f], legacy.ReadFloat32("transposed"));
        Assert.Equal([0.5f, -0.5f], legacy.ReadFloat32("bias"));
        Assert.Equal([7L, 8L], legacy.ReadInt64("ids"));
    }
}
