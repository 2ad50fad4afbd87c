using KeyEmbed.Embedding;
using System.Globalization;
using KeyEmbed.Server;
using Microsoft.Playwright;

namespace KeyEmbed.Tests.Server;

/// <summary>Drives the page at <c>/</c> in Debian's headless Chromium (no browser download; .ci/run installs it).</summary>
public sealed class SimilarityPageBrowserTests
{
    private static string ChromiumPath => Environment.GetEnvironmentVariable("KEYEMBED_CHROMIUM") ?? "/usr/bin/chromium";

    // Debian's chromium, headless, with nothing that would reach the network.
    private static Task<IBrowser> LaunchChromium(IPlaywright playwright) => playwright.Chromium.LaunchAsync(new()
    {
        ExecutablePath = ChromiumPath,
        Headless = true,
        Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    });

    [Fact]
    [Trait("Resource", "chromium")]
    public async Task Page_draws_the_heatmap_with_the_backends_cosines_the_set_scores_and_neighbours()
    {
        if (!File.Exists(ChromiumPath))
            Assert.Fail($"Chromium is not installed at {ChromiumPath}: run `apt-get install -y chromium` (.ci/run does) " +
                        "or set KEYEMBED_CHROMIUM to a Chromium binary. This browser test must not be skipped.");
        var backend = new FakeBackend();
        await using var server = await RunningServer.StartAsync(backend);
        string[] keywords = ["king", "queen", "royal palace", "apple", "green apple", "Paris", "巴黎"];

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await LaunchChromium(playwright);
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1280, Height = 1000 } });
        await page.GotoAsync(server.Address.ToString());
        // The layer picker is filled from GET /info once the page has loaded.
        await page.WaitForSelectorAsync("#layer option[value='2']", new() { State = WaitForSelectorState.Attached });
        await page.FillAsync("#keywords", string.Join("\n", keywords) + "\n\n");
        await page.SelectOptionAsync("#layer", "2");
        await page.SelectOptionAsync("#pooling", "max");
        await page.FillAsync("#top-k", "2");
        await page.ClickAsync("#compare");
        await page.WaitForSelectorAsync("#heatmap td");

        var options = new EmbeddingOptions { Layers = [2], Pooling = PoolingMode.Max };
        var vectors = keywords.Select(k => backend.Embed(k, options)).ToArray();
        var cells = await page.EvalOnSelectorAllAsync<string[]>("#heatmap td", "cells => cells.map(c => `${c.dataset.row},${c.dataset.col},${c.textContent}`)");
        Assert.Equal(keywords.Length * keywords.Length, cells.Length);
        foreach (var cell in cells)
        {
            var parts = cell.Split(',');
            var (row, col) = (int.Parse(parts[0], CultureInfo.InvariantCulture), int.Parse(parts[1], CultureInfo.InvariantCulture));
            var shown = double.Parse(parts[2], CultureInfo.InvariantCulture);
            Assert.True(Math.Abs(shown - FakeBackend.Cosine(vectors[row], vectors[col])) <= 0.0005 + 1e-6,
                $"cell ({keywords[row]}, {keywords[col]}) shows {parts[2]}, the backend's cosine is {FakeBackend.Cosine(vectors[row], vectors[col]):F4}");
        }
        var headers = await page.EvalOnSelectorAllAsync<string[]>("#heatmap tbody th", "ths => ths.map(t => t.textContent)");
        Assert.Equal(keywords, headers);

        var centroid = Enumerable.Range(0, vectors[0].Length).Select(d => vectors.Sum(v => v[d] / Math.Sqrt(v.Sum(x => (double)x * x)))).Select(x => (float)x).ToArray();
        var setScores = await page.EvalOnSelectorAllAsync<string[]>("#to-set td.score", "tds => tds.map(t => `${t.dataset.index},${t.textContent}`)");
        Assert.Equal(keywords.Length, setScores.Length);
        foreach (var score in setScores)
        {
            var parts = score.Split(',');
            var index = int.Parse(parts[0], CultureInfo.InvariantCulture);
            Assert.True(Math.Abs(double.Parse(parts[1], CultureInfo.InvariantCulture) - FakeBackend.Cosine(vectors[index], centroid)) <= 0.0005 + 1e-6);
        }

        var neighbourRows = await page.EvalOnSelectorAllAsync<string[]>("#neighbours tr", "trs => trs.map(t => t.cells[1].textContent)");
        var nearestToKing = Enumerable.Range(1, keywords.Length - 1).OrderByDescending(j => FakeBackend.Cosine(vectors[0], vectors[j])).First();
        Assert.StartsWith(keywords[nearestToKing] + " (", neighbourRows[0]);
        Assert.Equal(2, neighbourRows[0].Split("), ").Length);
        Assert.NotEqual("error", await page.EvalOnSelectorAsync<string>("#status", "s => s.className"));

        var artifacts = Path.Combine(AppContext.BaseDirectory, "artifacts");
        Directory.CreateDirectory(artifacts);
        var screenshot = Path.Combine(artifacts, "similarity-page.png");
        await page.ScreenshotAsync(new() { Path = screenshot, FullPage = true });
        Assert.True(new FileInfo(screenshot).Length > 10_000);
    }

    [Fact]
    [Trait("Resource", "chromium")]
    public async Task Page_shows_the_servers_error_message_when_a_request_is_refused()
    {
        if (!File.Exists(ChromiumPath))
            Assert.Fail($"Chromium is not installed at {ChromiumPath}: run `apt-get install -y chromium` (.ci/run does).");
        await using var server = await RunningServer.StartAsync(new FakeBackend(), new ServerOptions { MaxInputs = 2 });

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await LaunchChromium(playwright);
        var page = await browser.NewPageAsync();
        await page.GotoAsync(server.Address.ToString());
        await page.FillAsync("#keywords", "one\ntwo\nthree");
        await page.ClickAsync("#compare");
        await page.WaitForSelectorAsync("#status.error");

        var status = await page.TextContentAsync("#status");
        Assert.StartsWith("422:", status);
        Assert.Contains("--max-inputs", status);
    }

    [Fact]
    [Trait("Resource", "chromium")]
    public async Task Page_over_the_built_in_model_shows_the_models_own_cosines()
    {
        if (!File.Exists(ChromiumPath))
            Assert.Fail($"Chromium is not installed at {ChromiumPath}: run `apt-get install -y chromium` (.ci/run does).");
        string[] keywords = ["machine learning", "deep learning", "neural network", "banana bread", "apple pie", "人工智能"];
        using var backend = KeyEmbedModelBackend.Load("minilm");
        await using var server = await RunningServer.StartAsync(backend);
        using var model = KeyEmbed.KeyEmbedModel.Load("minilm");
        var expected = model.Similarity(keywords);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await LaunchChromium(playwright);
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1280, Height = 1000 } });
        await page.GotoAsync(server.Address.ToString());
        await page.WaitForSelectorAsync("#layer option[value='6']", new() { State = WaitForSelectorState.Attached });
        await page.FillAsync("#keywords", string.Join("\n", keywords));
        await page.ClickAsync("#compare"); // model defaults: last layer, mean, normalized
        await page.WaitForSelectorAsync("#heatmap td");

        var cells = await page.EvalOnSelectorAllAsync<string[]>("#heatmap td", "cells => cells.map(c => `${c.dataset.row},${c.dataset.col},${c.textContent}`)");
        Assert.Equal(keywords.Length * keywords.Length, cells.Length);
        foreach (var cell in cells)
        {
            var parts = cell.Split(',');
            var (row, col) = (int.Parse(parts[0], CultureInfo.InvariantCulture), int.Parse(parts[1], CultureInfo.InvariantCulture));
            Assert.True(Math.Abs(double.Parse(parts[2], CultureInfo.InvariantCulture) - expected.Matrix[row][col]) <= 0.0005 + 1e-6,
                $"cell ({keywords[row]}, {keywords[col]}) shows {parts[2]}, the model's cosine is {expected.Matrix[row][col]:F4}");
        }
        var setScores = await page.EvalOnSelectorAllAsync<string[]>("#to-set td.score", "tds => tds.map(t => `${t.dataset.index},${t.textContent}`)");
        foreach (var score in setScores)
        {
            var parts = score.Split(',');
            var index = int.Parse(parts[0], CultureInfo.InvariantCulture);
            Assert.True(Math.Abs(double.Parse(parts[1], CultureInfo.InvariantCulture) - expected.ToSet[index]) <= 0.0005 + 1e-6);
        }
        // A real model, not a hash: "deep learning" is the nearest neighbour of "machine learning".
        var neighbourRows = await page.EvalOnSelectorAllAsync<string[]>("#neighbours tr", "trs => trs.map(t => t.cells[1].textContent)");
        Assert.StartsWith("deep learning (", neighbourRows[0]);

        var artifacts = Path.Combine(AppContext.BaseDirectory, "artifacts");
        Directory.CreateDirectory(artifacts);
        var screenshot = Path.Combine(artifacts, "similarity-page-minilm.png");
        await page.ScreenshotAsync(new() { Path = screenshot, FullPage = true });
        Assert.True(new FileInfo(screenshot).Length > 10_000);
    }

    [Fact]
    [Trait("Resource", "chromium")]
    public async Task Page_shows_a_notice_when_the_keywords_are_mostly_unknown_to_the_model()
    {
        if (!File.Exists(ChromiumPath))
            Assert.Fail($"Chromium is not installed at {ChromiumPath}: run `apt-get install -y chromium` (.ci/run does).");
        await using var server = await RunningServer.StartAsync(new FakeBackend());

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await LaunchChromium(playwright);
        var page = await browser.NewPageAsync();
        await page.GotoAsync(server.Address.ToString());
        await page.FillAsync("#keywords", "king\nqueen");
        await page.ClickAsync("#compare");
        await page.WaitForSelectorAsync("#heatmap td");
        Assert.False(await page.IsVisibleAsync("#warning"));

        // The fake's vocabulary is English: Han words are unknown, as on the built-in model.
        await page.FillAsync("#keywords", "人工智能\n机器学习\n深度学习\nbanana");
        await page.ClickAsync("#compare");
        await page.WaitForSelectorAsync("#warning", new() { State = WaitForSelectorState.Visible });
        var notice = await page.TextContentAsync("#warning");
        Assert.Contains("3 of 4 texts", notice);
        Assert.Contains("docs/chinese.md", notice);
        // The scores are still drawn (the vectors are not changed, only flagged).
        Assert.Equal(16, (await page.QuerySelectorAllAsync("#heatmap td")).Count);
    }
}
