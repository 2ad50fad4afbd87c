using Google.Protobuf;
using KeyEmbed.Tokenization;

namespace KeyEmbed.Tests.Tokenization;

public sealed class CorruptSpieceModelTests
{
    // Found by fuzzing (target spiece-model): a spiece.model whose normalization table (NormalizerSpec
    // precompiled_charsmap) is corrupt made Microsoft.ML.Tokenizers' trie search throw IndexOutOfRangeException while
    // encoding. The fuzzer's input was a mutation of ../shared's model; this one is built from it at test time: the real
    // model with a one-unit trie appended as its NormalizerSpec (protobuf merges the later field over the earlier one).
    [Fact]
    public void A_corrupt_normalization_table_is_a_checkpoint_error_naming_the_file()
    {
        var model = File.ReadAllBytes(SharedData.Models("xlnet-spiece", "spiece.model"));
        byte[] charsmap = [4, 0, 0, 0, 0, 0, 0, 0]; // trie of 4 bytes = one unit (offset 0), no normalized strings
        using var spec = new MemoryStream();
        var specWriter = new CodedOutputStream(spec);
        specWriter.WriteTag(2, WireFormat.WireType.LengthDelimited);
        specWriter.WriteBytes(ByteString.CopyFrom(charsmap));
        specWriter.Flush();
        using var appended = new MemoryStream();
        var writer = new CodedOutputStream(appended);
        writer.WriteTag(3, WireFormat.WireType.LengthDelimited);
        writer.WriteBytes(ByteString.CopyFrom(spec.ToArray()));
        writer.Flush();
        byte[] corrupt = [.. model, .. appended.ToArray()];

        var e = Assert.Throws<KeyEmbedException>(() => TextEncoder.FromSentencePieceModel(corrupt, source: "bad/spiece.model").Encode("Hello, wörld"));
        Assert.Equal(ErrorKind.InvalidCheckpoint, e.Kind);
        Assert.StartsWith("bad/spiece.model: ", e.Message);
    }
}
