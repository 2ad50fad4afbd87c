using KeyEmbed.Runtime;

namespace KeyEmbed.Tests.Runtime;

public sealed class GraphCacheTests
{
    private static byte[] Payload(int seed) => [.. Enumerable.Range(0, 1000).Select(i => (byte)(i * seed))];

    [Fact]
    public void Miss_builds_and_stores_then_hit_skips_the_build()
    {
        using var dir = new TempDir();
        var cache = new GraphCache(dir.Path);
        int builds = 0;
        var first = cache.GetOrBuild("k1", () => { builds++; return Payload(3); }, out bool hit1);
        var second = cache.GetOrBuild("k1", () => { builds++; return Payload(5); }, out bool hit2);
        Assert.False(hit1);
        Assert.True(hit2);
        Assert.Equal(1, builds);
        Assert.Equal(Payload(3), second);
        Assert.Equal(first, second);
    }

    [Fact]
    public void Corrupt_entry_is_rebuilt_and_replaced_with_a_warning()
    {
        using var dir = new TempDir();
        var warnings = new List<string>();
        var cache = new GraphCache(dir.Path, warn: warnings.Add);
        cache.GetOrBuild("k", () => Payload(3), out _);
        string path = dir.File("k.onnx");
        var bytes = File.ReadAllBytes(path);
        bytes[^10] ^= 0xff;
        File.WriteAllBytes(path, bytes);
        var rebuilt = cache.GetOrBuild("k", () => Payload(7), out bool hit);
        Assert.False(hit);
        Assert.Equal(Payload(7), rebuilt);
        Assert.Equal(Payload(7), cache.GetOrBuild("k", () => throw new InvalidOperationException("should be cached"), out bool hitAgain));
        Assert.True(hitAgain);
        Assert.Equal([$"graph cache entry {path} is damaged (checksum mismatch: truncated or corrupted); rebuilding it"], warnings);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(40)]
    public void Truncated_entry_is_rebuilt(int keep)
    {
        using var dir = new TempDir();
        var warnings = new List<string>();
        var cache = new GraphCache(dir.Path, warn: warnings.Add);
        cache.GetOrBuild("k", () => Payload(3), out _, "label");
        File.WriteAllBytes(dir.File("k.onnx"), File.ReadAllBytes(dir.File("k.onnx"))[..keep]);
        Assert.Equal(Payload(9), cache.GetOrBuild("k", () => Payload(9), out bool hit));
        Assert.False(hit);
        Assert.Contains("is damaged (", Assert.Single(warnings));
        Assert.True(cache.GetOrBuild("k", () => Payload(9), out bool hitAfter).SequenceEqual(Payload(9)) && hitAfter);
    }

    [Fact]
    public void An_older_format_entry_is_replaced_without_a_warning()
    {
        using var dir = new TempDir();
        var warnings = new List<string>();
        File.WriteAllBytes(dir.File("k.onnx"), [.. "KEYEMBED-GRAPH-1"u8.ToArray(), .. new byte[32], .. Payload(2)]);
        var cache = new GraphCache(dir.Path, warn: warnings.Add);
        Assert.Equal(Payload(4), cache.GetOrBuild("k", () => Payload(4), out bool hit));
        Assert.False(hit);
        Assert.Empty(warnings);
    }

    private static long EntryBytes(string label, int payload) => 16 + 32 + 4 + label.Length + payload;

    [Fact]
    public void Past_the_cap_the_least_recently_used_entries_are_evicted()
    {
        using var dir = new TempDir();
        var cache = new GraphCache(dir.Path, maxBytes: 2 * EntryBytes("m", 1000) + 10);
        cache.GetOrBuild("a", () => Payload(1), out _, "m");
        Thread.Sleep(30);
        cache.GetOrBuild("b", () => Payload(2), out _, "m");
        Thread.Sleep(30);
        cache.GetOrBuild("a", () => throw new InvalidOperationException("a is cached"), out bool hitA);
        Thread.Sleep(30);
        cache.GetOrBuild("c", () => Payload(3), out _, "m");
        Assert.True(hitA);
        Assert.Equal(["c", "a"], cache.List().Select(e => e.Key));
        Assert.All(cache.List(), e => Assert.Equal(EntryBytes("m", 1000), e.Bytes));
        Assert.True(cache.List().Sum(e => e.Bytes) <= cache.MaxBytes);
        cache.GetOrBuild("b", () => Payload(2), out bool hitB, "m");
        Assert.False(hitB);
    }

