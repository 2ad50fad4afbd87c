using System.Diagnostics;
using System.Text;
using KeyEmbed.Models;
using KeyEmbed.Tokenization;

// Times BERT WordPiece tokenization of 10,000 short keywords (word 1-3-grams from the STS-B test sentences, taken in
// file order), then of the first 2,000 STS-B test sentences, with KeyEmbed and with FastBertTokenizer 1.2.6 on the
// same vocabulary (the built-in model's vocab.txt).
// Not a test: prints figures for docs/tokenization.md. Usage: dotnet run -c Release [-- path/to/sts-test.csv]

string csv = args.Length > 0 ? args[0] : FindShared("data/stsbenchmark/sts-test.csv");
var keywordSet = Keywords(csv, 10_000);
var sentenceSet = File.ReadLines(csv).SelectMany(line => line.Split('\t').Skip(5).Take(2)).Take(2_000).ToList();
byte[] vocabulary = BuiltInModels.ReadMiniLmResource(BuiltInModels.MiniLmVocabResource);

var keyEmbed = TextEncoder.FromWordPieceVocabulary(vocabulary, lowercase: true);
var fastBert = new FastBertTokenizer.BertTokenizer();
using (var reader = new StreamReader(new MemoryStream(vocabulary), Encoding.UTF8))
    fastBert.LoadVocabulary(reader, convertInputToLowercase: true);

Run(keywordSet, $"keywords (word 1-3-grams of {Path.GetFileName(csv)})");
Console.WriteLine();
Run(sentenceSet, $"sentences ({Path.GetFileName(csv)})");

void Run(List<string> keywords, string label)
{
    long[] ids = new long[512], mask = new long[512], types = new long[512];
    int mismatches = 0;
    foreach (var keyword in keywords)
    {
        int n = fastBert.Encode(keyword, ids, mask, types);
        var ours = keyEmbed.Encode(keyword);
        if (n != ours.Length || !ours.Ids.Select(i => (long)i).SequenceEqual(ids.Take(n))) mismatches++;
    }

    const int Warmups = 3, Repetitions = 21;
    var runs = new (string Name, Func<long> Body)[]
    {
        ("KeyEmbed Encode (tokens, ids, types, offsets)", () =>
        {
            long tokens = 0;
            foreach (var keyword in keywords) tokens += keyEmbed.Encode(keyword).Length;
            return tokens;
        }),
        ("KeyEmbed EncodeIds (ids into a span)", () =>
        {
            long tokens = 0;
            Span<int> buffer = stackalloc int[512];
            foreach (var keyword in keywords) tokens += keyEmbed.EncodeIds(keyword, buffer);
            return tokens;
        }),
        ("FastBertTokenizer 1.2.6 Encode (ids into spans)", () =>
        {
            long tokens = 0;
            foreach (var keyword in keywords) tokens += fastBert.Encode(keyword, ids, mask, types);
            return tokens;
        }),
    };
    // Interleaved (A B C A B C ...) so that load from other processes falls on every contender alike.
    var times = runs.Select(_ => new List<double>()).ToArray();
    var counts = new long[runs.Length];
    for (int rep = 0; rep < Warmups + Repetitions; rep++)
    {
        for (int r = 0; r < runs.Length; r++)
        {
            var watch = Stopwatch.StartNew();
            counts[r] = runs[r].Body();
            if (rep >= Warmups) times[r].Add(watch.Elapsed.TotalMilliseconds);
        }
    }

    Console.WriteLine($"{keywords.Count} {label}, {Environment.ProcessorCount} cores, .NET {Environment.Version}");
    Console.WriteLine($"ids differing between KeyEmbed and FastBertTokenizer: {mismatches}");
    Console.WriteLine($"median of {Repetitions} interleaved runs after {Warmups} warm-ups:");
    for (int r = 0; r < runs.Length; r++)
    {
        var sorted = times[r].Order().ToList();
        double median = sorted[sorted.Count / 2];
        Console.WriteLine($"  {runs[r].Name,-50} {median,8:F2} ms  {counts[r] / (median / 1000) / 1e6,6:F2} M tokens/s  ({counts[r]} tokens; min {sorted[0]:F2} ms)");
    }
}

static List<string> Keywords(string csv, int count)
{
    var keywords = new List<string>(count);
    int n = 0;
    foreach (var line in File.ReadLines(csv))
    {
        var fields = line.Split('\t');
        foreach (var sentence in fields.Skip(5).Take(2))
        {
            var words = sentence.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            for (int start = 0; start < words.Length; start++)
            {
                int length = 1 + n % 3;
                if (start + length > words.Length) break;
                keywords.Add(string.Join(' ', words, start, length));
                n++;
                start += length - 1;
                if (keywords.Count == count) return keywords;
            }
        }
    }
    return keywords;
}

static string FindShared(string relative)
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        if (File.Exists(Path.Combine(dir.FullName, "KeyEmbed.slnx"))) return Path.Combine(dir.FullName, "..", "shared", relative);
    throw new FileNotFoundException("KeyEmbed.slnx not found; pass the path of sts-test.csv");
}
