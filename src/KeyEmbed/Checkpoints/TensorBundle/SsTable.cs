using System.Buffers.Binary;

namespace KeyEmbed.Checkpoints.TensorBundle;

/// <summary>
/// Reads every key/value pair of a LevelDB-format table, the container of a TensorBundle's <c>.index</c> file:
/// data blocks of prefix-compressed entries with restart points, an index block of block handles, a 48-byte footer.
/// Every offset is checked against the file before it is used, so a corrupt file gives a clear error, not a crash.
/// </summary>
internal static class SsTable
{
    public const ulong FooterMagic = 0xdb4775248b80fb57;
    public const int FooterLength = 48;
    public const int BlockTrailerLength = 5;
    public const byte NoCompression = 0;
    public const byte SnappyCompression = 1;
    /// <summary>Most bytes a block's keys may expand to, per byte of the block (a real index's keys take under 1).</summary>
    public const int MaxKeyExpansion = 64;

    public static List<(byte[] Key, byte[] Value)> ReadAll(string path, ReadOnlySpan<byte> file)
    {
        if (file.Length < FooterLength)
            throw KeyEmbedException.Checkpoint(path, $"index file is {file.Length} bytes, shorter than the {FooterLength}-byte table footer; the file is truncated");
        var footer = file[^FooterLength..];
        ulong magic = BinaryPrimitives.ReadUInt64LittleEndian(footer[40..]);
        if (magic != FooterMagic)
            throw KeyEmbedException.Checkpoint(path, $"table footer magic is 0x{magic:x16}, expected 0x{FooterMagic:x16}; not a TensorFlow checkpoint index, or the file is truncated");
        int position = 0;
        var metaIndex = ReadHandle(path, footer[..40], ref position, "metaindex");
        var index = ReadHandle(path, footer[..40], ref position, "index");
        long tableEnd = file.Length - FooterLength;
        CheckHandle(path, metaIndex, tableEnd, "metaindex");
        CheckHandle(path, index, tableEnd, "index");

        var result = new List<(byte[] Key, byte[] Value)>();
        // Data blocks lie one after another (LevelDB writes them in key order); an index naming one block twice, or
        // blocks that overlap, would have the same bytes read again and again, so what is read stays within the file.
        ulong nextFree = 0;
        foreach (var (_, handleBytes) in ReadBlock(path, file, index, "index block"))
        {
            int p = 0;
            var handle = ReadHandle(path, handleBytes, ref p, "data block");
            CheckHandle(path, handle, tableEnd, "data block");
            if (handle.Offset < nextFree)
                throw KeyEmbedException.Checkpoint(path, $"the index names a data block at bytes {handle.Offset}..{handle.Offset + handle.Size}, inside or before the previous one (which ends at byte {nextFree}); the file is corrupt");
            nextFree = handle.Offset + handle.Size + BlockTrailerLength;
            result.AddRange(ReadBlock(path, file, handle, $"data block at offset {handle.Offset}"));
        }
        return result;
    }

    private readonly record struct BlockHandle(ulong Offset, ulong Size);

    private static BlockHandle ReadHandle(string path, ReadOnlySpan<byte> bytes, ref int position, string what)
    {
        ulong offset = ReadVarint(path, bytes, ref position, what + " handle");
        ulong size = ReadVarint(path, bytes, ref position, what + " handle");
        return new BlockHandle(offset, size);
    }

    private static void CheckHandle(string path, BlockHandle handle, long tableEnd, string what)
    {
        if (handle.Offset > (ulong)tableEnd || handle.Size > (ulong)tableEnd
            || handle.Offset + handle.Size + BlockTrailerLength > (ulong)tableEnd)
            throw KeyEmbedException.Checkpoint(path, $"{what} handle points at bytes {handle.Offset}..{handle.Offset + handle.Size} (+{BlockTrailerLength}-byte trailer) but the table ends at byte {tableEnd}; the file is truncated or corrupt");
    }

