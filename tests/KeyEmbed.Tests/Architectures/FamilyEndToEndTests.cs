using System.Globalization;
using System.Text.Json.Nodes;
using KeyEmbed.Checkpoints.Safetensors;
using KeyEmbed.Cli;
using KeyEmbed.Cli.Commands;
using KeyEmbed.Embedding;

namespace KeyEmbed.Tests.Architectures;

/// <summary>
/// ALBERT, ELECTRA, DistilBERT and XLM-R through every path a text takes: embed (windows for long texts), similarity,
/// keywords, token level, int8, the service's backend, and the CLI's inspect / embed / eval. Folders are the golden
/// weights with a tokenizer beside them (WordPiece: bert-tiny-random's vocab.txt; XLM-R: the stand-in
/// sentencepiece.bpe.model, its word embedding grown to the tokenizer's 32,002 ids; RoBERTa: a byte-level BPE trained
/// here on the tests' texts, small enough for the golden's 99 rows).
/// </summary>
public sealed class FamilyEndToEndTests
{
    public static TheoryData<string, string> Families => new()
    {
        { "albert-tiny-random", "albert" },
        { "electra-tiny-random", "electra" },
        { "distilbert-tiny-random", "distilbert" },
        { "xlmr-tiny-random", "xlm-roberta" },
        { "roberta-tiny-random", "roberta" },
    };

    private const string LongText = "machine learning models read long documents about deep learning and natural language processing every day";

    private static TempDir Folder(string goldenCase)
    {
        var dir = new TempDir();
        if (goldenCase == "roberta-tiny-random")
        {
            File.Copy(SharedData.Golden(goldenCase, "config.json"), dir.File("config.json"));
            File.Copy(SharedData.Golden(goldenCase, "model.safetensors"), dir.File("model.safetensors"));
            // Only the characters these texts use + 50 merges: 4 specials + ~25 + 50 + <mask> ids, under 99.
            string[] texts = [LongText, "machine learning", "deep learning", "natural language", "a cat", "a dog", "red", "blue sky"];
            KeyEmbed.Tests.Fixtures.ByteLevelBpeTraining.Train(texts, merges: 50, fullAlphabet: false).Write(dir.Path);
            return dir;
        }
        if (goldenCase != "xlmr-tiny-random")
        {
            File.Copy(SharedData.Golden(goldenCase, "config.json"), dir.File("config.json"));
            File.Copy(SharedData.Golden(goldenCase, "model.safetensors"), dir.File("model.safetensors"));
            File.Copy(SharedData.Golden("bert-tiny-random", "vocab.txt"), dir.File("vocab.txt"));
            return dir;
        }
        const int rows = 32002;
        var config = JsonNode.Parse(File.ReadAllText(SharedData.Golden(goldenCase, "config.json")))!;
        config["vocab_size"] = rows;
        File.WriteAllText(dir.File("config.json"), config.ToJsonString());
        var writer = new SafetensorsWriter();
        using (var reader = new SafetensorsReader(SharedData.Golden(goldenCase, "model.safetensors")))
            foreach (var t in reader.Tensors)
            {
                var data = reader.ReadFloat32(t.Name);
                if (t.Name != "embeddings.word_embeddings.weight")
                {
                    writer.Add(t.Name, t.Shape, data);
                    continue;
                }
                // The golden's 99 rows repeated: every id the tokenizer makes has a row.
                int width = (int)t.Shape[1];
                var grown = new float[rows * width];
                for (int r = 0; r < rows; r++) Array.Copy(data, r % (int)t.Shape[0] * width, grown, r * width, width);
                writer.Add(t.Name, [rows, width], grown);
            }
        writer.Save(dir.File("model.safetensors"));
        File.Copy(SharedData.Models("xlmr-standin", "sentencepiece.bpe.model"), dir.File("sentencepiece.bpe.model"));
        return dir;
    }

