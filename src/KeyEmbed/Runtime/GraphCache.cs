using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using KeyEmbed.IO;

namespace KeyEmbed.Runtime;

/// <summary>One graph kept in the cache, as <see cref="GraphCache.List"/> shows it.</summary>
/// <param name="Key">The entry's key (SHA-256 hex; the file is <c>KEY.onnx</c>).</param>
/// <param name="Label">What was built (model and request), as recorded when it was written; empty for an unreadable header.</param>
/// <param name="Bytes">Size on disk.</param>
/// <param name="LastUsedUtc">When it was last written or read (least recently used entries are evicted first).</param>
public sealed record GraphCacheEntry(string Key, string Label, long Bytes, DateTime LastUsedUtc);

/// <summary>
/// Built ONNX graphs kept on disk so the second start of a model skips the build. An entry's key is a hash of the
/// weights' content, the config, the request and the graph version (the caller composes it with <see cref="Key"/>).
/// Location: <c>$KEYEMBED_CACHE</c> if set (<c>off</c> disables the cache), else <c>$XDG_CACHE_HOME/keyembed/graphs</c>,
/// else <c>~/.cache/keyembed/graphs</c>. Bounded: when the entries pass <see cref="MaxBytes"/> the least recently used
/// go first (<c>$KEYEMBED_CACHE_MAX</c>, default <see cref="DefaultMaxBytes"/>). Each entry carries a SHA-256 of its
/// contents; a damaged entry is rebuilt with a warning, and a cache that cannot be written is skipped: the cache is
/// never fatal. Entries are written to a temporary file and renamed, so processes building the same graph at once
/// each succeed and never read half an entry. See docs/cache.md.
/// </summary>
public sealed class GraphCache
{
    private static readonly byte[] Magic = "KEYEMBED-GRAPH-2"u8.ToArray();
    private static readonly byte[] OldMagic = "KEYEMBED-GRAPH-1"u8.ToArray();
    private const int HashBytes = 32;
    private const int HeaderBytes = 16 + HashBytes + 4;
    private const int MaxLabelBytes = 4096;
    private const string Extension = ".onnx";

    /// <summary>The size cap when neither the option nor <c>KEYEMBED_CACHE_MAX</c> gives one: 4 GiB.</summary>
    public const long DefaultMaxBytes = 4L << 30;

    // Temporary files older than this are left over by a killed process and swept during eviction.
    private static readonly TimeSpan StaleTemporary = TimeSpan.FromHours(1);

    /// <summary>
    /// Creates a cache in <paramref name="directory"/> (null = <see cref="DefaultDirectory"/>) holding at most
    /// <paramref name="maxBytes"/> (null = <see cref="DefaultMaxSize"/>); <paramref name="warn"/> hears about damaged
    /// entries (null = one <c>warning:</c> line on standard error).
    /// </summary>
    public GraphCache(string? directory = null, long? maxBytes = null, Action<string>? warn = null)
    {
        Directory = directory ?? DefaultDirectory();
        MaxBytes = maxBytes ?? DefaultMaxSize();
        if (MaxBytes < 0) throw KeyEmbedException.Input($"graph cache size cap {MaxBytes} is negative");
        _warn = warn ?? (message => Console.Error.WriteLine("warning: " + message));
    }

    private readonly Action<string> _warn;

    /// <summary>The cache folder, or null when caching is off (<c>KEYEMBED_CACHE=off</c>).</summary>
    public string? Directory { get; }

    /// <summary>The most bytes the entries may take together; 0 stores nothing.</summary>
    public long MaxBytes { get; }

    /// <summary>Where graphs are cached by default; null when <c>KEYEMBED_CACHE</c> is <c>off</c>.</summary>
    public static string? DefaultDirectory(Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        string? configured = environment("KEYEMBED_CACHE");
        if (!string.IsNullOrWhiteSpace(configured))
            return configured.Trim().Equals("off", StringComparison.OrdinalIgnoreCase) ? null : configured;
        string? xdg = environment("XDG_CACHE_HOME");
        string root = !string.IsNullOrWhiteSpace(xdg) ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(root, "keyembed", "graphs");
    }

    /// <summary>The size cap from <c>KEYEMBED_CACHE_MAX</c> (bytes, or with a K/M/G suffix, powers of 1024), else <see cref="DefaultMaxBytes"/>.</summary>
    public static long DefaultMaxSize(Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        string? configured = environment("KEYEMBED_CACHE_MAX");
        if (string.IsNullOrWhiteSpace(configured)) return DefaultMaxBytes;
        return ParseSize(configured) ?? throw KeyEmbedException.Input(
            $"KEYEMBED_CACHE_MAX='{configured}' is not a size: give bytes or a number with K, M or G (e.g. 2G, 500M)");
    }

