using System.IO.Compression;
using KeyEmbed.Checkpoints.PyTorch;
using KeyEmbed.Checkpoints.TensorBundle;
using KeyEmbed.Tests.Fixtures;

namespace KeyEmbed.Tests.Checkpoints;

/// <summary>Damaged and hostile checkpoints fail with a KeyEmbedException naming the file and the problem.</summary>
public sealed class CheckpointCorruptionTests
{
    private static string WriteBundle(TempDir dir, int shards = 1)
    {
        var writer = new TensorBundleWriter { ShardCount = shards, BlockSize = 64 };
        for (int i = 0; i < 6; i++) writer.Add($"layer_{i}/kernel", [2, 3], [1, 2, 3, 4, 5, (float)i]);
        string prefix = dir.File("m.ckpt");
        writer.Save(prefix);
        return prefix;
    }

    private static void Truncate(string path, long length)
    {
        using var file = new FileStream(path, FileMode.Open);
        file.SetLength(length);
    }

    private static void FlipByte(string path, long offset)
    {
        var bytes = File.ReadAllBytes(path);
        bytes[offset] ^= 0x5a;
        File.WriteAllBytes(path, bytes);
    }

    [Fact]
    public void Truncated_index_file_names_the_file()
    {
        using var dir = new TempDir();
        string index = WriteBundle(dir) + ".index";
        Truncate(index, new FileInfo(index).Length / 2);
        Rejection.Expect(() => new TensorBundleReader(index), index, "magic", "truncated");
        Truncate(index, 20);
        Rejection.Expect(() => new TensorBundleReader(index), index, "shorter than the 48-byte table footer");
    }

    [Fact]
    public void Wrong_footer_magic_is_rejected()
    {
        using var dir = new TempDir();
        string index = WriteBundle(dir) + ".index";
        FlipByte(index, new FileInfo(index).Length - 1);
        Rejection.Expect(() => new TensorBundleReader(index), index, "footer magic", "not a TensorFlow checkpoint index");
    }

    [Fact]
    public void Block_handle_past_the_file_end_is_rejected()
    {
        using var dir = new TempDir();
        string index = WriteBundle(dir) + ".index";
        var bytes = File.ReadAllBytes(index);
        ulong pastEnd = (ulong)bytes.Length + 1000;
        TensorBundleWriter.Footer(0, 0, pastEnd, 64).CopyTo(bytes, bytes.Length - 48);
        File.WriteAllBytes(index, bytes);
        Rejection.Expect(() => new TensorBundleReader(index), index, "index handle", $"bytes {pastEnd}..");
    }

    [Fact]
    public void Damaged_index_block_fails_its_checksum()
    {
        using var dir = new TempDir();
        string index = WriteBundle(dir) + ".index";
        FlipByte(index, 20); // inside the first data block
        Rejection.Expect(() => new TensorBundleReader(index), index, "checksum mismatch");
    }

    [Fact]
    public void Snappy_compressed_index_is_rejected_clearly()
    {
        using var dir = new TempDir();
        new TensorBundleWriter { CompressionType = SsTable.SnappyCompression }.Add("w", [1], [1f]).Save(dir.File("m.ckpt"));
        Rejection.Expect(() => new TensorBundleReader(dir.File("m.ckpt")), "m.ckpt.index", "Snappy-compressed");
    }

    [Fact]
    public void Entry_size_that_does_not_match_its_shape_is_rejected()
    {
        using var dir = new TempDir();
        new TensorBundleWriter()
            .AddRaw("bad", KeyEmbed.Checkpoints.TensorBundle.Proto.DataType.DtFloat, [3], new byte[12], e => e.Size = 8)
            .Save(dir.File("m.ckpt"));
        Rejection.Expect(() => new TensorBundleReader(dir.File("m.ckpt")), "m.ckpt.index", "'bad'", "[3] of DT_FLOAT needs 12 bytes but the entry stores 8");
    }

    [Fact]
    public void Missing_data_shard_is_named()
    {
        using var dir = new TempDir();
        string prefix = WriteBundle(dir, shards: 2);
        File.Delete(prefix + ".data-00001-of-00002");
        Rejection.Expect(() => new TensorBundleReader(prefix), "m.ckpt.data-00001-of-00002", "data shard not found");
    }

    [Fact]
    public void Truncated_data_shard_is_named()
    {
        using var dir = new TempDir();
        string prefix = WriteBundle(dir);
        string shard = prefix + ".data-00000-of-00001";
        Truncate(shard, new FileInfo(shard).Length - 5);
        Rejection.Expect(() => new TensorBundleReader(prefix), shard, "truncated");
    }