    private static List<(byte[] Key, byte[] Value)> ReadBlock(string path, ReadOnlySpan<byte> file, BlockHandle handle, string what)
    {
        var block = file.Slice((int)handle.Offset, (int)handle.Size);
        byte compression = file[(int)(handle.Offset + handle.Size)];
        uint storedCrc = BinaryPrimitives.ReadUInt32LittleEndian(file[(int)(handle.Offset + handle.Size + 1)..]);
        // The checksum covers the block contents and the compression byte.
        uint actualCrc = Crc32C.Extend(Crc32C.Compute(block), [compression]);
        if (Crc32C.Unmask(storedCrc) != actualCrc)
            throw KeyEmbedException.Checkpoint(path, $"{what}: checksum mismatch (stored 0x{Crc32C.Unmask(storedCrc):x8}, computed 0x{actualCrc:x8}); the file is corrupt");
        if (compression == SnappyCompression)
            throw KeyEmbedException.Checkpoint(path, $"{what} is Snappy-compressed; KeyEmbed reads only uncompressed checkpoint indexes (TensorFlow writes them uncompressed)");
        if (compression != NoCompression)
            throw KeyEmbedException.Checkpoint(path, $"{what} has unknown compression type {compression}");
        return ParseEntries(path, block, what);
    }

    private static List<(byte[] Key, byte[] Value)> ParseEntries(string path, ReadOnlySpan<byte> block, string what)
    {
        if (block.Length < 4)
            throw KeyEmbedException.Checkpoint(path, $"{what} is {block.Length} bytes, too short for its restart count");
        uint restarts = BinaryPrimitives.ReadUInt32LittleEndian(block[^4..]);
        if (restarts > (uint)(block.Length / 4 - 1))
            throw KeyEmbedException.Checkpoint(path, $"{what} claims {restarts} restart points, more than its {block.Length} bytes can hold");
        int entriesEnd = block.Length - 4 - (int)restarts * 4;

        var entries = new List<(byte[] Key, byte[] Value)>();
        // Prefix compression lets each entry repeat the previous key for a few bytes; keys (tensor names) are short,
        // so a block whose keys expand past this many bytes is not a checkpoint's (and would take memory quadratic in
        // its size).
        long keyBudget = (long)MaxKeyExpansion * block.Length;
        long keyBytes = 0;
        byte[] previous = [];
        int position = 0;
        while (position < entriesEnd)
        {
            var data = block[..entriesEnd];
            ulong shared = ReadVarint(path, data, ref position, what);
            ulong unshared = ReadVarint(path, data, ref position, what);
            ulong valueLength = ReadVarint(path, data, ref position, what);
            if (shared > (ulong)previous.Length || unshared > (ulong)(entriesEnd - position)
                || valueLength > (ulong)(entriesEnd - position) - unshared)
                throw KeyEmbedException.Checkpoint(path, $"{what}: entry at byte {position} has lengths (shared {shared}, unshared {unshared}, value {valueLength}) that run past the block; the file is corrupt");
            keyBytes += (long)shared + (long)unshared;
            if (keyBytes > keyBudget)
                throw KeyEmbedException.Checkpoint(path, $"{what}: its keys expand to over {keyBudget} bytes, {MaxKeyExpansion} times the block's {block.Length} bytes (a key repeated by prefix compression); the file is corrupt");
            var key = new byte[(int)shared + (int)unshared];
            previous.AsSpan(0, (int)shared).CopyTo(key);
            data.Slice(position, (int)unshared).CopyTo(key.AsSpan((int)shared));
            position += (int)unshared;
            var value = data.Slice(position, (int)valueLength).ToArray();
            position += (int)valueLength;
            entries.Add((key, value));
            previous = key;
        }
        return entries;
    }

    private static ulong ReadVarint(string path, ReadOnlySpan<byte> bytes, ref int position, string what)
    {
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (position >= bytes.Length)
                throw KeyEmbedException.Checkpoint(path, $"{what}: a length field runs past its bytes; the file is truncated or corrupt");
            byte b = bytes[position++];
            value |= (ulong)(b & 0x7f) << shift;
            if ((b & 0x80) == 0) return value;
        }
        throw KeyEmbedException.Checkpoint(path, $"{what}: a length field is longer than 10 bytes; the file is corrupt");
    }
}