    /// <summary>Bytes from <c>123</c>, <c>64K</c>, <c>500M</c>, <c>2G</c> (optionally with a trailing B or iB); null if not a size.</summary>
    public static long? ParseSize(string text)
    {
        string t = text.Trim().ToUpperInvariant();
        if (t.EndsWith("IB", StringComparison.Ordinal)) t = t[..^2];
        else if (t.EndsWith('B')) t = t[..^1];
        int shift = t.Length == 0 ? 0 : t[^1] switch { 'K' => 10, 'M' => 20, 'G' => 30, 'T' => 40, _ => 0 };
        if (shift > 0) t = t[..^1];
        if (!double.TryParse(t, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double number) || number < 0) return null;
        double bytes = number * Math.Pow(2, shift);
        return bytes > long.MaxValue / 2 ? null : (long)bytes;
    }

    /// <summary>A cache key: the SHA-256 (hex) of the parts joined.</summary>
    internal static string Key(params string[] parts) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join("\n", parts))));

    /// <summary>
    /// The entry for <paramref name="key"/> if present and intact, else <paramref name="build"/>'s bytes, stored for next
    /// time under <paramref name="label"/> (what <c>keyembed cache list</c> shows), evicting least recently used entries
    /// past the cap.
    /// </summary>
    internal byte[] GetOrBuild(string key, Func<byte[]> build, out bool hit, string label = "")
    {
        hit = false;
        if (Directory is null) return build();
        string path = EntryPath(key);
        if (TryRead(path) is { } cached)
        {
            hit = true;
            Touch(path);
            return cached;
        }
        var bytes = build();
        long size = HeaderBytes + Math.Min(Encoding.UTF8.GetByteCount(label), MaxLabelBytes) + bytes.LongLength;
        if (size <= MaxBytes && TryWrite(path, label, bytes)) Evict(keep: path);
        return bytes;
    }

    /// <summary>The entries, most recently used first (empty when the cache is off or the folder does not exist).</summary>
    public IReadOnlyList<GraphCacheEntry> List()
    {
        if (Directory is null || !System.IO.Directory.Exists(Directory)) return [];
        var entries = new List<GraphCacheEntry>();
        foreach (var file in new DirectoryInfo(Directory).EnumerateFiles("*" + Extension))
        {
            try
            {
                entries.Add(new GraphCacheEntry(Path.GetFileNameWithoutExtension(file.Name), ReadLabel(file.FullName), file.Length, LastUsed(file)));
            }
            catch (IOException) { } // deleted meanwhile by another process
        }
        return [.. entries.OrderByDescending(e => e.LastUsedUtc)];
    }

    /// <summary>Deletes every entry, the remembered content hashes and left-over temporary files; returns the bytes freed.</summary>
    public long Clear()
    {
        if (Directory is null || !System.IO.Directory.Exists(Directory)) return 0;
        long freed = 0;
        var root = new DirectoryInfo(Directory);
        var files = root.EnumerateFiles("*" + Extension)
            .Concat(root.EnumerateFiles("*.tmp"))
            .Concat(System.IO.Directory.Exists(Path.Combine(Directory, "content-hashes"))
                ? new DirectoryInfo(Path.Combine(Directory, "content-hashes")).EnumerateFiles() : []);
        foreach (var file in files.ToList())
        {
            try
            {
                long length = file.Length;
                file.Delete();
                freed += length;
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return freed;
    }

    /// <summary>
    /// SHA-256 of the files' contents (hex). Remembered per file by path, length and modification time in the cache
    /// folder, so an unchanged multi-gigabyte checkpoint is hashed once.
    /// </summary>
    internal string ContentHash(IReadOnlyList<string> files)
    {
        using var all = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in files)
            all.AppendData(Encoding.UTF8.GetBytes(FileHash(file)));
        return Convert.ToHexStringLower(all.GetHashAndReset());
    }

    private string EntryPath(string key) => Path.Combine(Directory!, key + Extension);

    private string FileHash(string file)
    {
        var info = new FileInfo(file);
        if (!info.Exists) throw KeyEmbedException.Checkpoint(file, "file not found");
        string stamp = string.Create(CultureInfo.InvariantCulture, $"{info.FullName}|{info.Length}|{info.LastWriteTimeUtc.Ticks}");
        string? memo = Directory is null ? null : Path.Combine(Directory, "content-hashes", Key(info.FullName) + ".txt");
        if (memo != null)
        {
            try
            {
                var lines = File.Exists(memo) ? File.ReadAllLines(memo) : [];
                if (lines.Length == 2 && lines[0] == stamp && lines[1].Length == 64) return lines[1];
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        string hash;
        using (var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20))
            hash = Convert.ToHexStringLower(SHA256.HashData(stream));
        if (memo != null) TryWriteFile(memo, stream => stream.Write(Encoding.UTF8.GetBytes(stamp + "\n" + hash + "\n")));
        return hash;
    }

    // Layout: magic (16) | SHA-256 of everything after it (32) | label length (int32 LE) | label (UTF-8) | ONNX bytes.
    // The payload is read straight into its own array, not the whole file first and then copied out: entries are as
    // large as the model, and a start's peak memory counts every copy.
    private byte[]? TryRead(string path)
    {
        string? problem;
        try
        {
            if (!File.Exists(path)) return null;
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
            var header = new byte[HeaderBytes];
            int got = stream.ReadAtLeast(header, HeaderBytes, throwOnEndOfStream: false);
            if (got >= OldMagic.Length && header.AsSpan(0, OldMagic.Length).SequenceEqual(OldMagic)) return null; // an older KeyEmbed's entry: replaced quietly
            problem = CheckHeader(header, got, stream.Length, out int labelLength);
            if (problem is null)
            {
                var label = new byte[labelLength];
                stream.ReadExactly(label);
                var payload = GC.AllocateUninitializedArray<byte>((int)(stream.Length - HeaderBytes - labelLength));
                stream.ReadExactly(payload);
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                hash.AppendData(header, Magic.Length + HashBytes, 4);
                hash.AppendData(label);
                hash.AppendData(payload);
                if (hash.GetHashAndReset().AsSpan().SequenceEqual(header.AsSpan(Magic.Length, HashBytes))) return payload;
                problem = "checksum mismatch: truncated or corrupted";
            }
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
        _warn($"graph cache entry {path} is damaged ({problem}); rebuilding it");
        return null;
    }

    private static string? CheckHeader(byte[] header, int headerRead, long fileLength, out int labelLength)
    {
        labelLength = 0;
        if (headerRead < HeaderBytes) return $"truncated: {fileLength} bytes";
        if (!header.AsSpan(0, Magic.Length).SequenceEqual(Magic)) return "not a KeyEmbed graph entry";
        labelLength = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(Magic.Length + HashBytes));
        if (labelLength < 0 || labelLength > MaxLabelBytes || HeaderBytes + labelLength > fileLength) return "truncated or bad header";
        if (fileLength - HeaderBytes - labelLength > Array.MaxLength) return "larger than an array can hold";
        return null;
    }

    private static string ReadLabel(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        Span<byte> header = stackalloc byte[HeaderBytes];
        if (stream.ReadAtLeast(header, HeaderBytes, throwOnEndOfStream: false) < HeaderBytes || !header[..Magic.Length].SequenceEqual(Magic)) return "";
        int length = BinaryPrimitives.ReadInt32LittleEndian(header[(Magic.Length + HashBytes)..]);
        if (length <= 0 || length > MaxLabelBytes) return "";
        var label = new byte[length];
        return stream.ReadAtLeast(label, length, throwOnEndOfStream: false) == length ? Encoding.UTF8.GetString(label) : "";
    }

    private static bool TryWrite(string path, string label, byte[] payload)
    {
        var labelBytes = Encoding.UTF8.GetBytes(label);
        if (labelBytes.Length > MaxLabelBytes) labelBytes = labelBytes[..MaxLabelBytes];
        var lengthBytes = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(lengthBytes, labelBytes.Length);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(lengthBytes);
        hash.AppendData(labelBytes);
        hash.AppendData(payload);
        var digest = hash.GetHashAndReset();
        return TryWriteFile(path, stream =>
        {
            stream.Write(Magic);
            stream.Write(digest);
            stream.Write(lengthBytes);
            stream.Write(labelBytes);
            stream.Write(payload);
        });
    }

    // Temporary file + rename (AtomicFile); a folder that cannot be made or written (or a full disk) only skips the cache.
    private static bool TryWriteFile(string path, Action<Stream> write)
    {
        try
        {
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            AtomicFile.Write(path, write, $"graph cache: cannot write '{path}'");
            return true;
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
        catch (KeyEmbedException) { return false; }
    }

    // Least recently used first, until the entries fit the cap; the entry just written stays.
    private void Evict(string keep)
    {
        try
        {
            var root = new DirectoryInfo(Directory!);
            var entries = root.EnumerateFiles("*" + Extension).Select(f => (File: f, Used: LastUsed(f), f.Length)).OrderBy(e => e.Used).ToList();
            long total = entries.Sum(e => e.Length);
            foreach (var (file, _, length) in entries)
            {
                if (total <= MaxBytes) break;
                if (string.Equals(file.FullName, Path.GetFullPath(keep), StringComparison.Ordinal)) continue;
                try
                {
                    file.Delete();
                    total -= length;
                }
                catch (IOException) { }
                catch (UnauthorizedAccessException) { }
            }
            foreach (var temp in root.EnumerateFiles("*.tmp"))
                if (AtomicFile.IsTemporaryName(temp.Name) && DateTime.UtcNow - temp.LastWriteTimeUtc > StaleTemporary)
                    try { temp.Delete(); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    // An entry's modification time is its last use: set when written and on every hit. (Access times are not used:
    // mounts update them unreliably (relatime, noatime), and listing the cache would move them.)
    private static void Touch(string path)
    {
        try { File.SetLastWriteTimeUtc(path, DateTime.UtcNow); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private static DateTime LastUsed(FileInfo file) => file.LastWriteTimeUtc;
}
