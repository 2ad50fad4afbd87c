namespace KeyEmbed.Bench;

/// <summary>The throughput table as a PNG: texts/s per workload (groups) per engine (bars), on a log scale.</summary>
internal static class Chart
{
    public static void Write(string pngPath, IReadOnlyList<Throughput> throughput, IReadOnlyList<string> engines, IReadOnlyList<string> workloads, string title)
    {
        var plot = new ScottPlot.Plot();
        double barWidth = 0.8 / engines.Count;
        for (int e = 0; e < engines.Count; e++)
        {
            var color = plot.Add.Palette.GetColor(e);
            var bars = new List<ScottPlot.Bar>();
            for (int w = 0; w < workloads.Count; w++)
            {
                var t = throughput.FirstOrDefault(x => x.Engine == engines[e] && x.Workload == workloads[w]);
                if (t is null) continue;
                // Log scale by hand: bar height is log10(texts/s), the label says the figure.
                bars.Add(new ScottPlot.Bar
                {
                    Position = w + (e - (engines.Count - 1) / 2.0) * barWidth,
                    Value = Math.Log10(Math.Max(t.TextsPerSecond, 1)),
                    Size = barWidth * 0.95,
                    FillColor = color,
                    Label = t.TextsPerSecond.ToString(t.TextsPerSecond >= 100 ? "N0" : "F1", System.Globalization.CultureInfo.InvariantCulture),
                });
            }
            var plotted = plot.Add.Bars(bars);
            plotted.ValueLabelStyle.FontSize = 11;
            plotted.LegendText = engines[e];
        }
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            [.. Enumerable.Range(0, workloads.Count).Select(i => (double)i)], [.. workloads]);
        double[] decades = [0, 1, 2, 3, 4];
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(decades, ["1", "10", "100", "1,000", "10,000"]);
        plot.Axes.SetLimits(-0.5, workloads.Count - 0.5, 0, 4.4);
        plot.Title(title);
        plot.YLabel("texts per second (log scale)");
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(pngPath))!);
        plot.SavePng(pngPath, 1100, 600);
    }
}
