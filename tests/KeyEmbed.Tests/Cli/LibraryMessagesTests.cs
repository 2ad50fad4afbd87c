using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;
using System.Text.RegularExpressions;

namespace KeyEmbed.Tests.Cli;

/// <summary>
/// The library serves the CLI, the server and other programs, so its messages name options as the library does
/// (<see cref="KeyEmbedException.Option"/>), never a CLI flag: every string literal compiled into KeyEmbed.dll is checked.
/// </summary>
public sealed partial class LibraryMessagesTests
{
    [GeneratedRegex(@"(^|[\s'(`])--[a-z][a-z-]+")]
    private static partial Regex CliFlag();

    [Fact]
    public void No_string_in_the_library_names_a_CLI_flag()
    {
        using var stream = File.OpenRead(typeof(KeyEmbedModel).Assembly.Location);
        using var pe = new PEReader(stream);
        var metadata = pe.GetMetadataReader();
        var strings = new List<string>();
        var handle = MetadataTokens.UserStringHandle(1);
        while (!handle.IsNil)
        {
            strings.Add(metadata.GetUserString(handle));
            handle = metadata.GetNextHandle(handle);
        }
        Assert.True(strings.Count > 100, $"only {strings.Count} strings read from the library");
        Assert.DoesNotContain(strings, s => CliFlag().IsMatch(s));
    }
}
