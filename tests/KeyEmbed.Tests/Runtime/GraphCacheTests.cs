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
    public void Corrupt_entry_is_rebuilt_and_replaced()
    {
        using var dir = new TempDir();
        var cache = new GraphCache(dir.Path);
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
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(40)]
    public void Truncated_entry_is_rebuilt(int keep)
    {
        using var dir = new TempDir();
        var cache = new GraphCache(dir.Path);
        cache.GetOrBuild("k", () => Payload(3), out _);
        File.WriteAllBytes(dir.File("k.onnx"), File.ReadAllBytes(dir.File("k.onnx"))[..keep]);
        Assert.Equal(Payload(9), cache.GetOrBuild("k", () => Payload(9), out bool hit));
        Assert.False(hit);
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