    [Fact]
    public void Damaged_tensor_bytes_fail_the_entry_checksum_when_read()
    {
        using var dir = new TempDir();
        string prefix = WriteBundle(dir);
        FlipByte(prefix + ".data-00000-of-00001", 30);
        using var reader = new TensorBundleReader(prefix);
        var names = reader.Tensors.Select(t => t.Name).ToList();
        var failures = names.Where(n =>
        {
            try { reader.ReadFloat32(n); return false; }
            catch (KeyEmbedException e) { return e.Message.Contains("checksum mismatch") && e.Message.Contains("data-00000-of-00001"); }
        }).ToList();
        Assert.Single(failures);
    }

    // A LevelDB table by hand: blocks of (shared, unshared key bytes, value) entries with one restart point, each
    // followed by its trailer (no compression, masked CRC32C), then the footer naming the metaindex and index blocks.
    private static byte[] Block(params (int Shared, byte[] Unshared, byte[] Value)[] entries)
    {
        var block = new List<byte>();
        void Varint(ulong v) { while (v >= 0x80) { block.Add((byte)(v | 0x80)); v >>= 7; } block.Add((byte)v); }
        foreach (var (shared, unshared, value) in entries)
        {
            Varint((ulong)shared); Varint((ulong)unshared.Length); Varint((ulong)value.Length);
            block.AddRange(unshared); block.AddRange(value);
        }
        block.AddRange(BitConverter.GetBytes(0u)); // restart point 0
        block.AddRange(BitConverter.GetBytes(1u)); // one restart point
        return [.. block];
    }

    private static (ulong Offset, ulong Size) Append(MemoryStream file, byte[] block)
    {
        ulong offset = (ulong)file.Length;
        file.Write(block);
        file.WriteByte(0);
        file.Write(BitConverter.GetBytes(Crc32C.Mask(Crc32C.Extend(Crc32C.Compute(block), [0]))));
        return (offset, (ulong)block.Length);
    }

    private static byte[] Handle((ulong Offset, ulong Size) h)
    {
        var bytes = new List<byte>();
        foreach (var v0 in new[] { h.Offset, h.Size }) { ulong v = v0; while (v >= 0x80) { bytes.Add((byte)(v | 0x80)); v >>= 7; } bytes.Add((byte)v); }
        return [.. bytes];
    }

    private static byte[] Table(byte[][] dataBlocks, Func<List<(ulong Offset, ulong Size)>, IEnumerable<(ulong Offset, ulong Size)>> indexHandles)
    {
        using var file = new MemoryStream();
        var handles = dataBlocks.Select(b => Append(file, b)).ToList();
        var meta = Append(file, Block());
        var index = Append(file, Block([.. indexHandles(handles).Select((h, i) => (0, new[] { (byte)('a' + i) }, Handle(h)))]));
        file.Write(TensorBundleWriter.Footer(meta.Offset, meta.Size, index.Offset, index.Size));
        return file.ToArray();
    }

    [Fact]
    public void An_index_naming_one_data_block_twice_is_rejected()
    {
        // Each repeat would read (and copy) the same block again: a small file could make the reader copy its data
        // blocks any number of times.
        var block = Block((0, "kernel"u8.ToArray(), new byte[200]));
        var table = Table([block], handles => Enumerable.Repeat(handles[0], 3));
        var e = Assert.Throws<KeyEmbedException>(() => SsTable.ReadAll("m.ckpt.index", table));
        Assert.Equal(ErrorKind.InvalidCheckpoint, e.Kind);
        Assert.Contains("m.ckpt.index", e.Message);
        Assert.Contains("inside or before the previous one", e.Message);
        // The same block named once reads.
        Assert.Single(SsTable.ReadAll("m.ckpt.index", Table([block], handles => handles)));
    }

    [Fact]
    public void Keys_that_prefix_compression_expands_far_beyond_the_block_are_rejected()
    {
        // A 1,000-byte key, then 2,000 four-byte entries each repeating it in full: a 9 KB block whose keys would take
        // 2 MB (and a block of n bytes up to n²/4).
        var key = new byte[1000];
        Array.Fill(key, (byte)'k');
        var entries = new List<(int, byte[], byte[])> { (0, key, []) };
        for (int i = 0; i < 2000; i++) entries.Add((1000, [], []));
        var table = Table([Block([.. entries])], handles => handles);
        var e = Assert.Throws<KeyEmbedException>(() => SsTable.ReadAll("m.ckpt.index", table));
        Assert.Equal(ErrorKind.InvalidCheckpoint, e.Kind);
        Assert.Contains($"{SsTable.MaxKeyExpansion} times the block's", e.Message);
    }

