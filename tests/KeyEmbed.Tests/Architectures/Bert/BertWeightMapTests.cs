using KeyEmbed.Architectures.Bert;

namespace KeyEmbed.Tests.Architectures.Bert;

public sealed class BertWeightMapTests
{
    [Fact]
    public void Linear_weight_maps_to_the_transposed_tensorflow_kernel()
    {
        var candidates = BertWeightMap.Instance.Candidates("encoder.layer.11.attention.self.query.weight").ToList();
        Assert.Contains(candidates, c => c.StoredName == "bert.encoder.layer.11.attention.self.query.weight" && !c.Transposed);
        Assert.Contains(candidates, c => c.StoredName == "bert/encoder/layer_11/attention/self/query/kernel" && c.Transposed);
    }

    [Fact]
    public void Layer_norm_has_old_and_tensorflow_spellings()
    {
        var names = BertWeightMap.Instance.Candidates("encoder.layer.0.output.LayerNorm.bias").Select(c => c.StoredName).ToList();
        Assert.Equal(["encoder.layer.0.output.LayerNorm.bias", "bert.encoder.layer.0.output.LayerNorm.bias",
            "encoder.layer.0.output.LayerNorm.beta", "bert.encoder.layer.0.output.LayerNorm.beta",
            "bert/encoder/layer_0/output/LayerNorm/beta"], names);
    }

    [Fact]
    public void Embedding_tables_map_to_tensorflow_names_untransposed()
    {
        var tf = BertWeightMap.Instance.Candidates("embeddings.word_embeddings.weight").Last();
        Assert.Equal("bert/embeddings/word_embeddings", tf.StoredName);
        Assert.False(tf.Transposed);
    }

    [Theory]
    [InlineData("cls.predictions.transform.dense.weight", "pre-training head")]
    [InlineData("cls/seq_relationship/output_weights", "pre-training head")]
    [InlineData("pooler.dense.bias", "pooler")]
    [InlineData("bert.pooler.dense.weight", "pooler")]
    [InlineData("bert/pooler/dense/kernel", "pooler")]
    [InlineData("bert/encoder/layer_0/output/dense/kernel/adam_v", "optimizer slot")]
    [InlineData("bert/pooler/dense/kernel/adam_m", "optimizer slot")]
    [InlineData("global_step", "training step counter")]
    [InlineData("embeddings.position_ids", "position id buffer")]
    public void Known_unused_tensors_say_why(string name, string why) => Assert.Equal(why, BertWeightMap.WhyIgnored(name));

    [Fact]
    public void Encoder_weights_are_not_ignorable() =>
        Assert.Null(BertWeightMap.WhyIgnored("bert/encoder/layer_0/output/dense/kernel"));
}
