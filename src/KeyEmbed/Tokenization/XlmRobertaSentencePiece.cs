using KeyEmbed.Architectures;

namespace KeyEmbed.Tokenization;

/// <summary>
/// XLM-RoBERTa's tokenizer (fairseq / Hugging Face <c>XLMRobertaTokenizer</c>): SentencePiece over
/// <c>sentencepiece.bpe.model</c> with only the model's own normalizer, ids in fairseq's table (<c>&lt;s&gt;</c> = 0,
/// <c>&lt;pad&gt;</c> = 1, <c>&lt;/s&gt;</c> = 2, <c>&lt;unk&gt;</c> = 3, every other piece its SentencePiece id + 1,
/// <c>&lt;mask&gt;</c> after the last piece), layouts <c>&lt;s&gt; A &lt;/s&gt;</c> and
/// <c>&lt;s&gt; A &lt;/s&gt;&lt;/s&gt; B &lt;/s&gt;</c>, one token type, right padding with <c>&lt;pad&gt;</c>.
/// </summary>
internal sealed class XlmRobertaSentencePiece : TextEncoder
{
    /// <summary>The file name Hugging Face and fairseq give the model.</summary>
    public const string FileName = "sentencepiece.bpe.model";

    private const int StartId = 0, PaddingId = 1, EndId = 2, UnknownId = 3, FairseqOffset = 1;
    private const string Start = "<s>", End = "</s>";
    private readonly XLNetSentencePiece _pieces;

    public XlmRobertaSentencePiece(byte[] model, int maxLength, string source)
        : base(maxLength)
    {
        _pieces = new XLNetSentencePiece(model, lowercase: false, keepAccents: true, maxLength, source, xlnetRules: false);
        // SentencePiece ids shifted by one, plus <mask> at the end.
        VocabularySize = _pieces.VocabularySize + FairseqOffset + 1;
    }

    /// <inheritdoc />
    public override string Kind => "sentencepiece (xlm-roberta)";

    /// <inheritdoc />
    public override PaddingSide PaddingSide => PaddingSide.Right;

    /// <inheritdoc />
    public override int PadId => PaddingId;

    /// <inheritdoc />
    public override int PadTypeId => 0;

    /// <inheritdoc />
    public override int VocabularySize { get; }

    /// <inheritdoc />
    public override int? UnknownTokenId => UnknownId;

    internal override int SpecialTokenCount(bool pair) => pair ? RobertaSequenceLayout.PairSpecialTokens : RobertaSequenceLayout.SpecialTokens;

    internal override void Layout(List<TokenPiece> first, List<TokenPiece>? second, SequenceWriter output) =>
        RobertaSequenceLayout.Layout(StartId, EndId, first, second, output);

    internal override int LayoutIds(List<TokenPiece> pieces, Span<int> ids) =>
        RobertaSequenceLayout.LayoutIds(StartId, EndId, pieces, ids);

    internal override void Tokenize(string text, List<TokenPiece> output)
    {
        int first = output.Count;
        _pieces.Tokenize(text, output);
        int unknown = _pieces.UnknownId;
        for (int i = first; i < output.Count; i++)
            output[i] = output[i] with { Id = output[i].Id == unknown ? UnknownId : output[i].Id + FairseqOffset };
    }
}