    [Fact]
    public void Truncated_zip_is_rejected()
    {
        using var dir = new TempDir();
        string path = dir.File("pytorch_model.bin");
        new PyTorchZipWriter().Add("w", [64], new float[64]).Save(path);
        Truncate(path, new FileInfo(path).Length * 2 / 3);
        Rejection.Expect(() => new PyTorchZipReader(path), path, "end-of-central-directory", "truncated");
    }

    [Fact]
    public void Zip_without_data_pkl_is_rejected()
    {
        using var dir = new TempDir();
        string path = dir.File("pytorch_model.bin");
        PyTorchZipWriter.SaveArchive(path, pickle: null, new Dictionary<string, byte[]> { ["0"] = new byte[8] });
        Rejection.Expect(() => new PyTorchZipReader(path), path, "no data.pkl", "torch.save");
    }

    [Fact]
    public void Storage_missing_from_the_zip_is_rejected()
    {
        using var dir = new TempDir();
        string path = dir.File("m.bin");
        new PyTorchZipWriter().Add("w", [2], [1f, 2f]).Save(path);
        var pickle = ReadMember(path, "archive/data.pkl");
        PyTorchZipWriter.SaveArchive(path, pickle, new Dictionary<string, byte[]>());
        Rejection.Expect(() => new PyTorchZipReader(path), path, "storage '0'", "no member 'archive/data/0'");
    }

    [Theory]
    [InlineData("os", "system")]
    [InlineData("posix", "system")]
    [InlineData("nt", "system")]
    [InlineData("builtins", "eval")]
    [InlineData("__builtin__", "eval")]
    [InlineData("subprocess", "Popen")]
    [InlineData("torch", "load")]
    public void Pickle_naming_a_dangerous_global_is_refused_and_nothing_runs(string module, string name)
    {
        using var dir = new TempDir();
        string marker = dir.File("pwned");
        string path = dir.File("evil.bin");
        var pickle = new PickleBuilder().Proto(2).Global(module, name).Mark().String($"touch {marker}").Tuple().Reduce().Stop().ToArray();
        PyTorchZipWriter.SaveArchive(path, pickle, new Dictionary<string, byte[]>());
        var error = Rejection.Expect(() => new PyTorchZipReader(path), path, $"'{module}.{name}'", "allow-list");
        Assert.Contains("data.pkl", error.Message);
        Assert.False(File.Exists(marker));
    }

    [Fact]
    public void Stack_global_of_os_system_is_refused()
    {
        using var dir = new TempDir();
        string path = dir.File("evil.bin");
        var pickle = new PickleBuilder().Proto(4)
            .Op(0x8c).Op(2).Raw("os"u8).Op(0x8c).Op(6).Raw("system"u8).Op(0x93)
            .Op(0x8c).Op(2).Raw("id"u8).Op(0x85).Reduce().Stop().ToArray();
        PyTorchZipWriter.SaveArchive(path, pickle, new Dictionary<string, byte[]>());
        Rejection.Expect(() => new PyTorchZipReader(path), path, "'os.system'");
    }

    [Fact]
    public void Pickle_claiming_a_4_GB_string_is_an_error_not_an_allocation()
    {
        using var dir = new TempDir();
        string path = dir.File("huge.bin");
        var pickle = new PickleBuilder().Proto(2).StringHeader(uint.MaxValue).Raw("abc"u8).Stop().ToArray();
        PyTorchZipWriter.SaveArchive(path, pickle, new Dictionary<string, byte[]>());
        Rejection.Expect(() => new PyTorchZipReader(path), path, "claims a string of 4294967295 bytes");
        var pickle8 = new PickleBuilder().Proto(4).Op(0x8d).Raw(BitConverter.GetBytes(1L << 40)).Stop().ToArray();
        PyTorchZipWriter.SaveArchive(path, pickle8, new Dictionary<string, byte[]>());
        Rejection.Expect(() => new PyTorchZipReader(path), path, $"claims a string of {1L << 40} bytes");
    }

    [Fact]
    public void Storage_smaller_than_the_tensor_shape_is_rejected()
    {
        using var dir = new TempDir();
        string path = dir.File("m.bin");
        var writer = new PyTorchZipWriter();
        writer.AddView("w", writer.AddStorage([1, 2, 3, 4]), 0, [3, 3], [3, 1]);
        writer.Save(path);
        Rejection.Expect(() => new PyTorchZipReader(path), path, "tensor 'w'", "needs 9 elements of storage '0', which holds only 4");
    }

    [Fact]
    public void Storage_claiming_more_elements_than_its_bytes_is_rejected()
    {
        using var dir = new TempDir();
        string path = dir.File("m.bin");
        var writer = new PyTorchZipWriter();
        writer.AddView("w", writer.AddStorage([1, 2, 3, 4], claimedElements: 1L << 40), 0, [4], [1]);
        writer.Save(path);
        Rejection.Expect(() => new PyTorchZipReader(path), path, $"claims {1L << 40} F32 elements", "holds 16 bytes");
    }

