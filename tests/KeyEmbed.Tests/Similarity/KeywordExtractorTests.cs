using KeyEmbed.Similarity;

namespace KeyEmbed.Tests.Similarity;

public sealed class KeywordExtractorTests
{
    // Unit vectors chosen so every cosine is a simple number:
    //   doc·alpha = 0.8, doc·beta = 0.6, doc·gamma = 0.28; alpha·beta = 0.96, alpha·gamma = 0.224, beta·gamma = 0.168.
    private const string Document = "Alpha beta, gamma.";
    private static readonly Dictionary<string, float[]> Vectors = new()
    {
        [Document] = [1f, 0f, 0f],
        ["alpha"] = [0.8f, 0.6f, 0f],
        ["beta"] = [0.6f, 0.8f, 0f],
        ["gamma"] = [0.28f, 0f, 0.96f],
    };

    private static readonly List<IReadOnlyList<string>> Calls = [];

    private static float[][] FakeEmbed(IReadOnlyList<string> texts)
    {
        Calls.Add(texts);
        return [.. texts.Select(t => Vectors.TryGetValue(t, out var v) ? v : throw new KeyNotFoundException(t))];
    }

    private static readonly KeywordExtractor Extractor = new(FakeEmbed);

    [Fact]
    public void Without_diversity_candidates_rank_by_cosine_to_the_document()
    {
        var keywords = Extractor.Extract(Document, new KeywordOptions { Top = 3, MaxNgram = 1 });
        Assert.Equal(["alpha", "beta", "gamma"], keywords.Select(k => k.Text));
        Assert.Equal([0.8f, 0.6f, 0.28f], keywords.Select(k => (float)Math.Round(k.Score, 5)));
    }

    [Fact]
    public void Maximal_marginal_relevance_prefers_a_keyword_unlike_the_ones_already_chosen()
    {
        // Step 2 with diversity 0.5: beta 0.5·0.6 − 0.5·0.96 = −0.18; gamma 0.5·0.28 − 0.5·0.224 = 0.028 → gamma.
        var keywords = Extractor.Extract(Document, new KeywordOptions { Top = 3, MaxNgram = 1, Diversity = 0.5 });
        Assert.Equal(["alpha", "gamma", "beta"], keywords.Select(k => k.Text));
        Assert.Equal(0.28f, keywords[1].Score, 5);

        // With diversity 0.1: beta 0.9·0.6 − 0.1·0.96 = 0.444; gamma 0.9·0.28 − 0.1·0.224 = 0.2296 → beta.
        var mild = Extractor.Extract(Document, new KeywordOptions { Top = 2, MaxNgram = 1, Diversity = 0.1 });
        Assert.Equal(["alpha", "beta"], mild.Select(k => k.Text));
    }

    [Fact]
    public void Top_limits_the_result_and_a_user_candidate_list_replaces_the_document_ngrams()
    {
        var keywords = Extractor.Extract(Document, new KeywordOptions { Top = 1, Candidates = ["gamma", "beta", "gamma", " "] });
        Assert.Equal(["beta"], keywords.Select(k => k.Text));
        Assert.Equal([Document, "gamma", "beta"], Calls[^1]);
    }

    [Fact]
    public void English_candidates_are_ngrams_that_never_cross_punctuation_or_stop_words()
    {
        var candidates = KeywordExtractor.Candidates("Deep learning is fun. Machine learning, and the deep nets!", 1, 2, removeStopWords: true);
        Assert.Equal(["deep", "deep learning", "learning", "fun", "machine", "machine learning", "deep nets", "nets"], candidates);
        var withStopWords = KeywordExtractor.Candidates("the cat sat", 2, 2, removeStopWords: false);
        Assert.Equal(["the cat", "cat sat"], withStopWords);
    }

    [Fact]
    public void Chinese_candidates_come_from_jieba_segments_joined_without_spaces()
    {
        var candidates = KeywordExtractor.Candidates("北京是中国的首都。", 1, 2, removeStopWords: true);
        Assert.Equal(["北京", "中国", "首都"], candidates);
        var noStop = KeywordExtractor.Candidates("北京是中国的首都", 2, 2, removeStopWords: false);
        Assert.Equal(["北京是", "是中国", "中国的", "的首都"], noStop);
    }

    [Fact]
    public void Jieba_segments_a_Chinese_sentence_with_its_dictionaries_found_beside_the_library()
    {
        Assert.Equal(["北京", "是", "中国", "的", "首都"], Segmenters.SegmentChinese("北京是中国的首都"));
    }

    [Fact]
    public void Empty_document_or_no_candidates_give_no_keywords_without_calling_the_model()
    {
        int before = Calls.Count;
        Assert.Empty(Extractor.Extract("   ", new KeywordOptions()));
        Assert.Empty(Extractor.Extract("the and of", new KeywordOptions()));
        Assert.Equal(before, Calls.Count);
    }

    [Theory]
    [InlineData(0, 1, 2, 0.0, "top must be at least 1")]
    [InlineData(5, 0, 2, 0.0, "n-gram range")]
    [InlineData(5, 3, 2, 0.0, "n-gram range")]
    [InlineData(5, 1, 7, 0.0, "n-gram range")]
    [InlineData(5, 1, 2, 1.5, "diversity must be between 0 and 1")]
    [InlineData(5, 1, 2, double.NaN, "diversity must be between 0 and 1")]
    public void Bad_options_name_the_option_and_its_range(int top, int min, int max, double diversity, string message)
    {
        var e = Assert.Throws<KeyEmbedException>(() =>
            Extractor.Extract(Document, new KeywordOptions { Top = top, MinNgram = min, MaxNgram = max, Diversity = diversity }));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Contains(message, e.Message);
    }
}
