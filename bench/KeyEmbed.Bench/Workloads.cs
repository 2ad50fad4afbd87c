using KeyEmbed.Evaluation;

namespace KeyEmbed.Bench;

/// <summary>A named list of texts with their token counts (with [CLS]/[SEP]) under the reference tokenizer.</summary>
internal sealed record Workload(string Name, IReadOnlyList<string> Texts, IReadOnlyList<int> TokenCounts)
{
    public double MeanTokens => TokenCounts.Average();

    /// <summary>Useful work of the model on these texts: 21.2 MFLOP per token plus 9,216·n² per text of n tokens
    /// (all-MiniLM-L6-v2: 6 layers × 2·(4·384² + 2·384·1536) per token, 6 × 2·2·384 per token pair in attention).</summary>
    public double ModelFlops(int count)
    {
        double flops = 0;
        for (int i = 0; i < count; i++)
        {
            double n = TokenCounts[i];
            flops += ModelCost.FlopsPerToken * n + ModelCost.FlopsPerTokenPair * n * n;
        }
        return flops;
    }

    public Workload Take(int count) =>
        count >= Texts.Count ? this : new(Name, Texts.Take(count).ToList(), TokenCounts.Take(count).ToList());
}

internal static class ModelCost
{
    public const double FlopsPerToken = 21.2e6;
    public const double FlopsPerTokenPair = 9216;
}

/// <summary>Builds the three workloads from the STS Benchmark test split, deterministically.</summary>
internal static class Workloads
{
    public const int KeywordCount = 2000;
    public const int ParagraphTargetTokens = 240;
    public const int ParagraphMaxTokens = 256;

    /// <summary>Distinct sentences in order of first appearance (sentence 1, then sentence 2, row by row), whitespace
    /// runs collapsed to one space: the same list as ../shared/golden/minilm-sts-test/texts.txt.</summary>
    public static List<string> DistinctSentences(string stsPath)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var sentences = new List<string>();
        foreach (var pair in StsBenchmark.Read(stsPath))
            foreach (var raw in new[] { pair.Sentence1, pair.Sentence2 })
            {
                string s = string.Join(' ', raw.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
                if (seen.Add(s)) sentences.Add(s);
            }
        return sentences;
    }

    public static Workload Sentences(List<string> sentences, Func<string, long[]> tokenize) =>
        Counted("sentences", sentences, tokenize);

    /// <summary>
    /// Word 1–3-grams of the sentences (punctuation trimmed from word ends), distinct case-insensitively, in
    /// order of first appearance; <see cref="KeywordCount"/> of them taken at an even stride so 1-, 2- and
    /// 3-grams from the whole file are all represented.
    /// </summary>
    public static Workload Keywords(List<string> sentences, Func<string, long[]> tokenize)
    {
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var grams = new List<string>();
        foreach (var sentence in sentences)
        {
            string[] words = sentence.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)
                .Select(w => w.Trim().Trim(PunctuationAndSymbols(w)))
                .Where(w => w.Length > 0).ToArray();
            for (int n = 1; n <= 3; n++)
                for (int start = 0; start + n <= words.Length; start++)
                {
                    string gram = string.Join(' ', words, start, n);
                    if (seen.Add(gram)) grams.Add(gram);
                }
        }
        int take = Math.Min(KeywordCount, grams.Count);
        var chosen = new List<string>(take);
        for (int i = 0; i < take; i++) chosen.Add(grams[(int)((long)i * grams.Count / take)]);
        return Counted("keywords", chosen, tokenize);
    }

    /// <summary>
    /// Consecutive sentences joined with a space: a paragraph grows while it stays within
    /// <see cref="ParagraphMaxTokens"/> tokens and closes once it reaches <see cref="ParagraphTargetTokens"/>
    /// or the next sentence would not fit. A last, short remainder is dropped.
    /// </summary>
    public static Workload Paragraphs(List<string> sentences, Func<string, long[]> tokenize)
    {
        var paragraphs = new List<string>();
        string current = "";
        foreach (var sentence in sentences)
        {
            string candidate = current.Length == 0 ? sentence : current + " " + sentence;
            if (current.Length > 0 && tokenize(candidate).Length > ParagraphMaxTokens)
            {
                paragraphs.Add(current);
                current = sentence;
                continue;
            }
            current = candidate;
            if (tokenize(current).Length >= ParagraphTargetTokens)
            {
                paragraphs.Add(current);
                current = "";
            }
        }
        return Counted("paragraphs", paragraphs, tokenize);
    }

    private static Workload Counted(string name, List<string> texts, Func<string, long[]> tokenize) =>
        new(name, texts, texts.Select(t => tokenize(t).Length).ToList());

    private static char[] PunctuationAndSymbols(string word) =>
        word.Where(c => char.IsPunctuation(c) || char.IsSymbol(c)).Distinct().ToArray();
}
