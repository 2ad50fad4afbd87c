using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace KeyEmbed.Tests.Fixtures;

/// <summary>
/// A small byte-level BPE trained by the tests (GPT-2's scheme: pattern split, bytes as printable characters, the most
/// frequent adjacent pair merged, ties to the larger pair), written as Hugging Face's <c>vocab.json</c> + <c>merges.txt</c>
/// with RoBERTa's special tokens first. Independent of the code under test: its own byte table, the pattern as a .NET
/// regex (exact for text inside the BMP) and its own rank-order merging (<see cref="Apply"/>) as the oracle.
/// </summary>
internal sealed class ByteLevelBpeTraining
{
    public static readonly Regex Gpt2Pattern = new(@"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+", RegexOptions.CultureInvariant);

    /// <summary>GPT-2's byte → character table: printable Latin-1 bytes stand for themselves, the rest move to U+0100….</summary>
    public static readonly char[] ByteChar = BuildByteTable();

    public List<(string Left, string Right)> Merges { get; } = [];

    public Dictionary<string, int> Vocabulary { get; } = new(StringComparer.Ordinal);

    private static char[] BuildByteTable()
    {
        var table = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            table[b] = printable ? (char)b : (char)next++;
        }
        return table;
    }

    public static string Mapped(string word) => new(Encoding.UTF8.GetBytes(word).Select(b => ByteChar[b]).ToArray());

    public static IEnumerable<string> Words(string text) => Gpt2Pattern.Matches(text).Select(m => Mapped(m.Value));

    /// <param name="texts">Training texts.</param>
    /// <param name="merges">How many merges to learn (fewer when no pair is left).</param>
    /// <param name="fullAlphabet">All 256 byte characters in the vocabulary (else only those the texts use).</param>
    public static ByteLevelBpeTraining Train(IEnumerable<string> texts, int merges, bool fullAlphabet)
    {
        var training = new ByteLevelBpeTraining();
        foreach (var special in new[] { "<s>", "<pad>", "</s>", "<unk>" }) training.Vocabulary[special] = training.Vocabulary.Count;
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var text in texts)
            foreach (var word in Words(text))
                counts[word] = counts.GetValueOrDefault(word) + 1;
        var alphabet = fullAlphabet ? ByteChar.Select(c => c.ToString()) : counts.Keys.SelectMany(w => w.Select(c => c.ToString())).Distinct().Order(StringComparer.Ordinal);
        foreach (var symbol in alphabet) training.Vocabulary.TryAdd(symbol, training.Vocabulary.Count);
        var words = counts.Select(kv => (Symbols: kv.Key.Select(c => c.ToString()).ToList(), Count: kv.Value)).ToList();
        for (int m = 0; m < merges; m++)
        {
            var pairs = new Dictionary<(string, string), int>();
            foreach (var (symbols, count) in words)
                for (int i = 0; i + 1 < symbols.Count; i++)
                    pairs[(symbols[i], symbols[i + 1])] = pairs.GetValueOrDefault((symbols[i], symbols[i + 1])) + count;
            if (pairs.Count == 0) break;
            var best = pairs.OrderByDescending(kv => kv.Value).ThenByDescending(kv => kv.Key.Item1 + " " + kv.Key.Item2, StringComparer.Ordinal).First().Key;
            training.Merges.Add(best);
            training.Vocabulary.TryAdd(best.Item1 + best.Item2, training.Vocabulary.Count);
            foreach (var (symbols, _) in words) MergeAll(symbols, best);
        }
        training.Vocabulary["<mask>"] = training.Vocabulary.Count;
        return training;
    }

    private static void MergeAll(List<string> symbols, (string Left, string Right) pair)
    {
        for (int i = 0; i + 1 < symbols.Count; i++)
            if (symbols[i] == pair.Left && symbols[i + 1] == pair.Right)
            {
                symbols[i] = pair.Left + pair.Right;
                symbols.RemoveAt(i + 1);
            }
    }

    /// <summary>The oracle: a mapped word's pieces, merging the lowest-ranked adjacent pair until none is a merge.</summary>
    public List<string> Apply(string mappedWord)
    {
        var rank = new Dictionary<(string, string), int>();
        for (int i = 0; i < Merges.Count; i++) rank.TryAdd(Merges[i], i);
        var symbols = mappedWord.Select(c => c.ToString()).ToList();
        while (true)
        {
            int bestRank = int.MaxValue;
            for (int i = 0; i + 1 < symbols.Count; i++)
                if (rank.TryGetValue((symbols[i], symbols[i + 1]), out int r) && r < bestRank) bestRank = r;
            if (bestRank == int.MaxValue) return symbols;
            MergeAll(symbols, Merges[bestRank]);
        }
    }

    /// <summary>Writes <c>vocab.json</c> and <c>merges.txt</c> (with Hugging Face's <c>#version</c> line) into <paramref name="folder"/>.</summary>
    public void Write(string folder)
    {
        File.WriteAllText(Path.Combine(folder, "vocab.json"), JsonSerializer.Serialize(Vocabulary));
        File.WriteAllLines(Path.Combine(folder, "merges.txt"), ["#version: 0.2", .. Merges.Select(m => m.Left + " " + m.Right)]);
    }
}
