using System.Globalization;
using System.Text;

namespace KeyEmbed.Tokenization;

/// <summary>
/// The character classes the reference tokenizers use, as Python and Google's BERT <c>tokenization.py</c> define them
/// (<c>_is_whitespace</c>, <c>_is_control</c>, <c>_is_punctuation</c>, <c>_is_chinese_char</c>, <c>str.split</c>,
/// <c>str.lower</c> with its final-sigma rule, <c>unicodedata.combining</c>).
/// </summary>
internal static class PythonUnicode
{
    /// <summary>Python's <c>str.lower</c> of a capital sigma in final position.</summary>
    public const int FinalSmallSigma = 0x03C2;

    // Per ASCII character: bit 0 BERT whitespace, bit 1 dropped control, bit 2 punctuation, bit 3 Python str.split space.
    private static readonly byte[] AsciiClass = BuildAsciiClass();

    private static byte[] BuildAsciiClass()
    {
        var table = new byte[128];
        for (int c = 0; c < 128; c++)
        {
            byte bits = 0;
            if (c is ' ' or '\t' or '\n' or '\r') bits |= 1;
            else if (c < 32 || c == 127) bits |= 2;
            if (c is >= 33 and <= 47 or >= 58 and <= 64 or >= 91 and <= 96 or >= 123 and <= 126) bits |= 4;
            if (c is ' ' or >= 9 and <= 13 or >= 0x1C and <= 0x1F) bits |= 8;
            table[c] = bits;
        }
        return table;
    }

    /// <summary>The code point at <paramref name="index"/>; a lone surrogate is returned as itself (one unit).</summary>
    public static int CodePointAt(ReadOnlySpan<char> text, int index, out int width)
    {
        char c = text[index];
        if (char.IsHighSurrogate(c) && index + 1 < text.Length && char.IsLowSurrogate(text[index + 1]))
        {
            width = 2;
            return char.ConvertToUtf32(c, text[index + 1]);
        }
        width = 1;
        return c;
    }

    /// <summary>Unicode category as Python's <c>unicodedata.category</c> sees it; a lone surrogate is Cs.</summary>
    public static UnicodeCategory Category(int codePoint) =>
        codePoint is >= 0xD800 and <= 0xDFFF ? UnicodeCategory.Surrogate : CharUnicodeInfo.GetUnicodeCategory(codePoint);

    /// <summary>BERT's <c>_is_whitespace</c>: space, tab, newline, carriage return, or category Zs.</summary>
    public static bool IsBertWhitespace(int cp) =>
        cp < 128 ? (AsciiClass[cp] & 1) != 0 : Category(cp) == UnicodeCategory.SpaceSeparator;

    /// <summary>Google BERT's <c>_is_control</c>: categories Cc and Cf, except tab, newline and carriage return.</summary>
    public static bool IsBertControl(int cp)
    {
        if (cp < 128) return (AsciiClass[cp] & 2) != 0;
        var category = Category(cp);
        return category is UnicodeCategory.Control or UnicodeCategory.Format;
    }

    /// <summary>BERT's <c>_is_punctuation</c>: the ASCII symbol ranges plus every Unicode P* category.</summary>
    public static bool IsBertPunctuation(int cp)
    {
        if (cp < 128) return (AsciiClass[cp] & 4) != 0;
        return Category(cp) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation
            or UnicodeCategory.InitialQuotePunctuation or UnicodeCategory.FinalQuotePunctuation
            or UnicodeCategory.OtherPunctuation;
    }

    /// <summary>BERT's <c>_is_chinese_char</c>: the CJK Unified Ideographs blocks (including beyond the BMP) and compatibility ideographs.</summary>
    public static bool IsCjkIdeograph(int cp) =>
        cp is >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0x20000 and <= 0x2A6DF
            or >= 0x2A700 and <= 0x2B73F or >= 0x2B740 and <= 0x2B81F or >= 0x2B820 and <= 0x2CEAF
            or >= 0xF900 and <= 0xFAFF or >= 0x2F800 and <= 0x2FA1F;

    /// <summary>Whether Python's argument-less <c>str.split()</c> splits at this character.</summary>
    public static bool IsPythonSpace(int cp)
    {
        if (cp < 128) return (AsciiClass[cp] & 8) != 0;
        return cp is 0x85 or 0xA0 or 0x1680 or >= 0x2000 and <= 0x200A or 0x2028 or 0x2029 or 0x202F or 0x205F or 0x3000;
    }

    /// <summary>
    /// Appends Python's <c>str.lower</c> of the code point at <paramref name="index"/> of <paramref name="word"/>
    /// (full mapping: U+0130 becomes "i" + U+0307; a capital sigma becomes final ς by Python's Final_Sigma rule,
    /// judged over the whole word).
    /// </summary>
    public static int LowerInto(ReadOnlySpan<int> word, int index, Span<int> output)
    {
        int cp = word[index];
        if (cp < 128)
        {
            output[0] = cp is >= 'A' and <= 'Z' ? cp + 32 : cp;
            return 1;
        }
        if (cp == 0x0130)
        {
            output[0] = 'i';
            output[1] = 0x0307;
            return 2;
        }
        if (cp == 0x03A3)
        {
            output[0] = IsFinalSigma(word, index) ? FinalSmallSigma : 0x03C3;
            return 1;
        }
        if (cp is >= 0xD800 and <= 0xDFFF)
        {
            output[0] = cp;
            return 1;
        }
        output[0] = Rune.ToLowerInvariant(new Rune(cp)).Value;
        return 1;
    }