    private static (int Code, string Out, string Error) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CliApp.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void Embed_similarity_keywords_and_tokens_run_through_the_library(string goldenCase, string architecture)
    {
        using var dir = Folder(goldenCase);
        using var model = KeyEmbedModel.Load(dir.Path);
        Assert.Equal(architecture, model.Info.Architecture);
        var result = model.Embed(["machine learning", "deep learning", LongText]);
        Assert.All(result.Vectors, v => Assert.Equal(16, v.Length));
        Assert.All(result.Vectors, v => Assert.All(v, x => Assert.True(float.IsFinite(x))));
        Assert.True(result.Windows[2] > 1, "a text longer than the tiny window runs by windows");
        var similarity = model.Similarity(["machine learning", "deep learning"]);
        Assert.Equal(1.0, similarity.Matrix[0][0], 4);
        Assert.NotEmpty(model.Keywords(LongText));
        Assert.NotEmpty(model.EmbedTokens("machine learning").Tokens);
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void Int8_vectors_point_where_float32_ones_do(string goldenCase, string architecture)
    {
        _ = architecture;
        using var dir = Folder(goldenCase);
        using var fp32 = KeyEmbedModel.Load(dir.Path, new KeyEmbedModelOptions { UseGraphCache = false });
        using var int8 = KeyEmbedModel.Load(dir.Path, new KeyEmbedModelOptions { UseGraphCache = false, ComputePrecision = KeyEmbed.Architectures.ComputePrecision.Int8 });
        string[] texts = ["machine learning", "deep learning", "natural language"];
        var a = fp32.Embed(texts).Vectors;
        var b = int8.Embed(texts).Vectors;
        for (int i = 0; i < texts.Length; i++)
            Assert.True(KeyEmbed.Evaluation.StsBenchmark.Cosine(a[i], b[i]) > 0.9, $"{goldenCase} text {i}");
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void The_service_backend_answers_as_the_library(string goldenCase, string architecture)
    {
        using var dir = Folder(goldenCase);
        var backend = ModelBackend.Load(dir.Path, new KeyEmbedModelOptions());
        try
        {
            Assert.Equal(architecture, backend.Model.Architecture);
            using var model = KeyEmbedModel.Load(dir.Path);
            var served = backend.EmbedBatch(["machine learning"], new EmbeddingOptions());
            Assert.Equal(model.Embed(["machine learning"]).Vectors[0], served[0]);
            Assert.NotEmpty(backend.Tokenize("machine learning").Tokens);
        }
        finally
        {
            (backend as IDisposable)?.Dispose();
        }
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void Cli_inspect_embed_and_eval_run(string goldenCase, string architecture)
    {
        using var dir = Folder(goldenCase);
        var (code, output, error) = Run("inspect", "--model", dir.Path);
        Assert.True(code == 0, error);
        Assert.Contains($"architecture: {architecture}", output);
        Assert.Contains("tensors used:", output);
        Assert.Contains(" -> embeddings.word_embeddings.weight", output);
        (code, output, error) = Run("embed", "--model", dir.Path, "--format", "json", "machine learning", "deep learning");
        Assert.True(code == 0, error);
        Assert.Equal(2, JsonNode.Parse(output)!["data"]!.AsArray().Count);
        string sts = dir.File("sts.csv");
        File.WriteAllLines(sts, new[] { ("a cat", "a dog", 3.0), ("machine learning", "deep learning", 4.0), ("red", "blue sky", 0.5) }
            .Select((p, i) => string.Join('\t', "main", "x", "2012", i.ToString(CultureInfo.InvariantCulture), p.Item3.ToString("F1", CultureInfo.InvariantCulture), p.Item1, p.Item2)));
        (code, output, error) = Run("eval", "sts", "--data", sts, "--model", dir.Path, "--json");
        Assert.True(code == 0, error);
        Assert.Equal(3, JsonNode.Parse(output)!["pairs"]!.GetValue<int>());
    }

    [Fact]
    public void Inspect_says_which_layers_share_an_albert_tensor()
    {
        var (code, output, error) = Run("inspect", "--model", SharedData.Golden("albert-tiny-random"));
        Assert.True(code == 0, error);
        Assert.Contains("encoder.albert_layer_groups.0.albert_layers.0.ffn.weight -> encoder.layer.{0,1,2}.intermediate.dense.weight", output);
        Assert.Contains("encoder.embedding_hidden_mapping_in.weight -> embeddings_project.weight", output);
    }
}
