namespace KeyEmbed.Tests;

/// <summary>Finds <c>../shared</c> (reference data) relative to the repository root.</summary>
internal static class SharedData
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Root => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));

    public static string Golden(params string[] parts) => Path.Combine([Root, "golden", .. parts]);

    public static string Models(params string[] parts) => Path.Combine([Root, "models", .. parts]);

    public static string Data(params string[] parts) => Path.Combine([Root, "data", .. parts]);

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "KeyEmbed.slnx"))) return dir.FullName;
        throw new InvalidOperationException("KeyEmbed.slnx not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>A scratch folder deleted when the test ends.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir() => Directory.CreateDirectory(Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "keyembed-test-" + Guid.NewGuid().ToString("N")));

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
