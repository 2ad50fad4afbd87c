namespace KeyEmbed.IO;

/// <summary>
/// Files written whole or not at all: the bytes go to a temporary file beside the target (same folder, so the same
/// file system), are flushed to the disk, and the temporary file is renamed over the target. A reader, a crash or a
/// SIGKILL at any moment sees either the old file (or none) or the complete new one, never a truncated one. A write
/// that fails (disk full, file-size limit, permission) deletes the temporary file and throws one
/// <see cref="KeyEmbedException"/> naming the target; the target is left as it was. A process killed mid-write can
/// leave its temporary file (<c>.NAME.XXXXXXXX.tmp</c>) beside the target, never at it.
/// </summary>
public static class AtomicFile
{
    /// <summary>The temporary name used for <paramref name="path"/>: hidden, unique, in the same folder.</summary>
    internal static string TemporaryPath(string path)
    {
        string full = Path.GetFullPath(path);
        return Path.Combine(Path.GetDirectoryName(full)!, "." + Path.GetFileName(full) + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp");
    }

    /// <summary>Whether <paramref name="fileName"/> is a temporary name <see cref="Write"/> makes.</summary>
    internal static bool IsTemporaryName(string fileName) => fileName.StartsWith('.') && fileName.EndsWith(".tmp", StringComparison.Ordinal);

    /// <summary>
    /// Writes <paramref name="path"/> through <paramref name="write"/> (given a seekable stream) atomically.
    /// <paramref name="failure"/> opens the error message (e.g. <c>--output: cannot write 'x.npy'</c>); the reason follows.
    /// A <see cref="KeyEmbedException"/> or cancellation thrown by <paramref name="write"/> passes through unchanged.
    /// </summary>
    public static void Write(string path, Action<Stream> write, string failure)
    {
        string temp;
        try
        {
            temp = TemporaryPath(path);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw KeyEmbedException.Input($"{failure}: {e.Message}");
        }
        try
        {
            using (var stream = new SizeLimitedFileStream(new FileStream(temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16)))
            {
                write(stream);
                stream.FlushToDisk();
            }
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e)
        {
            TryDelete(temp);
            if (e is IOException or UnauthorizedAccessException)
                throw new KeyEmbedException(ErrorKind.InvalidInput, $"{failure}: {Reason(e)}; nothing was written there", e);
            throw;
        }
    }

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> atomically.</summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes, string failure)
    {
        var copy = bytes.ToArray();
        Write(path, stream => stream.Write(copy), failure);
    }

    /// <summary>Writes <paramref name="text"/> (UTF-8, no byte-order mark) to <paramref name="path"/> atomically.</summary>
    public static void WriteAllText(string path, string text, string failure) =>
        WriteAllBytes(path, System.Text.Encoding.UTF8.GetBytes(text), failure);

    // The operating system's words, with the two a full disk gives made plain.
    private static string Reason(Exception e)
    {
        string message = e.Message;
        if (message.Contains("No space left on device", StringComparison.OrdinalIgnoreCase)) return "the disk is full (no space left on device)";
        if (e is FileTooLargeException || message.Contains("File too large", StringComparison.OrdinalIgnoreCase)) return "the file is larger than this process may write (file size limit, ulimit -f)";
        return message;
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private sealed class FileTooLargeException(Exception inner) : IOException("File too large", inner);

    // .NET reports a write past the file-size limit (EFBIG, `ulimit -f`) as an ArgumentOutOfRangeException from inside
    // FileStream; this wrapper turns that (and only that: it comes from the file, not from the caller's arguments) into
    // an IOException, so every way of running out of room reads the same.
    private sealed class SizeLimitedFileStream(FileStream file) : Stream
    {
        public override bool CanRead => file.CanRead;
        public override bool CanSeek => file.CanSeek;
        public override bool CanWrite => file.CanWrite;
        public override long Length => file.Length;
        public override long Position { get => file.Position; set => Guard(() => file.Position = value); }
        public override void Flush() => Guard(file.Flush);
        public void FlushToDisk() => Guard(() => file.Flush(flushToDisk: true));
        public override int Read(byte[] buffer, int offset, int count) => file.Read(buffer, offset, count);
        public override long Seek(long offset, SeekOrigin origin)
        {
            long position = 0;
            Guard(() => position = file.Seek(offset, origin));
            return position;
        }
        public override void SetLength(long value) => Guard(() => file.SetLength(value));
        public override void Write(byte[] buffer, int offset, int count)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(offset);
            ArgumentOutOfRangeException.ThrowIfNegative(count);
            Write(buffer.AsSpan(offset, count));
        }
        public override void Write(ReadOnlySpan<byte> buffer)
        {
            try { file.Write(buffer); }
            catch (ArgumentOutOfRangeException e) { throw new FileTooLargeException(e); }
        }
        public override void WriteByte(byte value) => Write([value]);

        private static void Guard(Action action)
        {
            try { action(); }
            catch (ArgumentOutOfRangeException e) { throw new FileTooLargeException(e); }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) Guard(file.Dispose);
            base.Dispose(disposing);
        }
    }
}
