using System.Buffers.Binary;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace KeyEmbed.Checkpoints.PyTorch;

/// <summary>
/// The central directory of a zip file, read by hand so that a stored (uncompressed) member can be
/// memory-mapped in place: torch.save writes its tensors as stored members, and System.IO.Compression does not
/// expose where a member's bytes start. Handles zip64; every offset is checked against the file length.
/// </summary>
internal sealed class ZipDirectory
{
    private const uint EndOfDirectorySignature = 0x06054b50;
    private const uint Zip64EndOfDirectorySignature = 0x06064b50;
    private const uint Zip64LocatorSignature = 0x07064b50;
    private const uint DirectoryEntrySignature = 0x02014b50;
    private const uint LocalHeaderSignature = 0x04034b50;
    private const int EndOfDirectoryLength = 22;
    private const int MaxCommentLength = 0xffff;
    // A torch checkpoint's directory holds one small record per tensor storage; this is far beyond any of them.
    private const long MaxDirectoryBytes = 256L * 1024 * 1024;

    public sealed record Member(string Name, ushort Method, long CompressedSize, long Size, long LocalHeaderOffset);

    private readonly string _path;
    private readonly Dictionary<string, Member> _members = new(StringComparer.Ordinal);

    public ZipDirectory(string path, SafeFileHandle file)
    {
        _path = path;
        FileLength = RandomAccess.GetLength(file);
        var (entryCount, directoryOffset, directorySize) = FindDirectory(file);
        if (directorySize > MaxDirectoryBytes || directoryOffset > FileLength - directorySize || directoryOffset < 0 || directorySize < 0)
            throw Corrupt($"the zip central directory claims bytes {directoryOffset}..{directoryOffset + directorySize} of a {FileLength}-byte file; the file is truncated or corrupt");
        var directory = new byte[directorySize];
        RandomAccess.Read(file, directory, directoryOffset);
        ParseDirectory(directory, entryCount);
    }

    public long FileLength { get; }

    public IEnumerable<Member> Members => _members.Values;

    public bool TryGet(string name, out Member member) => _members.TryGetValue(name, out member!);

    /// <summary>Where a stored member's bytes begin, after its local header.</summary>
    public long DataOffset(SafeFileHandle file, Member member)
    {
        Span<byte> header = stackalloc byte[30];
        if (member.LocalHeaderOffset > FileLength - header.Length
            || RandomAccess.Read(file, header, member.LocalHeaderOffset) != header.Length
            || BinaryPrimitives.ReadUInt32LittleEndian(header) != LocalHeaderSignature)
            throw Corrupt($"zip member '{member.Name}' has no local header at byte {member.LocalHeaderOffset}; the file is truncated or corrupt");
        long start = member.LocalHeaderOffset + header.Length
            + BinaryPrimitives.ReadUInt16LittleEndian(header[26..]) + BinaryPrimitives.ReadUInt16LittleEndian(header[28..]);
        if (start > FileLength - member.CompressedSize)
            throw Corrupt($"zip member '{member.Name}' needs bytes {start}..{start + member.CompressedSize} but the file has {FileLength}; the file is truncated");
        return start;
    }

    private KeyEmbedException Corrupt(string problem) => KeyEmbedException.Checkpoint(_path, problem);

