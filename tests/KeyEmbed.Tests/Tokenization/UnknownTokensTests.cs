using System.Net.Http.Json;
using System.Text.Json;
using KeyEmbed.Cli;
using KeyEmbed.Embedding;
using KeyEmbed.Server.Http;
using KeyEmbed.Tests.Server;
using KeyEmbed.Tokenization;

namespace KeyEmbed.Tests.Tokenization;

/// <summary>Texts a model's vocabulary mostly does not know are reported (CLI, service, page); their vectors are unchanged.</summary>
public sealed class UnknownTokensTests
{
    private static readonly string TinyModel = SharedData.Golden("bert-tiny-random");

    [Fact]
    public void The_share_counts_unknown_tokens_among_the_real_ones()
    {
        using var model = KeyEmbedModel.Load(TinyModel);
        // The tiny vocabulary is English words; Han characters are all [UNK].
        Assert.Equal(0, model.Tokenizer.UnknownShare("the key words"));
        Assert.Equal(1, model.Tokenizer.UnknownShare("机器学习"));
        Assert.Equal(0.5, model.Tokenizer.UnknownShare("the 香"), 6);
        Assert.Equal(0, model.Tokenizer.UnknownShare(""));
    }

    private static (int Code, string Out, string Error) Run(params string[] args)
    {
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        int code = CliApp.Run(args, stdout, stderr, TextReader.Null);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void The_cli_warns_once_per_run_naming_the_count_and_the_worst_text_and_leaves_vectors_alone()
    {
        var (code, output, error) = Run("embed", "--model", TinyModel, "--format", "json", "机器学习", "深度学习", "the key words");
        Assert.True(code == 0, error);
        var warnings = error.Split('\n').Where(l => l.StartsWith("warning:", StringComparison.Ordinal)).ToList();
        var warning = Assert.Single(warnings);
        Assert.Contains("2 of 3 texts", warning);
        Assert.Contains("机器学习", warning);
        Assert.Contains("100% unknown", warning);
        Assert.Contains("docs/chinese.md", warning);

        using var model = KeyEmbedModel.Load(TinyModel);
        var expected = model.Embed(["机器学习", "深度学习", "the key words"]).Vectors;
        using var json = JsonDocument.Parse(output);
        var rows = json.RootElement.GetProperty("data").EnumerateArray().Select(r => r.GetProperty("embedding").EnumerateArray().Select(e => e.GetSingle()).ToArray()).ToArray();
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], rows[i]);

        foreach (var command in new[] { "similarity", "keywords" })
        {
            var args = command == "keywords" ? new[] { command, "--model", TinyModel, "--doc", "机器学习 深度学习" } : [command, "--model", TinyModel, "机器学习", "the key"];
            (code, _, error) = Run(args);
            Assert.True(code == 0, error);
            Assert.Single(error.Split('\n'), l => l.StartsWith("warning:", StringComparison.Ordinal));
        }
        // English on an English vocabulary: no warning.
        (code, _, error) = Run("similarity", "--model", TinyModel, "the key words", "a tiny model");
        Assert.True(code == 0, error);
        Assert.DoesNotContain("warning", error);
    }

    [Fact]
    public async Task The_service_adds_a_warning_field_and_header_and_counts_the_texts()
    {
        var backend = new FakeBackend();
        await using var server = await RunningServer.StartAsync(backend);

        var response = await server.PostJsonAsync("/similarity", """{"texts": ["机器学习", "深度学习", "banana"]}""");
        var body = await response.JsonAsync();
        Assert.Contains("2 of 3 texts", body.GetProperty("warning").GetString());
        Assert.Equal("unknown-tokens; texts=2; of=3", Assert.Single(response.Headers.GetValues(Endpoints.WarningHeader)));

        response = await server.PostJsonAsync("/embed", """{"texts": ["机器学习", "king"]}""");
        body = await response.JsonAsync();
        Assert.Contains("1 of 2 texts", body.GetProperty("warning").GetString());
        // The vectors are the backend's, unchanged.
        Assert.Equal(backend.Embed("机器学习", new EmbeddingOptions()), body.GetProperty("embeddings")[0].Floats());

        response = await server.PostJsonAsync("/v1/embeddings", """{"input": "机器学习"}""");
        Assert.True(response.Headers.Contains(Endpoints.WarningHeader));
        Assert.False((await response.JsonAsync()).TryGetProperty("warning", out _));

        response = await server.PostJsonAsync("/similarity", """{"texts": ["king", "queen"]}""");
        Assert.False((await response.JsonAsync()).TryGetProperty("warning", out _));
        Assert.False(response.Headers.Contains(Endpoints.WarningHeader));

        var metrics = await server.Client.GetStringAsync("/metrics");
        Assert.Contains("keyembed_unknown_token_texts_total 4", metrics);
    }
}
