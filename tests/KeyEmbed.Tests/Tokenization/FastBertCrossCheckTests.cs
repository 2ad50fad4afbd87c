using System.Text;
using KeyEmbed.Models;
using KeyEmbed.Tokenization;

namespace KeyEmbed.Tests.Tokenization;

/// <summary>
/// A second opinion on real text: FastBertTokenizer 1.2.6 differs from Google's tokenizer only on edge cases
/// (see docs/tokenization.md), so on the STS-B sentences both must give the same ids.
/// </summary>
public sealed class FastBertCrossCheckTests
{
    [Fact]
    public void Ids_equal_FastBertTokenizer_on_every_STS_B_sentence()
    {
        byte[] vocabulary = BuiltInModels.ReadMiniLmResource(BuiltInModels.MiniLmVocabResource);
        var ours = TextEncoder.FromWordPieceVocabulary(vocabulary);
        var theirs = new FastBertTokenizer.BertTokenizer();
        using (var reader = new StreamReader(new MemoryStream(vocabulary), Encoding.UTF8))
            theirs.LoadVocabulary(reader, convertInputToLowercase: true);

        var sentences = new[] { "sts-train.csv", "sts-dev.csv", "sts-test.csv" }
            .SelectMany(file => File.ReadLines(SharedData.Data("stsbenchmark", file)))
            .SelectMany(line => line.Split('\t').Skip(5).Take(2)).Distinct().ToList();
        Assert.True(sentences.Count > 10_000);
        long[] ids = new long[512], mask = new long[512], types = new long[512];
        var differing = new List<string>();
        foreach (var sentence in sentences)
        {
            int count = theirs.Encode(sentence, ids, mask, types);
            var encoded = ours.Encode(sentence);
            if (!encoded.Ids.Select(i => (long)i).SequenceEqual(ids.Take(count))) differing.Add(sentence);
        }
        Assert.True(differing.Count == 0, $"{differing.Count} differ, e.g. {string.Join(" | ", differing.Take(5))}");
    }
}
