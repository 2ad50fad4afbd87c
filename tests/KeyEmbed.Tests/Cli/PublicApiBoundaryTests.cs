using System.Runtime.CompilerServices;

namespace KeyEmbed.Tests.Cli;

/// <summary>The CLI and the server are clients of the library's public API: the library shows them no internals.</summary>
public sealed class PublicApiBoundaryTests
{
    [Theory]
    [InlineData("KeyEmbed.Cli")]
    [InlineData("KeyEmbed.Server")]
    public void The_library_gives_no_internals_to_the_interfaces(string interfaceAssembly)
    {
        var friends = typeof(KeyEmbedModel).Assembly.GetCustomAttributes(typeof(InternalsVisibleToAttribute), false)
            .Cast<InternalsVisibleToAttribute>().Select(a => a.AssemblyName).ToList();
        Assert.Contains("KeyEmbed.Tests", friends);
        Assert.DoesNotContain(interfaceAssembly, friends);
    }
}
