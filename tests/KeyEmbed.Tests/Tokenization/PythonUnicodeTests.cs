using KeyEmbed.Tokenization;

namespace KeyEmbed.Tests.Tokenization;

public sealed class PythonUnicodeTests
{
    // Values as Python's unicodedata.combining gives them: U+0301 230, U+094D (virama) 9, U+0334 1, U+093C (nukta) 7;
    // U+0941 (Devanagari vowel sign U) and U+0903 are marks with class 0; 'a' is no mark.
    [Theory]
    [InlineData(0x0301, true)]
    [InlineData(0x094D, true)]
    [InlineData(0x0334, true)]
    [InlineData(0x093C, true)]
    [InlineData(0x0941, false)]
    [InlineData(0x0903, false)]
    [InlineData('a', false)]
    public void Combining_class_is_non_zero_exactly_for_reordering_marks(int codePoint, bool expected) =>
        Assert.Equal(expected, PythonUnicode.HasCombiningClass(codePoint));

    [Theory]
    [InlineData("ΟΔΟΣ", "οδος")]
    [InlineData("ΣΑ", "σα")]
    [InlineData("Σ", "σ")]
    [InlineData("ΑΣ'", "ας'")]
    [InlineData("ΑΣ'Α", "ασ'α")]
    [InlineData("İ", "i\u0307")]
    [InlineData("ǅ", "ǆ")]
    public void Lower_follows_python_str_lower(string text, string expected)
    {
        var codePoints = text.EnumerateRunes().Select(r => r.Value).ToArray();
        var lowered = new List<int>();
        Span<int> buffer = stackalloc int[2];
        for (int i = 0; i < codePoints.Length; i++)
        {
            int n = PythonUnicode.LowerInto(codePoints, i, buffer);
            for (int k = 0; k < n; k++) lowered.Add(buffer[k]);
        }
        Assert.Equal(expected, string.Concat(lowered.Select(char.ConvertFromUtf32)));
    }

    [Fact]
    public void Python_split_whitespace_includes_line_and_paragraph_separators()
    {
        Assert.True(PythonUnicode.IsPythonSpace(0x2028));
        Assert.True(PythonUnicode.IsPythonSpace(0x2029));
        Assert.True(PythonUnicode.IsPythonSpace(0x1F));
        Assert.False(PythonUnicode.IsPythonSpace(0x200B));
        Assert.False(PythonUnicode.IsBertWhitespace(0x2028));
    }

    [Fact]
    public void Bert_punctuation_covers_ascii_symbols_and_unicode_p_categories_only()
    {
        foreach (char c in "$+<=>^|~`!\"#%&'()*,-./:;?@[\\]_{}") Assert.True(PythonUnicode.IsBertPunctuation(c), c.ToString());
        Assert.True(PythonUnicode.IsBertPunctuation('«'));
        Assert.True(PythonUnicode.IsBertPunctuation('。'));
        Assert.False(PythonUnicode.IsBertPunctuation('€'));
        Assert.False(PythonUnicode.IsBertPunctuation('±'));
        Assert.False(PythonUnicode.IsBertPunctuation('a'));
    }
}