    [Fact]
    public void Compressed_zip_members_are_rejected_clearly()
    {
        using var dir = new TempDir();
        string source = dir.File("stored.bin"), path = dir.File("deflated.bin");
        new PyTorchZipWriter().Add("w", [256], new float[256]).Save(source);
        using (var input = ZipFile.OpenRead(source))
        using (var output = ZipFile.Open(path, ZipArchiveMode.Create))
            foreach (var entry in input.Entries)
            {
                using var from = entry.Open();
                using var to = output.CreateEntry(entry.FullName, CompressionLevel.Optimal).Open();
                from.CopyTo(to);
            }
        Rejection.Expect(() => new PyTorchZipReader(path), path, "is compressed", "re-save");
    }

    [Fact]
    public void Pickle_file_without_torch_magic_number_is_rejected()
    {
        using var dir = new TempDir();
        string path = dir.File("old.bin");
        File.WriteAllBytes(path, new PickleBuilder().Proto(2).Int(0x1950a86a20f9469).Stop().ToArray());
        Rejection.Expect(() => new PyTorchZipReader(path), path, "not with torch's magic number");
    }

    [Fact]
    public void Truncated_legacy_file_is_rejected()
    {
        using var dir = new TempDir();
        string path = dir.File("old.bin");
        new PyTorchZipWriter().Add("a", [4], [1f, 2f, 3f, 4f]).Add("b", [64], new float[64]).SaveLegacy(path);
        Truncate(path, new FileInfo(path).Length - 10);
        Rejection.Expect(() => new PyTorchZipReader(path), path, "storage '1'", "truncated");
    }

    [Theory]
    [InlineData(new byte[] { 0x80, 0x02, (byte)'i', (byte)'o', (byte)'s', 0x0a }, "opcode 0x69 ('i')")] // INST
    [InlineData(new byte[] { 0x80, 0x02, (byte)'h', 0x07, (byte)'.' }, "memo slot 7")]
    [InlineData(new byte[] { 0x80, 0x02, (byte)'}' }, "ends before its STOP")]
    [InlineData(new byte[] { 0x80, 0x02, (byte)'R', (byte)'.' }, "empty stack")]
    [InlineData(new byte[] { 0x80, 0x02, (byte)'K', 0x01, (byte)'.' }, "holds a number, not a dict")]
    public void Malformed_pickles_are_rejected(byte[] pickle, string problem)
    {
        using var dir = new TempDir();
        string path = dir.File("bad.bin");
        PyTorchZipWriter.SaveArchive(path, pickle, new Dictionary<string, byte[]>());
        Rejection.Expect(() => new PyTorchZipReader(path), path, problem);
    }

    [Fact]
    public async Task Dicts_shared_through_the_memo_are_walked_once()
    {
        using var dir = new TempDir();
        string path = dir.File("laughs.bin");
        // 30 nested levels; each dict's 10 keys all point at the same next-level dict through the memo:
        // 30 dicts in the file, 10^29 paths to the tensor at the bottom. A naive walk would never finish.
        const int depth = 30;
        var p = new PickleBuilder().Proto(2);
        void Emit(int level)
        {
            p.EmptyDict().Put((byte)level).Mark();
            if (level == depth - 1)
            {
                p.String("w").Global("torch._utils", "_rebuild_tensor_v2")
                    .Mark().Mark().String("storage").Global("torch", "FloatStorage").String("0").String("cpu").Int(1).Tuple().PersistentId()
                    .Int(0).IntTuple([1]).IntTuple([1]).False().Global("collections", "OrderedDict").EmptyTuple().Reduce().Tuple().Reduce();
            }
            else
            {
                p.String("k0");
                Emit(level + 1);
                for (int k = 1; k < 10; k++) p.String($"k{k}").Get((byte)(level + 1));
            }
            p.SetItems();
        }
        Emit(0);
        PyTorchZipWriter.SaveArchive(path, p.Stop().ToArray(), new Dictionary<string, byte[]> { ["0"] = BitConverter.GetBytes(2.5f) });

        // WaitAsync throws TimeoutException if opening hangs.
        using var reader = await Task.Run(() => new PyTorchZipReader(path)).WaitAsync(TimeSpan.FromSeconds(30));
        var tensor = Assert.Single(reader.Tensors);
        Assert.Equal(string.Concat(Enumerable.Repeat("k0.", depth - 1)) + "w", tensor.Name);
        Assert.Equal([2.5f], reader.ReadFloat32(tensor.Name));
    }

    private static byte[] ReadMember(string zipPath, string name)
    {
        using var zip = ZipFile.OpenRead(zipPath);
        using var stream = zip.GetEntry(name)!.Open();
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
