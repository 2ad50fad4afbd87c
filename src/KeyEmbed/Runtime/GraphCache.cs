using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace KeyEmbed.Runtime;

/// <summary>
/// Built ONNX graphs kept on disk so the second start of a model skips the build. An entry's key is a hash of the
/// weights' content, the config, the request and the graph version (the caller composes it with <see cref="Key"/>).
/// Location: <c>$KEYEMBED_CACHE</c> if set (<c>off</c> disables the cache), else <c>$XDG_CACHE_HOME/keyembed/graphs</c>,
/// else <c>~/.cache/keyembed/graphs</c>. Deleting the folder clears it. Each entry carries a checksum; a damaged
/// or unreadable entry is rebuilt, and a cache that cannot be written is skipped: the cache is never fatal.
/// </summary>
internal sealed class GraphCache
{
    private static readonly byte[] Magic = "KEYEMBED-GRAPH-1"u8.ToArray();
    private const int HashBytes = 32;

    /// <summary>Creates a cache in <paramref name="directory"/>; null = <see cref="DefaultDirectory"/>.</summary>
    public GraphCache(string? directory = null) => Directory = directory ?? DefaultDirectory();

    /// <summary>The cache folder, or null when caching is off (<c>KEYEMBED_CACHE=off</c>).</summary>
    public string? Directory { get; }

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

    /// <summary>A cache key: the SHA-256 (hex) of the parts joined.</summary>
    public static string Key(params string[] parts) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join("\n", parts))));

    /// <summary>The entry for <paramref name="key"/> if present and intact, else <paramref name="build"/>'s bytes, stored for next time.</summary>
    public byte[] GetOrBuild(string key, Func<byte[]> build, out bool hit)
    {
        hit = false;
        if (Directory is null) return build();
        string path = Path.Combine(Directory, key + ".onnx");
        if (TryRead(path) is { } cached)
        {
            hit = true;
            return cached;
        }
        var bytes = build();
        TryWrite(path, bytes);
        return bytes;
    }

    /// <summary>
    /// SHA-256 of the files' contents (hex). Remembered per file by path, length and modification time in the cache
    /// folder, so an unchanged multi-gigabyte checkpoint is hashed once.
    /// </summary>
    public string ContentHash(IReadOnlyList<string> files)
    {
        using var all = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in files)
            all.AppendData(Encoding.UTF8.GetBytes(FileHash(file)));
        return Convert.ToHexStringLower(all.GetHashAndReset());
    }

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
        if (memo != null) TryWriteText(memo, stamp + "\n" + hash + "\n");
        return hash;
    }

    private static byte[]? TryRead(string path)
    {
        try
        {
            if (!File.Exists(path)) return null;
            var bytes = File.ReadAllBytes(path);
            int header = Magic.Length + HashBytes;
            if (bytes.Length < header || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic)) return null;
            var payload = bytes.AsSpan(header);
            if (!SHA256.HashData(payload).AsSpan().SequenceEqual(bytes.AsSpan(Magic.Length, HashBytes))) return null;
            return payload.ToArray();
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    // Written to a temporary file and renamed, so a reader never sees half an entry.
    private static void TryWrite(string path, byte[] payload)
    {
        string temp = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        try
        {
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            {
                stream.Write(Magic);
                stream.Write(SHA256.HashData(payload));
                stream.Write(payload);
            }
            File.Move(temp, path, overwrite: true);
        }
        catch (IOException) { TryDelete(temp); }
        catch (UnauthorizedAccessException) { TryDelete(temp); }
    }

    private static void TryWriteText(string path, string text)
    {
        string temp = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        try
        {
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(temp, text);
            File.Move(temp, path, overwrite: true);
        }
        catch (IOException) { TryDelete(temp); }
        catch (UnauthorizedAccessException) { TryDelete(temp); }
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
