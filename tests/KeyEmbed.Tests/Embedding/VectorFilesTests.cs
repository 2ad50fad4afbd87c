using System.Text;
using System.Text.Json;
using KeyEmbed.Embedding;

namespace KeyEmbed.Tests.Embedding;

public sealed class VectorFilesTests
{
    [Fact]
    public void Golden_sts_vectors_npy_reads_as_2551_unit_rows_of_384()
    {
        var tensor = NpyFile.Read(SharedData.Golden("minilm-sts-test", "vectors.npy"));
        Assert.Equal([2551L, 384L], tensor.Shape);
        int lines = File.ReadAllLines(SharedData.Golden("minilm-sts-test", "texts.txt")).Length;
        Assert.Equal(lines, (int)tensor.Shape[0]);
        // The reference vectors are L2-normalized: a wrong offset or dtype would break this.
        for (int r = 0; r < 2551; r += 250)
            Assert.Equal(1.0, VectorMath.Norm(tensor.Data.AsSpan(r * 384, 384)), 4);
    }

    [Fact]
    public void Npy_float32_round_trips_with_a_header_numpy_accepts()
    {
        using var dir = new TempDir();
        var rows = new[] { new[] { 1f, -2.5f, 3e-8f }, new[] { float.MaxValue, 0f, -0f } };
        NpyFile.Write(dir.File("a.npy"), rows);
        var bytes = File.ReadAllBytes(dir.File("a.npy"));
        Assert.Equal(NpyFile.HeaderBytes + 6 * 4, bytes.Length);
        Assert.Equal(0, NpyFile.HeaderBytes % 64);
        string header = Encoding.ASCII.GetString(bytes, 10, NpyFile.HeaderBytes - 10);
        Assert.StartsWith("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", header);
        Assert.EndsWith("\n", header);
        var back = NpyFile.Read(dir.File("a.npy"));
        Assert.Equal([2L, 3L], back.Shape);
        Assert.Equal(rows.SelectMany(r => r), back.Data);
    }

    [Fact]
    public void Npy_streaming_writer_patches_the_row_count_when_it_was_not_known()
    {
        using var dir = new TempDir();
        using (var writer = new NpyWriter(File.Create(dir.File("s.npy")), 2, NpyDType.Int8))
            for (int i = 0; i < 5; i++) writer.WriteRow([(sbyte)i, (sbyte)-i]);
        var back = NpyFile.Read(dir.File("s.npy"));
        Assert.Equal([5L, 2L], back.Shape);
        Assert.Equal([0f, 0f, 1f, -1f, 2f, -2f, 3f, -3f, 4f, -4f], back.Data);
    }

    [Fact]
    public void Npy_reader_names_the_file_for_a_truncated_or_foreign_file()
    {
        using var dir = new TempDir();
        NpyFile.Write(dir.File("t.npy"), [new float[100]]);
        var bytes = File.ReadAllBytes(dir.File("t.npy"));
        File.WriteAllBytes(dir.File("t.npy"), bytes[..^8]);
        var e = Assert.Throws<KeyEmbedException>(() => NpyFile.Read(dir.File("t.npy")));
        Assert.Contains("t.npy", e.Message);
        Assert.Contains("truncated", e.Message);
        File.WriteAllText(dir.File("x.npy"), "hello, not numpy");
        Assert.Contains("not a .npy file", Assert.Throws<KeyEmbedException>(() => NpyFile.Read(dir.File("x.npy"))).Message);
    }

    [Fact]
    public void Json_writer_streams_rows_with_text_and_metadata_and_parses_back()
    {
        using var stream = new MemoryStream();
        using (var writer = VectorWriters.Create(VectorFileFormat.Json, stream, 2, VectorPrecision.Float32,
                   [new("model", "minilm"), new("dimensions", 2)], leaveOpen: true))
        {
            writer.Write("a \"quoted\" text", [0.25f, -1f]);
            writer.Write("b", [1e-7f, 3f]);
        }
        using var doc = JsonDocument.Parse(stream.ToArray());
        Assert.Equal("minilm", doc.RootElement.GetProperty("model").GetString());
        var data = doc.RootElement.GetProperty("data");
        Assert.Equal(2, data.GetArrayLength());
        Assert.Equal("a \"quoted\" text", data[0].GetProperty("text").GetString());
        Assert.Equal(1, data[1].GetProperty("index").GetInt32());
        Assert.Equal([1e-7f, 3f], data[1].GetProperty("embedding").EnumerateArray().Select(x => x.GetSingle()));
    }

    [Fact]
    public void Json_writer_with_no_rows_is_still_valid_json_and_int8_rows_carry_their_scale()
    {
        using var empty = new MemoryStream();
        VectorWriters.Create(VectorFileFormat.Json, empty, 3, VectorPrecision.Float32, leaveOpen: true).Dispose();
        Assert.Equal(0, JsonDocument.Parse(empty.ToArray()).RootElement.GetProperty("data").GetArrayLength());

        using var stream = new MemoryStream();
        using (var writer = VectorWriters.Create(VectorFileFormat.Json, stream, 3, VectorPrecision.Int8, leaveOpen: true))
            writer.Write("q", Quantization.ToInt8([0.5f, -1f, 0.25f]));
        var row = JsonDocument.Parse(stream.ToArray()).RootElement.GetProperty("data")[0];
        Assert.Equal([64, -127, 32], row.GetProperty("embedding").EnumerateArray().Select(x => x.GetInt32()));
        Assert.Equal(1f / 127f, row.GetProperty("scale").GetSingle(), 1e-7f);
    }

    [Fact]
    public void Csv_writer_quotes_texts_that_need_it_and_writes_invariant_numbers()
    {
        var previous = Thread.CurrentThread.CurrentCulture;
        Thread.CurrentThread.CurrentCulture = new System.Globalization.CultureInfo("de-DE");
        try
        {
            using var stream = new MemoryStream();
            using (var writer = VectorWriters.Create(VectorFileFormat.Csv, stream, 2, VectorPrecision.Float32, leaveOpen: true))
            {
                writer.Write("plain", [0.5f, -1.25f]);
                writer.Write("with, comma and \"quote\"", [1f, 2f]);
            }
            var lines = Encoding.UTF8.GetString(stream.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(["text,d0,d1", "plain,0.5,-1.25", "\"with, comma and \"\"quote\"\"\",1,2"], lines);
        }
        finally
        {
            Thread.CurrentThread.CurrentCulture = previous;
        }
    }

    [Fact]
    public void Npy_vector_writer_keeps_int8_scales_for_a_companion_file_and_rejects_wrong_widths()
    {
        using var stream = new MemoryStream();
        var writer = (NpyVectorWriter)VectorWriters.Create(VectorFileFormat.Npy, stream, 2, VectorPrecision.Int8, leaveOpen: true);
        writer.Write(null, Quantization.ToInt8([2f, -1f]));
        writer.Write(null, Quantization.ToInt8([0f, 0.5f]));
        Assert.Equal([2f / 127f, 0.5f / 127f], writer.Scales);
        Assert.Throws<ArgumentException>(() => writer.Write(null, Quantization.ToInt8([1f, 2f, 3f])));
        writer.Dispose();
        Assert.Equal(NpyFile.HeaderBytes + 4, stream.Length);
    }
}
