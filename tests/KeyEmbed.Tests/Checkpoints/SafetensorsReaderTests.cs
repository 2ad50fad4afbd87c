using KeyEmbed.Checkpoints.Safetensors;

namespace KeyEmbed.Tests.Checkpoints;

public sealed class SafetensorsReaderTests
{
    [Fact]
    public void Reads_golden_io_file_with_metadata()
    {
        using var reader = new SafetensorsReader(SharedData.Golden("bert-tiny-random", "io.safetensors"));
        Assert.True(reader.TryGetInfo("input_ids", out var ids));
        Assert.Equal(2, ids.Shape.Length);
        Assert.Equal(3, ids.Shape[0]);
        var data = reader.ReadInt64("input_ids");
        Assert.Equal(2, data[0]); // [CLS]
        Assert.Contains("texts", reader.Metadata.Keys);
    }

    [Fact]
    public void Round_trips_float_and_int_tensors()
    {
        using var dir = new TempDir();
        new SafetensorsWriter()
            .Add("w", [2, 3], [1f, 2f, 3f, 4f, 5f, 6f])
            .Add("ids", [3], [7L, 8L, 9L])
            .AddMetadata("k", "v")
            .Save(dir.File("t.safetensors"));
        using var reader = new SafetensorsReader(dir.File("t.safetensors"));
        Assert.Equal([1f, 2f, 3f, 4f, 5f, 6f], reader.ReadFloat32("w"));
        Assert.Equal([7L, 8L, 9L], reader.ReadInt64("ids"));
        Assert.Equal("v", reader.Metadata["k"]);
    }

    [Fact]
    public void Header_claiming_more_than_the_file_names_the_file()
    {
        using var dir = new TempDir();
        var path = dir.File("bad.safetensors");
        File.WriteAllBytes(path, [0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, (byte)'{', (byte)'}']);
        var e = Assert.Throws<KeyEmbedException>(() => new SafetensorsReader(path));
        Assert.Equal(ErrorKind.InvalidCheckpoint, e.Kind);
        Assert.Contains("bad.safetensors", e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void Tensor_whose_byte_size_does_not_match_its_shape_is_rejected()
    {
        using var dir = new TempDir();
        var path = dir.File("t.safetensors");
        var header = """{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}"""u8.ToArray();
        var bytes = new byte[8 + header.Length + 12];
        BitConverter.TryWriteBytes(bytes.AsSpan(0, 8), (ulong)header.Length);
        header.CopyTo(bytes, 8);
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<KeyEmbedException>(() => new SafetensorsReader(path));
        Assert.Contains("'w'", e.Message);
        Assert.Contains("16 bytes", e.Message);
    }

    [Fact]
    public void Truncated_file_is_rejected()
    {
        using var dir = new TempDir();
        var path = dir.File("short.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);
        var e = Assert.Throws<KeyEmbedException>(() => new SafetensorsReader(path));
        Assert.Contains("too short", e.Message);
    }

    [Fact]
    public void Converts_f16_and_bf16_to_float32()
    {
        using var dir = new TempDir();
        var path = dir.File("half.safetensors");
        // 1.5 as F16 = 0x3E00; 1.5 as BF16 = 0x3FC0.
        var header = """{"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[2,4]}}"""u8.ToArray();
        var bytes = new byte[8 + header.Length + 4];
        BitConverter.TryWriteBytes(bytes.AsSpan(0, 8), (ulong)header.Length);
        header.CopyTo(bytes, 8);
        bytes[8 + header.Length] = 0x00; bytes[8 + header.Length + 1] = 0x3E;
        bytes[8 + header.Length + 2] = 0xC0; bytes[8 + header.Length + 3] = 0x3F;
        File.WriteAllBytes(path, bytes);
        using var reader = new SafetensorsReader(path);
        Assert.Equal(1.5f, reader.ReadFloat32("h")[0]);
        Assert.Equal(1.5f, reader.ReadFloat32("b")[0]);
    }
}
