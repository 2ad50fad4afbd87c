using Google.Protobuf;
using KeyEmbed.Checkpoints.Onnx;
using KeyEmbed.Models;
using KeyEmbed.Onnx;
using Onnx;

namespace KeyEmbed.Tests.Checkpoints.Onnx;

public sealed class OnnxRawDataSkimTests
{
    private static ModelProto TwoWeights(out float[] big, out float[] small)
    {
        var b = new GraphBuilder("t");
        string x = b.Input("x", ElementType.Float, "n", 64L);
        big = [.. Enumerable.Range(0, 64 * 32).Select(i => i * 0.25f)];
        small = [1, 2, 3];
        string w = b.Initializer("dense.weight", big, 64, 32);
        string bias = b.Initializer("dense.bias", [.. Enumerable.Range(0, 32).Select(i => (float)i)], 32);
        b.Output("y", b.Add(b.MatMul(x, w), bias), ElementType.Float, "n", 32L);
        b.Initializer("extra.scale", small, 3);
        return b.Build();
    }

    [Fact]
    public void Large_raw_data_is_left_out_and_found_at_its_offset_the_rest_parses_unchanged()
    {
        var model = TwoWeights(out var big, out _);
        var bytes = model.ToByteArray();
        var skimmed = OnnxRawDataSkim.Skim(bytes, 1024, out var raw);
        Assert.True(skimmed.Length < bytes.Length - big.Length * 4 + 64);
        var parsed = ModelProto.Parser.ParseFrom(skimmed);
        // Only the 8 KB weight is left out; every initializer, node and input is still there, in order.
        int bigIndex = parsed.Graph.Initializer.Select(t => t.Name).ToList().IndexOf("dense.weight");
        Assert.Equal([bigIndex], raw.Keys);
        Assert.True(parsed.Graph.Initializer[bigIndex].RawData.IsEmpty);
        Assert.Equal(model.Graph.Initializer.Select(t => t.Name), parsed.Graph.Initializer.Select(t => t.Name));
        Assert.Equal(model.Graph.Node, parsed.Graph.Node);
        Assert.Equal(model.Graph.Input, parsed.Graph.Input);
        var (offset, length) = raw[bigIndex];
        Assert.Equal(model.Graph.Initializer[bigIndex].RawData.ToByteArray(), bytes.AsSpan(offset, length).ToArray());
        // Nothing large enough: the copy is the original.
        Assert.Equal(bytes, OnnxRawDataSkim.Skim(bytes, int.MaxValue, out var none));
        Assert.Empty(none);
    }

    [Theory]
    [InlineData(new byte[] { 0x3A, 0x10, 0x01 })]           // graph field claims 16 bytes, holds 1
    [InlineData(new byte[] { 0x3A })]                       // length missing
    [InlineData(new byte[] { 0x0B, 0x00 })]                 // wire type 3 (groups): not ONNX
    [InlineData(new byte[] { 0x09, 0x01, 0x02 })]           // fixed64 cut short
    [InlineData(new byte[] { 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF })] // varint over 10 bytes
    public void Malformed_bytes_are_a_format_error(byte[] bytes)
    {
        Assert.Throws<FormatException>(() => OnnxRawDataSkim.Skim(bytes, 16, out _));
    }

    [Fact]
    public void Reader_over_a_region_of_a_file_reads_the_same_weights_as_from_memory()
    {
        var model = TwoWeights(out var big, out var small).ToByteArray();
        using var dir = new TempDir();
        string file = dir.File("container.bin");
        var prefix = new byte[777];
        new Random(5).NextBytes(prefix);
        File.WriteAllBytes(file, [.. prefix, .. model, .. new byte[100]]);
        using var inMemory = new OnnxInitializerReader(model, "t.onnx");
        using var mapped = OnnxInitializerReader.FromFileRegion(file, prefix.Length, model.Length, "region");
        Assert.Equal(inMemory.Tensors.Select(t => (t.Name, t.ShapeText)), mapped.Tensors.Select(t => (t.Name, t.ShapeText)));
        Assert.Equal(inMemory.ReadFloat32("dense.weight"), mapped.ReadFloat32("dense.weight"));
        Assert.Equal(small, mapped.ReadFloat32("extra.scale"));
        mapped.Dispose();
        Assert.Throws<ObjectDisposedException>(() => mapped.ReadFloat32("dense.weight"));
    }

    [Fact]
    public void Built_in_weights_read_in_place_equal_the_resource_bytes_parsed()
    {
        using var fromResource = new OnnxInitializerReader(BuiltInModels.ReadMiniLmResource(BuiltInModels.MiniLmModelResource), "built-in");
        using var inPlace = BuiltInModels.OpenMiniLmWeights("built-in");
        Assert.Equal(fromResource.Tensors.Select(t => t.Name), inPlace.Tensors.Select(t => t.Name));
        foreach (var name in new[] { "embeddings.word_embeddings.weight", "encoder.layer.3.output.dense.weight", "encoder.layer.0.attention.self.query.bias" })
            Assert.Equal(fromResource.ReadFloat32(name), inPlace.ReadFloat32(name));
        Assert.Equal(fromResource.ReadInt64("embeddings.position_ids"), inPlace.ReadInt64("embeddings.position_ids"));
    }

    [Fact]
    public void Truncated_onnx_file_is_a_checkpoint_error_naming_the_file()
    {
        var model = TwoWeights(out _, out _).ToByteArray();
        using var dir = new TempDir();
        string file = dir.File("cut.onnx");
        File.WriteAllBytes(file, model[..(model.Length / 2)]);
        var e = Assert.Throws<KeyEmbedException>(() => new OnnxInitializerReader(file));
        Assert.Contains("cut.onnx", e.Message, StringComparison.Ordinal);
        Assert.Contains("not a readable ONNX model", e.Message, StringComparison.Ordinal);
    }
}
