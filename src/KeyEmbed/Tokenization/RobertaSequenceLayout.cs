namespace KeyEmbed.Tokenization;

/// <summary>
/// RoBERTa's special-token layout, shared by its byte-level BPE and XLM-R's SentencePiece: <c>&lt;s&gt; A &lt;/s&gt;</c>
/// and <c>&lt;s&gt; A &lt;/s&gt;&lt;/s&gt; B &lt;/s&gt;</c>, every token type 0 (the second text marked as sequence 1).
/// </summary>
internal static class RobertaSequenceLayout
{
    public const string Start = "<s>", End = "</s>";

    public const int SpecialTokens = 2, PairSpecialTokens = 4;

    public static void Layout(int startId, int endId, List<TokenPiece> first, List<TokenPiece>? second, SequenceWriter output)
    {
        output.Special(startId, Start, 0);
        output.Pieces(first, 0);
        output.Special(endId, End, 0);
        if (second is null) return;
        output.Special(endId, End, 0);
        output.Pieces(second, 0, sequence: 1);
        output.Special(endId, End, 0);
    }

    public static int LayoutIds(int startId, int endId, List<TokenPiece> pieces, Span<int> ids)
    {
        ids[0] = startId;
        for (int i = 0; i < pieces.Count; i++) ids[i + 1] = pieces[i].Id;
        ids[pieces.Count + 1] = endId;
        return pieces.Count + 2;
    }
}
