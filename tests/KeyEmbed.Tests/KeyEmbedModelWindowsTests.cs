using KeyEmbed.Embedding;

namespace KeyEmbed.Tests;

/// <summary>BERT texts longer than the window: embedded by windows and averaged (built-in model, small window).</summary>
public sealed class KeyEmbedModelWindowsTests
{
    // Every word is one WordPiece of the built-in vocabulary, so the windows fall on word boundaries and each window
    // can be embedded by hand as the text of its words.
    private static readonly string[] Words =
        "the cat sat on the mat and the dog ran to the park with a red ball while the sun was out".Split(' ');

    [Theory]
    [InlineData(8)]
    [InlineData(11)]
    public void Long_text_is_the_token_weighted_mean_of_its_windows_embedded_by_hand(int window)
    {
        using var model = KeyEmbedModel.Load(null, new KeyEmbedModelOptions { MaxSequenceLength = window, UseGraphCache = false, Threads = 1 });
        string text = string.Join(' ', Words);
        var pieces = model.Tokenizer.Encode(text, maxLength: int.MaxValue);
        Assert.Equal(Words.Length + 2, pieces.Length); // one piece a word + [CLS] [SEP]

        int room = window - 2;
        var windowTexts = Words.Chunk(room).Select(c => string.Join(' ', c)).ToArray();
        var byHand = model.Embed(windowTexts);
        Assert.All(byHand.Windows, w => Assert.Equal(1, w));
        var sum = new double[byHand.Vectors[0].Length];
        double weight = 0;
        for (int w = 0; w < windowTexts.Length; w++)
        {
            weight += byHand.Tokens[w];
            for (int d = 0; d < sum.Length; d++) sum[d] += byHand.Vectors[w][d] * (double)byHand.Tokens[w];
        }
        double norm = Math.Sqrt(sum.Sum(x => x / weight * (x / weight)));
        var expected = sum.Select(x => (float)(x / weight / norm)).ToArray();

        var result = model.Embed(["short one", text]);
        Assert.Equal([1, windowTexts.Length], result.Windows);
        Assert.Equal(1, result.WindowedCount);
        Assert.Equal(Words.Length + 2 * windowTexts.Length, result.Tokens[1]);
        Assert.Equal(result.Tokens[1], model.CountTokens(text));
        double difference = expected.Zip(result.Vectors[1], (a, b) => Math.Abs((double)a - b)).Max();
        Assert.True(difference <= 1e-5, $"largest difference {difference:G3}");
        Assert.Equal(1.0, Math.Sqrt(result.Vectors[1].Sum(x => (double)x * x)), 5);

        // Not simply the first window (what truncation would give).
        Assert.True(expected.Zip(byHand.Vectors[0], (a, b) => Math.Abs((double)a - b)).Max() > 1e-3);
    }
}