    [Fact]
    public void A_graph_larger_than_the_cap_is_not_stored_and_evicts_nothing()
    {
        using var dir = new TempDir();
        var cache = new GraphCache(dir.Path, maxBytes: EntryBytes("", 1000) + 100);
        cache.GetOrBuild("small", () => Payload(1), out _);
        Assert.Equal(Enumerable.Range(0, 5000).Select(i => (byte)i), cache.GetOrBuild("big", () => [.. Enumerable.Range(0, 5000).Select(i => (byte)i)], out _));
        Assert.Equal(["small"], cache.List().Select(e => e.Key));
        var off = new GraphCache(dir.File("zero"), maxBytes: 0);
        off.GetOrBuild("k", () => Payload(1), out _);
        Assert.Empty(off.List());
    }

    [Fact]
    public void List_shows_labels_and_sizes_and_clear_frees_everything()
    {
        using var dir = new TempDir();
        var cache = new GraphCache(dir.Path);
        cache.GetOrBuild("k1", () => Payload(1), out _, "model-a (bert): highest 2");
        cache.GetOrBuild("k2", () => Payload(2), out _, "");
        using var weights = new TempDir();
        File.WriteAllBytes(weights.File("x.bin"), [1, 2, 3]);
        cache.ContentHash([weights.File("x.bin")]);
        File.WriteAllText(dir.File(".k3.onnx.12345678.tmp"), "left by a killed process");
        var entries = cache.List();
        Assert.Equal(2, entries.Count);
        Assert.Equal("model-a (bert): highest 2", entries.Single(e => e.Key == "k1").Label);
        Assert.Equal("", entries.Single(e => e.Key == "k2").Label);
        long onDisk = Directory.GetFiles(dir.Path, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        Assert.Equal(onDisk, cache.Clear());
        Assert.Empty(Directory.GetFiles(dir.Path, "*", SearchOption.AllDirectories));
        Assert.Empty(cache.List());
    }

    [Theory]
    [InlineData("123", 123L)]
    [InlineData("64K", 64L << 10)]
    [InlineData("500M", 500L << 20)]
    [InlineData("2G", 2L << 30)]
    [InlineData("1.5GiB", 3L << 29)]
    [InlineData(" 10mb ", 10L << 20)]
    [InlineData("lots", null)]
    [InlineData("-5M", null)]
    public void Size_cap_is_read_as_bytes_or_with_a_binary_suffix(string text, long? bytes) =>
        Assert.Equal(bytes, GraphCache.ParseSize(text));

    [Fact]
    public void Size_cap_comes_from_keyembed_cache_max_else_the_default()
    {
        Assert.Equal(GraphCache.DefaultMaxBytes, GraphCache.DefaultMaxSize(_ => null));
        Assert.Equal(4L << 30, GraphCache.DefaultMaxBytes);
        Assert.Equal(300L << 20, GraphCache.DefaultMaxSize(n => n == "KEYEMBED_CACHE_MAX" ? "300M" : null));
        var e = Assert.Throws<KeyEmbedException>(() => GraphCache.DefaultMaxSize(n => n == "KEYEMBED_CACHE_MAX" ? "huge" : null));
        Assert.StartsWith("KEYEMBED_CACHE_MAX='huge' is not a size", e.Message);
    }

    [Fact]
    public void Unwritable_cache_location_is_not_fatal()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("blocker"), "a file where the cache folder should be");
        var cache = new GraphCache(Path.Combine(dir.File("blocker"), "graphs"));
        Assert.Equal(Payload(3), cache.GetOrBuild("k", () => Payload(3), out bool hit));
        Assert.False(hit);
        Assert.NotEmpty(cache.ContentHash([dir.File("blocker")]));
    }

    [Fact]
    public void Default_location_honours_keyembed_cache_then_xdg_then_home()
    {
        Assert.Equal("/c/graphs-here", GraphCache.DefaultDirectory(n => n == "KEYEMBED_CACHE" ? "/c/graphs-here" : "/x"));
        Assert.Null(GraphCache.DefaultDirectory(n => n == "KEYEMBED_CACHE" ? "off" : null));
        Assert.Equal(Path.Combine("/x", "keyembed", "graphs"), GraphCache.DefaultDirectory(n => n == "XDG_CACHE_HOME" ? "/x" : null));
        Assert.EndsWith(Path.Combine(".cache", "keyembed", "graphs"), GraphCache.DefaultDirectory(_ => null));
    }

    [Fact]
    public void Content_hash_follows_the_bytes()
    {
        using var dir = new TempDir();
        var cache = new GraphCache(dir.File("cache"));
        File.WriteAllBytes(dir.File("w.bin"), [1, 2, 3]);
        var before = cache.ContentHash([dir.File("w.bin")]);
        Assert.Equal(before, cache.ContentHash([dir.File("w.bin")]));
        File.WriteAllBytes(dir.File("w.bin"), [1, 2, 4]);
        File.SetLastWriteTimeUtc(dir.File("w.bin"), DateTime.UtcNow.AddMinutes(1));
        Assert.NotEqual(before, cache.ContentHash([dir.File("w.bin")]));
    }
}
