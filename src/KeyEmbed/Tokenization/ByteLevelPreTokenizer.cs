using System.Globalization;
using System.Text;

namespace KeyEmbed.Tokenization;

/// <summary>
/// GPT-2's pre-tokenization (OpenAI <c>encoder.py</c>'s pattern, used unchanged by RoBERTa):
/// <c>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c>, tried in that order at each
/// position. Written as a scanner over Unicode scalar values rather than a .NET <see cref="System.Text.RegularExpressions.Regex"/>:
/// .NET's <c>\p{L}</c> looks at UTF-16 code units, so a letter outside the Basic Multilingual Plane (U+20000 𠀀, a
/// CJK ideograph) is a pair of surrogates, not a letter, and the pattern would cut <c>abc𠀀def</c> into three words
/// where Python's <c>regex</c> (the reference) keeps one.
/// </summary>
internal static class ByteLevelPreTokenizer
{
    private enum Kind { Space, Letter, Number, Other }

    /// <summary>Appends the (start, length) of each pre-token of <paramref name="text"/>, in UTF-16 units, covering the text.</summary>
    public static void Split(ReadOnlySpan<char> text, List<(int Start, int Length)> output)
    {
        int i = 0, n = text.Length;
        while (i < n)
        {
            if (text[i] == '\'' && Contraction(text[(i + 1)..]) is > 0 and var contraction)
            {
                output.Add((i, contraction + 1));
                i += contraction + 1;
                continue;
            }
            // " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+": an optional single space, then a run of one class.
            int start = i;
            int body = text[i] == ' ' && i + 1 < n && Classify(text, i + 1, out _) != Kind.Space ? i + 1 : i;
            var kind = Classify(text, body, out int width);
            if (kind != Kind.Space)
            {
                int j = body + width;
                while (j < n && Classify(text, j, out int w) == kind) j += w;
                output.Add((start, j - start));
                i = j;
                continue;
            }
            // "\s+(?!\S)" then "\s+": a whitespace run; before a non-space its last character is left for the next
            // match (where a ' ' becomes the optional space of a word), unless the run is that one character.
            int end = i;
            while (end < n && char.IsWhiteSpace(text[end])) end++;
            if (end < n && end - i >= 2) end--;
            output.Add((i, end - i));
            i = end;
        }
    }

    /// <summary>The length after the apostrophe of <c>s|t|re|ve|m|ll|d</c> at the start of <paramref name="rest"/>, or 0.</summary>
    private static int Contraction(ReadOnlySpan<char> rest)
    {
        if (rest.Length == 0) return 0;
        switch (rest[0])
        {
            case 's' or 't' or 'm' or 'd': return 1;
            case 'r' or 'v' when rest.Length > 1 && rest[1] == 'e': return 2;
            case 'l' when rest.Length > 1 && rest[1] == 'l': return 2;
            default: return 0;
        }
    }

    // Python's \s over str is Unicode White_Space, the set char.IsWhiteSpace tests (all in the BMP).
    private static Kind Classify(ReadOnlySpan<char> text, int index, out int width)
    {
        if (Rune.DecodeFromUtf16(text[index..], out var rune, out width) != System.Buffers.OperationStatus.Done)
        {
            width = 1; // a lone surrogate: neither space, letter nor number
            return Kind.Other;
        }
        if (rune.IsBmp && char.IsWhiteSpace((char)rune.Value)) return Kind.Space;
        return Rune.GetUnicodeCategory(rune) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => Kind.Letter,
            UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => Kind.Number,
            _ => Kind.Other,
        };
    }
}
