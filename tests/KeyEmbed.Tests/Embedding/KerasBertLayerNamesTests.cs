using KeyEmbed.Cli;
using KeyEmbed.Embedding;

namespace KeyEmbed.Tests.Embedding;

/// <summary>keras-bert's 1-based layer names (<c>Encoder-K</c>, <c>Embedding-Norm</c>) written directly in <c>--layers</c>.</summary>
public sealed class KerasBertLayerNamesTests
{
    private static readonly string TinyModel = SharedData.Golden("bert-tiny-random");

    [Theory]
    [InlineData("Encoder-11,Encoder-12", new[] { 11, 12 })]
    [InlineData("encoder-12-FeedForward-Norm", new[] { 12 })]
    [InlineData("Embedding-Norm, Encoder-1", new[] { 0, 1 })]
    [InlineData("-2,Encoder-3", new[] { -2, 3 })]
    public void Keras_bert_names_are_hidden_state_numbers(string text, int[] expected) =>
        Assert.Equal(expected, EmbeddingOptions.ParseLayers(text));

    [Theory]
    [InlineData("Encoder-0")]
    [InlineData("Decoder-1")]
    [InlineData("Encoder-x")]
    public void Other_names_are_refused_naming_the_forms_that_work(string text)
    {
        var e = Assert.Throws<KeyEmbedException>(() => EmbeddingOptions.ParseLayers(text));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
    }

    private static (int Code, string Out, string Error) Run(params string[] args)
    {
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        int code = CliApp.Run(args, stdout, stderr, TextReader.Null);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void The_cli_gives_the_same_vectors_for_keras_names_and_numbers()
    {
        var named = Run("embed", "--model", TinyModel, "--layers", "Encoder-2,Encoder-3", "--format", "csv", "the key words");
        var numbered = Run("embed", "--model", TinyModel, "--layers", "2,3", "--format", "csv", "the key words");
        Assert.True(named.Code == 0, named.Error);
        Assert.Equal(numbered.Out, named.Out);

        var tooHigh = Run("embed", "--model", TinyModel, "--layers", "Encoder-4", "the key words");
        Assert.Equal(CliApp.UserError, tooHigh.Code);
        Assert.StartsWith("error: --layers", tooHigh.Error);
    }
}
