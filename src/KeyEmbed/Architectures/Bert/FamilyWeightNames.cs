using KeyEmbed.Checkpoints;

namespace KeyEmbed.Architectures.Bert;

/// <summary>
/// A BERT-family member's weight names: BERT's canonical name (what <see cref="BertGraph"/> asks for) → the member's
/// Hugging Face name, stored as is or under its model prefix (<c>roberta.</c>, <c>electra.</c>, …), and where the
/// member has an original TensorFlow release, its TF name.
/// </summary>
/// <param name="prefix">The model prefix of task checkpoints (<c>roberta.</c>), dot included.</param>
/// <param name="huggingFace">Canonical name → the member's Hugging Face name (identity for members that kept BERT's names).</param>
/// <param name="tensorflow">Canonical name → TF name and layout, or null; null when there is no TF release.</param>
internal sealed class FamilyWeightNames(string prefix, Func<string, string> huggingFace, Func<string, WeightLocation?>? tensorflow = null) : IWeightNames
{
    public IEnumerable<WeightLocation> Candidates(string canonicalName)
    {
        string name = huggingFace(canonicalName);
        yield return new WeightLocation(name);
        yield return new WeightLocation(prefix + name);
        if (tensorflow?.Invoke(canonicalName) is { } tf) yield return tf;
    }
}