    // Python (unicodeobject.c, handle_capital_sigma): cased (case-ignorable)* Σ not followed by (case-ignorable)* cased.
    private static bool IsFinalSigma(ReadOnlySpan<int> word, int index)
    {
        int j = index - 1;
        while (j >= 0 && IsCaseIgnorable(word[j])) j--;
        if (j < 0 || !IsCased(word[j])) return false;
        j = index + 1;
        while (j < word.Length && IsCaseIgnorable(word[j])) j++;
        return j == word.Length || !IsCased(word[j]);
    }

    /// <summary>Unicode's Cased property: Lu, Ll, Lt, plus Other_Lowercase / Other_Uppercase.</summary>
    public static bool IsCased(int cp)
    {
        if (cp is >= 0xD800 and <= 0xDFFF) return false;
        var category = Category(cp);
        if (category is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter)
            return true;
        return cp is 0xAA or 0xBA or >= 0x2B0 and <= 0x2B8 or 0x2C0 or 0x2C1 or >= 0x2E0 and <= 0x2E4 or 0x345 or 0x37A
            or 0x10FC or >= 0x1D2C and <= 0x1D6A or 0x1D78 or >= 0x1D9B and <= 0x1DBF or 0x2071 or 0x207F
            or >= 0x2090 and <= 0x209C or >= 0x2160 and <= 0x217F or >= 0x24B6 and <= 0x24E9 or 0x2C7C or 0x2C7D
            or 0xA69C or 0xA69D or 0xA770 or 0xA7F8 or 0xA7F9 or >= 0xAB5C and <= 0xAB5F
            or >= 0x1F130 and <= 0x1F149 or >= 0x1F150 and <= 0x1F169 or >= 0x1F170 and <= 0x1F189;
    }

    /// <summary>Unicode's Case_Ignorable property: Mn, Me, Cf, Lm, Sk, and Word_Break MidLetter / MidNumLet / Single_Quote.</summary>
    public static bool IsCaseIgnorable(int cp)
    {
        if (cp is 0x27 or 0x2E or 0x3A or 0xB7 or 0x387 or 0x55F or 0x5F4 or 0x2018 or 0x2019 or 0x2024 or 0x2027
            or 0xFE13 or 0xFE52 or 0xFE55 or 0xFF07 or 0xFF0E or 0xFF1A)
            return true;
        if (cp < 128) return cp == 0x5E || cp == 0x60; // ^ and ` are Sk
        return Category(cp) is UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark or UnicodeCategory.Format
            or UnicodeCategory.ModifierLetter or UnicodeCategory.ModifierSymbol;
    }

    /// <summary>
    /// <c>unicodedata.normalize</c> of one code point into <paramref name="destination"/>; returns the length. ICU
    /// rejects a few noncharacters (U+FFFE) that Python passes through unchanged; they are copied as they are.
    /// </summary>
    public static int NormalizeCodePoint(ReadOnlySpan<char> codePoint, Span<char> destination, NormalizationForm form)
    {
        try
        {
            if (codePoint.TryNormalize(destination, out int written, form)) return written;
            string wide = codePoint.ToString().Normalize(form);
            if (wide.Length > destination.Length) throw new InvalidOperationException($"normalization of U+{char.ConvertToUtf32(wide, 0):X4} exceeds {destination.Length} units");
            wide.CopyTo(destination);
            return wide.Length;
        }
        catch (ArgumentException)
        {
            codePoint.CopyTo(destination);
            return codePoint.Length;
        }
    }

    /// <summary>Python's <c>unicodedata.combining(c) != 0</c>: a non-zero canonical combining class.</summary>
    public static bool HasCombiningClass(int cp) => cp >= 0x300 && CombiningMarks.Value.Contains(cp);

    // .NET has no table of combining classes, so it is measured once over all marks: NFD reorders a mark of non-zero
    // class against a probe mark (U+0334 has class 1, U+0301 class 230); a class-0 mark never moves.
    private static readonly Lazy<System.Collections.Frozen.FrozenSet<int>> CombiningMarks = new(() =>
    {
        var marks = new HashSet<int>();
        for (int cp = 0x300; cp <= 0x10FFFF; cp++)
        {
            if (cp is >= 0xD800 and <= 0xDFFF) continue;
            if (CharUnicodeInfo.GetUnicodeCategory(cp) is not (UnicodeCategory.NonSpacingMark
                or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark)) continue;
            string mark = char.ConvertFromUtf32(cp);
            if (mark.Normalize(NormalizationForm.FormD) != mark)
            {
                // Marks with a canonical decomposition: only these four have a non-zero class of their own.
                if (cp is 0x340 or 0x341 or 0x343 or 0x344) marks.Add(cp);
                continue;
            }
            string afterMark = "a" + mark + "\u0334", beforeMark = "a\u0301" + mark;
            if (afterMark.Normalize(NormalizationForm.FormD) != afterMark || beforeMark.Normalize(NormalizationForm.FormD) != beforeMark)
                marks.Add(cp);
        }
        return System.Collections.Frozen.FrozenSet.ToFrozenSet(marks);
    });
}
