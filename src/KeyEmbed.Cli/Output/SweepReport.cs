using System.Globalization;
using System.Text;

namespace KeyEmbed.Evaluation;

/// <summary>One configuration of a layer/pooling sweep and its STS Spearman correlation.</summary>
/// <param name="Layers">The layer specification as the user writes it (e.g. <c>-1</c>, <c>0,-1</c>, <c>-2,-1 sum</c>).</param>
/// <param name="Pooling">The pooling name (e.g. <c>mean</c>, <c>cls</c>, <c>max</c>).</param>
/// <param name="Spearman">Spearman correlation, -1..1; NaN when undefined.</param>
public sealed record SweepEntry(string Layers, string Pooling, double Spearman);

/// <summary>
/// Presents the results of a layer × pooling sweep: a Markdown table (layers as rows, poolings as columns), a
/// CSV (one row per configuration) and a PNG line chart (layer on x, Spearman on y, one line per pooling).
/// Layers and poolings keep the order in which they first appear in the entries.
/// </summary>
public sealed class SweepReport
{
    /// <summary>Collects the entries; each (layers, pooling) combination may appear once.</summary>
    /// <param name="title">Shown above the table and as the chart's title, e.g. the model and data file.</param>
    /// <param name="entries">At least one result.</param>
    public SweepReport(string title, IEnumerable<SweepEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(title);
        ArgumentNullException.ThrowIfNull(entries);
        Title = title;
        Entries = [.. entries];
        if (Entries.Count == 0) throw new ArgumentException("a sweep report needs at least one entry", nameof(entries));
        var seen = new HashSet<(string, string)>();
        foreach (var e in Entries)
            if (!seen.Add((e.Layers, e.Pooling)))
                throw new ArgumentException($"layers '{e.Layers}' with pooling '{e.Pooling}' appears twice", nameof(entries));
        Layers = [.. Entries.Select(e => e.Layers).Distinct(StringComparer.Ordinal)];
        Poolings = [.. Entries.Select(e => e.Pooling).Distinct(StringComparer.Ordinal)];
        Best = Entries.Where(e => !double.IsNaN(e.Spearman)).MaxBy(e => e.Spearman);
    }

    /// <summary>The report's title.</summary>
    public string Title { get; }

    /// <summary>The results in the order given.</summary>
    public IReadOnlyList<SweepEntry> Entries { get; }

    /// <summary>Distinct layer specifications, in order of first appearance (the chart's x axis).</summary>
    public IReadOnlyList<string> Layers { get; }

    /// <summary>Distinct poolings, in order of first appearance (one chart line each).</summary>
    public IReadOnlyList<string> Poolings { get; }

    /// <summary>The configuration with the highest Spearman; null when every result is NaN.</summary>
    public SweepEntry? Best { get; }