    private (long Count, long Offset, long Size) FindDirectory(SafeFileHandle file)
    {
        if (FileLength < EndOfDirectoryLength)
            throw Corrupt($"file is {FileLength} bytes, too short for a zip archive; the file is truncated");
        int tailLength = (int)Math.Min(FileLength, EndOfDirectoryLength + MaxCommentLength + 20);
        var tail = new byte[tailLength];
        RandomAccess.Read(file, tail, FileLength - tailLength);
        for (int i = tailLength - EndOfDirectoryLength; i >= 0; i--)
        {
            if (BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(i)) != EndOfDirectorySignature) continue;
            var record = tail.AsSpan(i);
            long count = BinaryPrimitives.ReadUInt16LittleEndian(record[10..]);
            long size = BinaryPrimitives.ReadUInt32LittleEndian(record[12..]);
            long offset = BinaryPrimitives.ReadUInt32LittleEndian(record[16..]);
            bool zip64 = count == 0xffff || size == 0xffffffff || offset == 0xffffffff;
            if (zip64 && i >= 20 && BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(i - 20)) == Zip64LocatorSignature)
            {
                long zip64Offset = BinaryPrimitives.ReadInt64LittleEndian(tail.AsSpan(i - 20 + 8));
                var zip64Record = new byte[56];
                if (zip64Offset < 0 || zip64Offset > FileLength - zip64Record.Length
                    || RandomAccess.Read(file, zip64Record, zip64Offset) != zip64Record.Length
                    || BinaryPrimitives.ReadUInt32LittleEndian(zip64Record) != Zip64EndOfDirectorySignature)
                    throw Corrupt("the zip64 end-of-directory record is missing or out of bounds; the file is truncated or corrupt");
                count = BinaryPrimitives.ReadInt64LittleEndian(zip64Record.AsSpan(32));
                size = BinaryPrimitives.ReadInt64LittleEndian(zip64Record.AsSpan(40));
                offset = BinaryPrimitives.ReadInt64LittleEndian(zip64Record.AsSpan(48));
            }
            return (count, offset, size);
        }
        throw Corrupt("no zip end-of-central-directory record; the file is truncated, or it is not a zip archive");
    }

    private void ParseDirectory(ReadOnlySpan<byte> directory, long entryCount)
    {
        int position = 0;
        for (long n = 0; n < entryCount; n++)
        {
            if (directory.Length - position < 46 || BinaryPrimitives.ReadUInt32LittleEndian(directory[position..]) != DirectoryEntrySignature)
                throw Corrupt($"zip central directory entry {n} is missing or malformed; the file is corrupt");
            var entry = directory[position..];
            ushort method = BinaryPrimitives.ReadUInt16LittleEndian(entry[10..]);
            long compressed = BinaryPrimitives.ReadUInt32LittleEndian(entry[20..]);
            long size = BinaryPrimitives.ReadUInt32LittleEndian(entry[24..]);
            int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(entry[28..]);
            int extraLength = BinaryPrimitives.ReadUInt16LittleEndian(entry[30..]);
            int commentLength = BinaryPrimitives.ReadUInt16LittleEndian(entry[32..]);
            long localOffset = BinaryPrimitives.ReadUInt32LittleEndian(entry[42..]);
            if (entry.Length < 46 + nameLength + extraLength + commentLength)
                throw Corrupt($"zip central directory entry {n} runs past the directory; the file is corrupt");
            string name = Encoding.UTF8.GetString(entry.Slice(46, nameLength));
            ReadZip64Extra(entry.Slice(46 + nameLength, extraLength), ref size, ref compressed, ref localOffset);
            if (compressed < 0 || size < 0 || localOffset < 0 || localOffset >= FileLength)
                throw Corrupt($"zip member '{name}' claims an offset or size beyond the {FileLength}-byte file; the file is truncated or corrupt");
            _members[name] = new Member(name, method, compressed, size, localOffset);
            position += 46 + nameLength + extraLength + commentLength;
        }
    }

    // The zip64 extra field holds, in this order, only those values whose 32-bit field is 0xffffffff.
    private static void ReadZip64Extra(ReadOnlySpan<byte> extra, ref long size, ref long compressed, ref long localOffset)
    {
        while (extra.Length >= 4)
        {
            ushort id = BinaryPrimitives.ReadUInt16LittleEndian(extra);
            int length = BinaryPrimitives.ReadUInt16LittleEndian(extra[2..]);
            if (extra.Length < 4 + length) return;
            var data = extra.Slice(4, length);
            if (id == 1)
            {
                int p = 0;
                if (size == 0xffffffff && p + 8 <= data.Length) { size = BinaryPrimitives.ReadInt64LittleEndian(data[p..]); p += 8; }
                if (compressed == 0xffffffff && p + 8 <= data.Length) { compressed = BinaryPrimitives.ReadInt64LittleEndian(data[p..]); p += 8; }
                if (localOffset == 0xffffffff && p + 8 <= data.Length) localOffset = BinaryPrimitives.ReadInt64LittleEndian(data[p..]);
            }
            extra = extra[(4 + length)..];
        }
    }
}
