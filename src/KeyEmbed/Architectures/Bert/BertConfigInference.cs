using KeyEmbed.Checkpoints;
using KeyEmbed.Checkpoints.Onnx;

namespace KeyEmbed.Architectures.Bert;

/// <summary>
/// Derives the config of a BERT ONNX export that comes without a <c>config.json</c>: sizes from the weights' shapes,
/// the head count from the graph's constant Reshape targets <c>[batch, seq, heads, head_size]</c>, layer-norm epsilon
/// from its layer norms, the activation from its operators (Erf → <c>gelu</c>, Relu → <c>relu</c>, a Tanh per layer →
/// <c>gelu_new</c>). When the graph does not say, the user is asked for a config.json beside the file.
/// </summary>
internal static class BertConfigInference
{
    public static BertConfig FromOnnx(OnnxInitializerReader reader)
    {
        var scope = new WeightScope(reader, BertWeightMap.Instance);
        long[] Shape(string name) => scope.ShapeOf(name)
            ?? throw new KeyEmbedException(ErrorKind.MissingWeight, $"{reader.Path}: no initializer for '{name}'; this ONNX export is not a BERT encoder KeyEmbed can read");
        string Ask(string what) =>
            $"{reader.Path}: cannot tell {what} from the ONNX graph; put the model's Hugging Face config.json beside the .onnx file (same folder)";

        var words = Shape("embeddings.word_embeddings.weight");
        int hidden = (int)words[1];
        int layers = 0;
        while (scope.Contains($"encoder.layer.{layers}.attention.self.query.weight")) layers++;
        if (layers == 0)
            throw new KeyEmbedException(ErrorKind.MissingWeight, $"{reader.Path}: no encoder layer weights found (encoder.layer.0.attention.self.query.weight or its MatMul); this ONNX export is not a BERT encoder KeyEmbed can read");

        var facts = reader.Facts;
        int heads = facts.ReshapeTargets
            .Where(t => t.Length == 4 && t[2] > 0 && hidden % t[2] == 0 && (t[3] == hidden / t[2] || t[3] == -1) && t[2] != hidden)
            .GroupBy(t => (int)t[2]).OrderByDescending(g => g.Count()).Select(g => g.Key).FirstOrDefault();
        if (heads == 0) throw KeyEmbedException.Checkpoint(reader.Path, Ask("the number of attention heads"));

        string activation;
        if (facts.OperatorCounts.GetValueOrDefault("Erf") > 0) activation = "gelu";
        else if (facts.OperatorCounts.GetValueOrDefault("Relu") > 0) activation = "relu";
        else if (facts.OperatorCounts.GetValueOrDefault("Tanh") >= layers) activation = "gelu_new";
        else throw KeyEmbedException.Checkpoint(reader.Path, Ask("the feed-forward activation"));

        double eps = facts.LayerNormEpsilons.Count == 0 ? BertConfig.DefaultLayerNormEps
            : // float's shortest text, so 1e-12f reads back as 1e-12 rather than 9.99999996e-13
              double.Parse(facts.LayerNormEpsilons.GroupBy(e => e).OrderByDescending(g => g.Count()).First().Key
                  .ToString(System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture);

        return new BertConfig(
            VocabSize: (int)words[0],
            HiddenSize: hidden,
            LayerCount: layers,
            HeadCount: heads,
            IntermediateSize: (int)Shape("encoder.layer.0.intermediate.dense.weight")[0],
            Activation: BertConfig.ParseActivation(activation, googleLayout: false, reader.Path),
            ActivationName: activation,
            MaxPositions: (int)Shape("embeddings.position_embeddings.weight")[0],
            TypeVocabSize: (int)Shape("embeddings.token_type_embeddings.weight")[0],
            LayerNormEps: eps,
            Source: $"inferred from {reader.Path}");
    }
}
