using KeyEmbed.Cli;

namespace KeyEmbed.Tests.Models;

/// <summary>A tokenizer that can produce ids beyond the model's embedding matrix is refused when the model loads.</summary>
public sealed class TokenizerVocabularyTests
{
    private static TempDir BertFolderWithVocabulary(int entries)
    {
        var dir = new TempDir();
        File.Copy(SharedData.Golden("bert-tiny-random", "config.json"), dir.File("config.json"));
        File.Copy(SharedData.Golden("bert-tiny-random", "model.safetensors"), dir.File("model.safetensors"));
        var lines = File.ReadAllLines(SharedData.Golden("bert-tiny-random", "vocab.txt")).ToList();
        while (lines.Count < entries) lines.Add($"extra{lines.Count}");
        File.WriteAllLines(dir.File("vocab.txt"), lines.Take(entries));
        return dir;
    }

    [Fact]
    public void A_vocab_txt_larger_than_the_embedding_matrix_is_refused_at_load()
    {
        using var dir = BertFolderWithVocabulary(60);
        var e = Assert.Throws<KeyEmbedException>(() => KeyEmbedModel.Load(dir.Path));
        Assert.Equal(ErrorKind.InvalidCheckpoint, e.Kind);
        Assert.Contains("60 entries", e.Message);
        Assert.Contains("50 rows", e.Message);
    }

    [Fact]
    public void A_vocab_txt_that_fits_loads()
    {
        using var dir = BertFolderWithVocabulary(50);
        using var model = KeyEmbedModel.Load(dir.Path);
        Assert.Single(model.Embed(["hello"]).Vectors);
    }

    [Fact]
    public void The_cli_says_so_in_one_line()
    {
        using var dir = BertFolderWithVocabulary(51);
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CliApp.Run(["embed", "--model", dir.Path, "hello"], stdout, stderr);
        Assert.NotEqual(0, code);
        Assert.StartsWith("error: ", stderr.ToString());
        Assert.Contains("51 entries", stderr.ToString());
    }

    [Fact]
    public void An_xlm_r_tokenizer_beside_a_model_of_fewer_rows_is_refused()
    {
        using var dir = new TempDir();
        File.Copy(SharedData.Golden("xlmr-tiny-random", "config.json"), dir.File("config.json"));
        File.Copy(SharedData.Golden("xlmr-tiny-random", "model.safetensors"), dir.File("model.safetensors"));
        File.Copy(SharedData.Models("xlmr-standin", "sentencepiece.bpe.model"), dir.File("sentencepiece.bpe.model"));
        var e = Assert.Throws<KeyEmbedException>(() => KeyEmbedModel.Load(dir.Path));
        Assert.Contains("99 rows", e.Message);
    }
}
