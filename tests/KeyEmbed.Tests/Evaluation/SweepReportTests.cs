using System.Buffers.Binary;
using KeyEmbed.Evaluation;

namespace KeyEmbed.Tests.Evaluation;

public sealed class SweepReportTests
{
    private static SweepReport Sample() => new("all-MiniLM-L6-v2 on sts-test", [
        new("0", "mean", 0.61), new("0", "cls", 0.42),
        new("-1", "mean", 0.8203), new("-1", "cls", double.NaN),
        new("-2,-1", "mean", 0.815), new("-2,-1", "cls", 0.79),
    ]);

    [Fact]
    public void Markdown_has_a_row_per_layer_and_a_column_per_pooling_with_the_best_in_bold()
    {
        string[] lines = Sample().ToMarkdown().TrimEnd().Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        Assert.Equal("| layers | mean | cls |", lines[0]);
        Assert.Equal("| --- | ---: | ---: |", lines[1]);
        Assert.Equal("| 0 | 61.00 | 42.00 |", lines[2]);
        Assert.Equal("| -1 | **82.03** | n/a |", lines[3]);
        Assert.Equal("| -2,-1 | 81.50 | 79.00 |", lines[4]);
        Assert.Equal(5, lines.Length);
    }

    [Fact]
    public void Csv_quotes_layer_specs_with_commas_and_leaves_undefined_values_empty()
    {
        string[] lines = Sample().ToCsv().TrimEnd('\n').Split('\n');
        Assert.Equal("layers,pooling,spearman", lines[0]);
        Assert.Equal("-1,cls,", lines[4]);
        Assert.Equal("\"-2,-1\",mean,0.815000", lines[5]);
        Assert.Equal(7, lines.Length);
    }

    [Fact]
    public void Best_ignores_undefined_results()
    {
        Assert.Equal(new SweepEntry("-1", "mean", 0.8203), Sample().Best);
        Assert.Equal(["0", "-1", "-2,-1"], Sample().Layers);
        Assert.Equal(["mean", "cls"], Sample().Poolings);
    }

    [Fact]
    public void Duplicate_configuration_is_rejected()
    {
        Assert.Throws<ArgumentException>(() => new SweepReport("t", [new("0", "mean", 0.5), new("0", "mean", 0.6)]));
    }

    [Fact]
    public void Chart_is_written_as_a_png_of_the_requested_size()
    {
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "charts", "sweep.png"); // the folder does not exist yet
        Sample().WriteChart(path, 800, 500);
        byte[] png = File.ReadAllBytes(path);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(png, 12, 4));
        Assert.Equal(800, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)));
        Assert.Equal(500, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));
        Assert.True(png.Length > 5_000, "a chart with lines, labels and legend is more than a blank image");
    }

    [Fact]
    public void Unwritable_chart_path_is_an_input_error_naming_it()
    {
        using var dir = new TempDir();
        string blocker = dir.File("file");
        File.WriteAllText(blocker, "not a folder");
        string path = Path.Combine(blocker, "sweep.png");
        var e = Assert.Throws<KeyEmbedException>(() => Sample().WriteChart(path));
        Assert.StartsWith(path + ": cannot write the chart", e.Message);
    }
}
