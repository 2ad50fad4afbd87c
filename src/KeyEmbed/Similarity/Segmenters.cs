using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using JiebaNet.Segmenter;

namespace KeyEmbed.Similarity;

/// <summary>
/// Splits a document into runs of candidate words: a run ends at punctuation or a stop word, so that keyword
/// n-grams are phrases that really occur in the text. English (and other space-separated text) is split on word
/// characters; text with Han characters is segmented by jieba.NET.
/// </summary>
internal static partial class Segmenters
{
    private static readonly Lazy<HashSet<string>> EnglishStopWords = new(() => LoadStopWords("english"));
    private static readonly Lazy<HashSet<string>> ChineseStopWords = new(() => LoadStopWords("chinese"));

    /// <summary>The English stop-word list shipped with KeyEmbed (lower case).</summary>
    public static IReadOnlySet<string> English => EnglishStopWords.Value;

    /// <summary>The Chinese stop-word list shipped with KeyEmbed.</summary>
    public static IReadOnlySet<string> Chinese => ChineseStopWords.Value;

    /// <summary>Whether the text holds any Han character (and so needs a Chinese segmenter).</summary>
    public static bool HasHan(string text)
    {
        foreach (var rune in text.EnumerateRunes())
            if (IsHan(rune)) return true;
        return false;
    }

    /// <summary>
    /// Runs of candidate words, lower-cased, in document order. Stop words and punctuation end a run and are
    /// dropped; so are one-letter non-Han tokens.
    /// </summary>
    public static List<List<string>> WordRuns(string text, bool removeStopWords)
    {
        var runs = new List<List<string>>();
        var current = new List<string>();
        void Break()
        {
            if (current.Count > 0) runs.Add(current);
            current = [];
        }

        IEnumerable<(string Token, bool Separator)> tokens = HasHan(text) ? JiebaTokens(text) : LatinTokens(text);
        foreach (var (raw, separator) in tokens)
        {
            if (separator) { Break(); continue; }
            string word = raw.ToLowerInvariant();
            bool single = word.EnumerateRunes().Count() == 1 && !IsHan(word.EnumerateRunes().First());
            if (single || (removeStopWords && (English.Contains(word) || Chinese.Contains(word)))) { Break(); continue; }
            current.Add(word);
        }
        Break();
        return runs;
    }

    /// <summary>Joins words into a phrase: a space between two non-Han words, nothing next to Han text.</summary>
    public static string Join(IReadOnlyList<string> words, int start, int count)
    {
        var sb = new StringBuilder(words[start]);
        for (int i = start + 1; i < start + count; i++)
        {
            string previous = words[i - 1], next = words[i];
            bool hanBoundary = IsHan(Rune.GetRuneAt(previous, previous.Length - (char.IsLowSurrogate(previous[^1]) ? 2 : 1)))
                || IsHan(Rune.GetRuneAt(next, 0));
            if (!hanBoundary) sb.Append(' ');
            sb.Append(next);
        }
        return sb.ToString();
    }

    /// <summary>Segments Chinese text with jieba.NET (accurate mode, HMM for unknown words).</summary>
    public static IReadOnlyList<string> SegmentChinese(string text) => JiebaHost.Cut(text);

    // Word characters, with inner apostrophes and hyphens ("don't", "state-of-the-art") kept in the word.
    [GeneratedRegex(@"[\p{L}\p{M}\p{N}]+(?:['’\-][\p{L}\p{M}\p{N}]+)*")]
    private static partial Regex LatinWord();

    private static IEnumerable<(string, bool)> LatinTokens(string text)
    {
        int end = 0;
        foreach (Match m in LatinWord().Matches(text))
        {
            if (m.Index > end && !string.IsNullOrWhiteSpace(text[end..m.Index])) yield return ("", true);
            yield return (m.Value.Replace('’', '\''), false);
            end = m.Index + m.Length;
        }
    }

    private static IEnumerable<(string, bool)> JiebaTokens(string text)
    {
        foreach (var token in JiebaHost.Cut(text))
        {
            if (string.IsNullOrWhiteSpace(token)) continue;
            bool hasWordChar = token.Any(c => char.IsLetterOrDigit(c));
            yield return (token.Trim(), !hasWordChar);
        }
    }

    private static bool IsHan(Rune rune) =>
        rune.Value is >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0x20000 and <= 0x2FA1F or >= 0xF900 and <= 0xFAFF;

    private static HashSet<string> LoadStopWords(string language)
    {
        using var stream = typeof(Segmenters).Assembly.GetManifestResourceStream($"KeyEmbed.StopWords.{language}.txt")
            ?? throw new InvalidOperationException($"stop-word resource '{language}' is missing from the KeyEmbed assembly");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var words = new HashSet<string>(StringComparer.Ordinal);
        while (reader.ReadLine() is { } line)
        {
            line = line.Trim();
            if (line.Length > 0 && !line.StartsWith('#')) words.Add(line.ToLower(CultureInfo.InvariantCulture));
        }
        return words;
    }

    /// <summary>
    /// One jieba segmenter for the process. jieba.NET reads its dictionaries from
    /// <c>ConfigManager.ConfigFileBaseDir</c> and its package does not copy them; KeyEmbed's build copies them to
    /// <c>jieba/</c> beside KeyEmbed.dll and points jieba there before first use.
    /// </summary>
    private static class JiebaHost
    {
        // jieba.NET does not document thread safety, so cutting is serialised.
        private static readonly Lock Gate = new();
        private static readonly Lazy<JiebaSegmenter> Segmenter = new(Create);

        public static string DictionaryFolder =>
            Path.Combine(Path.GetDirectoryName(typeof(Segmenters).Assembly.Location) is { Length: > 0 } dir ? dir : AppContext.BaseDirectory, "jieba");

        public static IReadOnlyList<string> Cut(string text)
        {
            var segmenter = Segmenter.Value;
            lock (Gate) return [.. segmenter.Cut(text, cutAll: false, hmm: true)];
        }

        private static JiebaSegmenter Create()
        {
            string folder = DictionaryFolder;
            if (!File.Exists(Path.Combine(folder, "dict.txt")))
                throw new KeyEmbedException(ErrorKind.Runtime,
                    $"jieba's dictionary is missing: {Path.Combine(folder, "dict.txt")} not found; the KeyEmbed build copies it from the jieba.NET package to jieba/ beside KeyEmbed.dll — rebuild, or copy that folder there");
            // jieba.NET joins this folder with its file names; it is process-wide, so it is set once, here.
            ConfigManager.ConfigFileBaseDir = folder;
            return new JiebaSegmenter();
        }
    }
}