    /// <summary>
    /// A Markdown table: one row per layer specification, one column per pooling, Spearman × 100 with two
    /// decimals; the best cell is bold, a missing or undefined one reads "n/a".
    /// </summary>
    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        sb.Append("| layers | ").AppendJoin(" | ", Poolings.Select(EscapeMarkdown)).AppendLine(" |");
        sb.Append("| --- |").Append(string.Concat(Enumerable.Repeat(" ---: |", Poolings.Count))).AppendLine();
        foreach (var layers in Layers)
        {
            sb.Append("| ").Append(EscapeMarkdown(layers)).Append(" |");
            foreach (var pooling in Poolings)
            {
                var entry = Find(layers, pooling);
                string cell = entry is null || double.IsNaN(entry.Spearman) ? "n/a" : Percent(entry.Spearman);
                if (entry is not null && entry == Best) cell = $"**{cell}**";
                sb.Append(' ').Append(cell).Append(" |");
            }
            sb.AppendLine();
        }
        return sb.ToString();
    }

    /// <summary>
    /// CSV (RFC 4180, header <c>layers,pooling,spearman</c>), one row per entry in the order given; Spearman as
    /// the raw coefficient with six decimals, empty when undefined.
    /// </summary>
    public string ToCsv()
    {
        var sb = new StringBuilder("layers,pooling,spearman\n");
        foreach (var e in Entries)
            sb.Append(CsvField(e.Layers)).Append(',').Append(CsvField(e.Pooling)).Append(',')
              .Append(double.IsNaN(e.Spearman) ? "" : e.Spearman.ToString("F6", CultureInfo.InvariantCulture)).Append('\n');
        return sb.ToString();
    }

    /// <summary>
    /// Draws the chart and writes it as PNG: layer specifications on x (in order), Spearman × 100 on y, one colour per
    /// pooling, legend to the right of the plot (it never covers a line), axis labels and the report's title. Points of
    /// consecutive single-layer labels (plain integers) are joined by a line; other labels (layer combinations) are
    /// separate choices, drawn as markers only behind a dashed divider. Undefined values leave a gap.
    /// </summary>
    /// <exception cref="KeyEmbedException">The file cannot be written (the message names it).</exception>
    public void WriteChart(string pngPath, int width = 1200, int height = 650)
    {
        var plot = new ScottPlot.Plot();
        plot.Font.Set(SansFont());
        double[] positions = [.. Enumerable.Range(0, Layers.Count).Select(i => (double)i)];
        bool[] isSingleLayer = [.. Layers.Select(l => int.TryParse(l, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))];
        for (int p = 0; p < Poolings.Count; p++)
        {
            string pooling = Poolings[p];
            var color = plot.Add.Palette.GetColor(p);
            var points = Layers
                .Select((layers, i) => (X: (double)i, Entry: Find(layers, pooling)))
                .Where(point => point.Entry is not null && !double.IsNaN(point.Entry.Spearman))
                .ToList();
            // A line may not bridge an undefined value or join a layer combination, so each run of consecutive
            // single-layer points is its own segment and every other point stands alone.
            bool first = true;
            foreach (var segment in Segments(points, isSingleLayer))
            {
                var scatter = plot.Add.Scatter(
                    segment.Select(point => point.X).ToArray(),
                    segment.Select(point => point.Entry!.Spearman * 100).ToArray(),
                    color);
                scatter.LineWidth = segment.Count > 1 ? 2.5f : 0;
                scatter.MarkerSize = 9;
                if (first) scatter.LegendText = pooling;
                first = false;
            }
        }
        int firstCombination = Array.FindIndex(isSingleLayer, single => !single);
        if (firstCombination > 0 && isSingleLayer.Take(firstCombination).All(single => single))
        {
            var divider = plot.Add.VerticalLine(firstCombination - 0.5);
            divider.LineColor = ScottPlot.Colors.Gray;
            divider.LinePattern = ScottPlot.LinePattern.Dashed;
            divider.LineWidth = 1.5f;
        }

        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(positions, [.. Layers]);
        plot.Axes.Bottom.TickLabelStyle.FontSize = 15;
        plot.Axes.Left.TickLabelStyle.FontSize = 15;
        // Rotate the labels only when they would not fit side by side (about 0.6 em per character).
        double labelWidth = Layers.Max(l => l.Length) * 15 * 0.6 + 12;
        if (labelWidth * Layers.Count > width * 0.75)
        {
            plot.Axes.Bottom.TickLabelStyle.Rotation = -40;
            plot.Axes.Bottom.TickLabelStyle.Alignment = ScottPlot.Alignment.UpperRight;
            plot.Axes.Bottom.MinimumSize = (float)(labelWidth * 0.7 + 40);
        }
        plot.Axes.SetLimitsX(-0.5, Layers.Count - 0.5);
        plot.Title(Title, 20);
        plot.XLabel("hidden state (0 = embedding output) or layer combination", 16);
        plot.YLabel("Spearman × 100", 16);
        plot.Legend.FontSize = 15;
        plot.ShowLegend(ScottPlot.Edge.Right);
        try
        {
            string? directory = Path.GetDirectoryName(Path.GetFullPath(pngPath));
            if (directory != null) Directory.CreateDirectory(directory);
            var png = plot.GetImage(width, height).GetImageBytes(ScottPlot.ImageFormat.Png);
            KeyEmbed.IO.AtomicFile.WriteAllBytes(pngPath, png, $"{pngPath}: cannot write the chart");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new KeyEmbedException(ErrorKind.InvalidInput, $"{pngPath}: cannot write the chart: {e.Message}", e);
        }
    }

    // ScottPlot's own sans choice can resolve to a serif face where its preferred font is missing (Linux), so the
    // first common sans family the system has wins.
    private static string SansFont()
    {
        foreach (var family in (string[])["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica", "Segoe UI", "Noto Sans"])
            using (var typeface = SkiaSharp.SKFontManager.Default.MatchFamily(family))
                if (typeface is not null && string.Equals(typeface.FamilyName, family, StringComparison.OrdinalIgnoreCase)) return family;
        return ScottPlot.Fonts.Sans;
    }

    private SweepEntry? Find(string layers, string pooling) =>
        Entries.FirstOrDefault(e => e.Layers == layers && e.Pooling == pooling);

    private static IEnumerable<List<(double X, SweepEntry? Entry)>> Segments(List<(double X, SweepEntry? Entry)> points, bool[] joinable)
    {
        var run = new List<(double X, SweepEntry? Entry)>();
        foreach (var p in points)
        {
            bool continues = run.Count > 0 && p.X == run[^1].X + 1 && joinable[(int)p.X] && joinable[(int)run[^1].X];
            if (run.Count > 0 && !continues) { yield return run; run = []; }
            run.Add(p);
        }
        if (run.Count > 0) yield return run;
    }

    private static string Percent(double coefficient) => (coefficient * 100).ToString("F2", CultureInfo.InvariantCulture);

    private static string EscapeMarkdown(string text) => text.Replace("|", "\\|");

    private static string CsvField(string text) =>
        text.IndexOfAny([',', '"', '\n', '\r']) < 0 ? text : "\"" + text.Replace("\"", "\"\"") + "\"";
}
