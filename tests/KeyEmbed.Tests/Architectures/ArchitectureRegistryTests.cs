using System.Text.Json;
using KeyEmbed.Architectures;
using KeyEmbed.Models;

namespace KeyEmbed.Tests.Architectures;

public sealed class ArchitectureRegistryTests
{
    [Fact]
    public void Names_model_types_and_TensorFlow_layouts_are_unique_across_families()
    {
        var families = ArchitectureRegistry.Families;
        Assert.Equal(families.Count, families.Select(f => f.Name).Distinct().Count());
        var modelTypes = families.SelectMany(f => f.ModelTypes).ToList();
        Assert.Equal(modelTypes.Count, modelTypes.Distinct().Count());
        var configs = ArchitectureRegistry.TensorFlowLayouts.Select(l => l.Layout.ConfigFile).ToList();
        Assert.Equal(configs.Count, configs.Distinct().Count());
        foreach (var family in families)
        {
            Assert.Same(family, ArchitectureRegistry.ByName(family.Name));
            foreach (var type in family.ModelTypes) Assert.Same(family, ArchitectureRegistry.ByModelType(type));
        }
    }

    [Fact]
    public void One_family_reads_bare_onnx_exports_and_the_built_in_model_declares_its_own()
    {
        var bare = Assert.Single(ArchitectureRegistry.Families, f => f.ReadsBareOnnxExports);
        Assert.Same(bare, ArchitectureRegistry.ForBareOnnxExport());
        Assert.Equal(BuiltInModels.MiniLmArchitecture, ModelLocator.Locate(BuiltInModels.Default).Architecture);
        Assert.NotNull(ArchitectureRegistry.ByName(BuiltInModels.MiniLmArchitecture));
    }

    [Fact]
    public void An_unknown_name_or_model_type_is_not_found()
    {
        Assert.Null(ArchitectureRegistry.ByModelType("gpt2"));
        var e = Assert.Throws<KeyEmbedException>(() => ArchitectureRegistry.ByName("gpt2"));
        Assert.Equal(ErrorKind.UnsupportedArchitecture, e.Kind);
        Assert.Contains("bert", e.Message);
    }

    [Theory]
    [InlineData("""{"num_hidden_layers": 2}""", "bert")]
    [InlineData("""{"n_layer": 2}""", "xlnet")]
    [InlineData("""{"d_model": 8}""", "xlnet")]
    public void A_config_without_model_type_is_told_by_its_keys(string json, string expected)
    {
        using var doc = JsonDocument.Parse(json);
        Assert.Equal(expected, ArchitectureRegistry.ByConfigKeys(doc.RootElement)?.Name);
    }

    [Theory]
    [InlineData("bert-tiny-random", "bert")]
    [InlineData("xlnet-tiny-bi", "xlnet")]
    public void An_opened_model_is_its_family_and_answers_for_itself(string golden, string name)
    {
        using var loaded = LoadedModel.Open(SharedData.Golden(golden));
        Assert.Equal(name, loaded.Files.Architecture);
        Assert.Equal(name, loaded.Architecture.Name);
        Assert.True(loaded.Architecture.GraphVersion > 0);
        Assert.Equal(name == "xlnet" ? LongTextStrategy.SegmentRecurrence : LongTextStrategy.Windows, loaded.Architecture.LongText);
        Assert.Equal(name == "xlnet" ? KeyEmbed.Embedding.PoolingMode.LastReal : KeyEmbed.Embedding.PoolingMode.First,
            loaded.Architecture.RawDefaults.ClsPooling);
    }
}
