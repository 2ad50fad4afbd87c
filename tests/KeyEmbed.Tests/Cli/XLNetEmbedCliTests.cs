using System.Text.Json;
using KeyEmbed.Cli;
using KeyEmbed.Tests.Fixtures;

namespace KeyEmbed.Tests.Cli;

public sealed class XLNetEmbedCliTests
{
    [Fact]
    public void Embed_on_an_xlnet_folder_gives_the_facades_vectors_and_notes_segment_recurrence_for_a_long_text()
    {
        using var folder = new TinyXLNetFolder();
        string[] texts = ["machine learning", string.Concat(Enumerable.Repeat("a long text about memory and segments ", 6))];
        var (output, error) = (new StringWriter(), new StringWriter());
        int exit = CliApp.Run(["embed", "--model", folder.Path, "--max-length", "16", "--format", "json", .. texts], output, error);
        Assert.True(exit == 0, error.ToString());
        Assert.Contains("1 text was longer than the model's 16-token window", error.ToString());
        Assert.Contains("segment recurrence", error.ToString());

        using var model = KeyEmbedModel.Load(folder.Path, new KeyEmbedModelOptions { MaxSequenceLength = 16, UseGraphCache = false });
        var expected = model.Embed(texts);
        Assert.Equal(1, expected.Windows[0]);
        Assert.True(expected.Windows[1] > 1);
        using var json = JsonDocument.Parse(output.ToString());
        var rows = json.RootElement.GetProperty("data").EnumerateArray().ToArray();
        for (int i = 0; i < texts.Length; i++)
        {
            var vector = rows[i].GetProperty("embedding").EnumerateArray().Select(e => e.GetSingle()).ToArray();
            Assert.Equal(expected.Vectors[i].Length, vector.Length);
            Assert.True(expected.Vectors[i].Zip(vector, (a, b) => Math.Abs(a - b)).Max() <= 1e-5, $"text {i}");
        }
    }
}
