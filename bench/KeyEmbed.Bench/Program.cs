using FastBertTokenizer;
using KeyEmbed.Bench;
using KeyEmbed.Models;
using Microsoft.ML.OnnxRuntime;

// dotnet run -c Release --project bench/KeyEmbed.Bench -- [--quick] [--write-docs] [--threads N] [--data FILE]
// Every mode's output starts with the machine: figures (int8 above all) depend on the CPU's instruction sets.
var cpu = KeyEmbed.Runtime.CpuFeatures.Current;
Console.WriteLine($"{cpu.Describe()}; ONNX Runtime {OrtEnv.Instance().GetVersionString()}");
if (args is ["startup"])
{
    StartupProbe.Run(Console.Out);
    return 0;
}
if (args is ["session-load", var sessionVariant])
{
    SessionProbe.Run(sessionVariant, Console.Out);
    return 0;
}
if (args is ["graph-ops"])
{
    KeyEmbed.Bench.GraphOps.Print(Console.Out);
    return 0;
}
if (args is ["settings"])
{
    string sts = Path.GetFullPath(Path.Combine(FindRepoRoot(), "..", "shared", "data", "stsbenchmark", "sts-test.csv"));
    SettingsSweep.Run(sts, 2, Console.Out, Console.Error);
    return 0;
}
if (args is ["paragraphs", ..])
{
    string sts = Path.GetFullPath(Path.Combine(FindRepoRoot(), "..", "shared", "data", "stsbenchmark", "sts-test.csv"));
    ParagraphSweep.Run(sts, 2, Console.Out, Console.Error, args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 3);
    return 0;
}
if (args is ["attention", ..])
{
    // attention [rows] [tokens]: self-attention alone in its graph forms (plain operators, MultiHeadAttention with and without a mask).
    AttentionProbe.Run(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 16,
        args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 256, Console.Out);
    return 0;
}
if (args is ["latency", ..])
{
    string sts = Path.GetFullPath(Path.Combine(FindRepoRoot(), "..", "shared", "data", "stsbenchmark", "sts-test.csv"));
    SettingsSweep.Latency(sts, 2, Console.Out, Console.Error, args.Length > 1 ? args[1] : null);
    return 0;
}
if (args is ["profile", var precisionText, ..])
{
    // profile float32|int8 [single|keywords|paragraphs]: sentences in batches of 64 on 2 threads (default), one sentence per run,
    // or the keywords in batches of 64 on one thread (what each batch worker runs).
    string sts = Path.GetFullPath(Path.Combine(FindRepoRoot(), "..", "shared", "data", "stsbenchmark", "sts-test.csv"));
    string flavour = args.Length > 2 ? args[2] : "sentences";
    var texts = Workloads.DistinctSentences(sts);
    if (flavour == "keywords") texts = [.. Workloads.Keywords(texts, t => new long[t.Split(' ').Length + 2]).Texts];
    // paragraphs: the benchmark's ~244-token paragraphs, 32 per run (KeyEmbed's 8,192-token budget at 256 tokens).
    if (flavour == "paragraphs") texts = [.. Workloads.Paragraphs(texts, FastBertTokenize().Tokenize).Texts];
    Profile.Run(texts, precisionText == "int8" ? KeyEmbed.Architectures.ComputePrecision.Int8 : KeyEmbed.Architectures.ComputePrecision.Float32,
        flavour == "keywords" ? 1 : 2, Console.Out, flavour switch { "single" => 1, "paragraphs" => 32, _ => 64 });
    return 0;
}
if (args is ["low-precision"])
{
    LowPrecisionProbe.Run(Console.Out);
    return 0;
}
if (args is ["ceiling"])
{
    // The hardware as ONNX Runtime reaches it: MatMul GFLOP/s on 1 and 2 threads, and the linear layers' floor per row count.
    foreach (int t in new[] { 1, 2 })
        foreach (int rows in new[] { 256, 2048 })
        {
            var (gflops, shape) = MatMulCeiling.Measure(t, rows, 384, 1536, TimeSpan.FromMilliseconds(500), 5);
            Console.WriteLine($"{t} thread(s) {shape}: {gflops:F0} GFLOP/s");
        }
    foreach (bool fused in new[] { false, true })
        Console.WriteLine($"2 threads, the whole {(fused ? "fused" : "plain")} pooled graph on one 5-token text, ORT's Run alone: median {Profile.RunOnlyMs(fused, 2, 5):F3} ms (300 runs)");
    foreach (int t in new[] { 1, 2 })
        foreach (int rows in new[] { 1, 3, 5, 7, 64 })
        {
            var (fastest, median) = MatMulCeiling.LinearLayersFloorMs(t, rows, 200);
            Console.WriteLine($"{t} thread(s), the 24 linear layers on {rows} row(s): fastest {fastest:F3} ms, median {median:F3} ms (200 runs)");
        }
    return 0;
}
if (args is ["int8-forms", ..])
{
    // int8-forms [repetitions]: every int8 form against float32, speed and accuracy (docs/performance.md, "int8 forms").
    string sts = Path.GetFullPath(Path.Combine(FindRepoRoot(), "..", "shared", "data", "stsbenchmark", "sts-test.csv"));
    Int8Forms.Run(sts, 2, Console.Out, Console.Error, args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 3);
    return 0;
}
if (args is ["int8-accuracy"])
{
    string sts = Path.GetFullPath(Path.Combine(FindRepoRoot(), "..", "shared", "data", "stsbenchmark", "sts-test.csv"));
    Int8Accuracy.Run(sts, Console.Out);
    return 0;
}
if (args is ["stores", ..])
{
    // stores [--pg postgres://user@host:port/db] [--ingest 100000 (0: skip)] [--pipeline 10000] [--sizes 100000,1000000] [--queries 200] [--work DIR]
    //        [--breadths 10,256,1024,4096] [--add-threads 1] [--only f32,i8,pg] [--reuse] [--rescores 40,100] [--pipeline-only] [--tune 0.95] [--no-spin] [--expansion-add 128] [--vectors random|real]
    string? Value(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    if (Value("--expansion-add") is { } expansion) StoreBench.ExpansionAdd = int.Parse(expansion, System.Globalization.CultureInfo.InvariantCulture);
    var sizes = (Value("--sizes") ?? "100000,1000000").Split(',').Select(s => int.Parse(s, System.Globalization.CultureInfo.InvariantCulture)).ToList();
    StoreBench.Run(Path.GetFullPath(Path.Combine(FindRepoRoot(), "..", "shared", "data", "stsbenchmark")), Value("--pg"),
        int.Parse(Value("--ingest") ?? "100000", System.Globalization.CultureInfo.InvariantCulture),
        int.Parse(Value("--pipeline") ?? "10000", System.Globalization.CultureInfo.InvariantCulture), sizes,
        int.Parse(Value("--queries") ?? "200", System.Globalization.CultureInfo.InvariantCulture),
        Value("--work") ?? Path.Combine(Path.GetTempPath(), "keyembed-store-bench"), Console.Out,
        Value("--breadths")?.Split(',').Select(s => int.Parse(s, System.Globalization.CultureInfo.InvariantCulture)).ToList(),
        int.Parse(Value("--add-threads") ?? "1", System.Globalization.CultureInfo.InvariantCulture),
        Value("--only")?.Split(',').ToHashSet(), args.Contains("--reuse"),
        Value("--rescores")?.Split(',').Select(s => int.Parse(s, System.Globalization.CultureInfo.InvariantCulture)).ToList(),
        args.Contains("--pipeline-only"), Value("--tune") is { } tune ? double.Parse(tune, System.Globalization.CultureInfo.InvariantCulture) : null,
        spin: !args.Contains("--no-spin"), realVectors: Value("--vectors") == "real");
    return 0;
}
if (args is ["memory", var countText])
{
    string sts = Path.GetFullPath(Path.Combine(FindRepoRoot(), "..", "shared", "data", "stsbenchmark", "sts-test.csv"));
    MemoryProbe.Run(Workloads.DistinctSentences(sts), int.Parse(countText, System.Globalization.CultureInfo.InvariantCulture), 2, Console.Out);
    return 0;
}
const string Usage = "usage: dotnet run -c Release --project bench/KeyEmbed.Bench -- [--quick] [--write-docs] [--threads N] [--data sts-test.csv]";
for (int i = 0; i < args.Length; i++)
{
    if (args[i] is "--quick" or "--write-docs") continue;
    if (args[i] is "--threads" or "--data" && i + 1 < args.Length) { i++; continue; }
    Console.Error.WriteLine($"unknown or incomplete option '{args[i]}'\n{Usage}");
    return 2;
}
bool quick = args.Contains("--quick");
bool writeDocs = args.Contains("--write-docs");
int threads = int.Parse(OptionValue("--threads") ?? "2", System.Globalization.CultureInfo.InvariantCulture);
string repoRoot = FindRepoRoot();
string dataPath = OptionValue("--data") ?? Path.GetFullPath(Path.Combine(repoRoot, "..", "shared", "data", "stsbenchmark", "sts-test.csv"));

var log = Console.Error;
log.WriteLine($"data: {dataPath}; threads: {threads}; {(quick ? "quick" : "full")} run");

// Tokenization for the peers is pluggable (ids with [CLS]/[SEP]); FastBertTokenizer over the built-in vocabulary.
var (tokenize, tokenizerName) = FastBertTokenize();

var sentences = Workloads.DistinctSentences(dataPath);
var workloads = new List<Workload>
{
    Workloads.Keywords(sentences, tokenize),
    Workloads.Sentences(sentences, tokenize),
    Workloads.Paragraphs(sentences, tokenize),
};
// Quick runs keep every sentence (the sorted-batch peer does them in seconds) so the answers are still checked
// against all golden vectors and the STS Spearman; the other workloads and the slow peer are cut short.
if (quick) workloads = [workloads[0].Take(200), workloads[1], workloads[2].Take(8)];
foreach (var w in workloads) log.WriteLine($"workload {w.Name}: {w.Texts.Count} texts, {w.MeanTokens:F1} tokens on average, max {w.TokenCounts.Max()}");

var settings = quick
    ? new HarnessSettings(WarmUps: 1, Repetitions: 2, LatencyKeywords: 40, LatencyWarmUps: 5, ClassicPeerTextCap: 200)
    : new HarnessSettings(WarmUps: 1, Repetitions: 3, LatencyKeywords: 300, LatencyWarmUps: 20, ClassicPeerTextCap: 512);

string loadBefore = LoadAverage();
// Two row counts: a batch of short texts (256 token rows) and one of paragraphs (2048); the faster one is the ceiling.
(double Gflops, string Shape) Ceiling() => new[] { 256, 2048 }
    .Select(rows => MatMulCeiling.Measure(threads, rows, 384, 1536, TimeSpan.FromMilliseconds(quick ? 200 : 500), quick ? 3 : 5))
    .MaxBy(c => c.GflopsPerSecond);
var (ceilingBefore, shapeBefore) = Ceiling();
log.WriteLine($"MatMul ceiling {shapeBefore}: {ceilingBefore:F0} GFLOP/s");

using var baselines = new OrtBaselines(BuiltInModels.ReadMiniLmResource(BuiltInModels.MiniLmModelResource), tokenize, threads);
log.WriteLine($"original graph: {baselines.Describe()}");
var engines = new List<Engine> { baselines.SortedBatches(), baselines.PadTo128() };
engines.Add(Candidate.Create(threads));
engines.Add(Candidate.Create(threads, new KeyEmbed.KeyEmbedModelOptions { ComputePrecision = KeyEmbed.Architectures.ComputePrecision.Int8 }, Candidate.Int8Name));

var harness = new Harness(engines, settings, log);
var throughput = harness.MeasureThroughput(workloads);
var latency = harness.MeasureSingleKeyword(workloads[0]);

// Same answers? Each engine's sentence vectors against the reference vectors of golden/minilm-sts-test.
var goldenCheck = new Dictionary<string, (double MinCosine, int Compared)>();
if (GoldenVectors.TryLoad(Path.GetFullPath(Path.Combine(repoRoot, "..", "shared", "golden", "minilm-sts-test"))) is { } golden)
    foreach (var engine in engines)
        goldenCheck[engine.Name] = golden.Compare(workloads[1].Texts, harness.LastVectors[(engine.Name, "sentences")]);

// The ceiling is measured again at the end; the higher figure is the hardware's (a busy machine only lowers it).
var (ceilingAfter, shapeAfter) = Ceiling();
log.WriteLine($"MatMul ceiling again {shapeAfter}: {ceilingAfter:F0} GFLOP/s");
double ceiling = Math.Max(ceilingBefore, ceilingAfter);
string ceilingShape = ceilingAfter > ceilingBefore ? shapeAfter : shapeBefore;
string loadAfter = LoadAverage();

var facts = new RunFacts($"{cpu.Model} ({cpu.Kind})", Environment.ProcessorCount, threads, OrtEnv.Instance().GetVersionString(), quick,
    settings, ceiling, ceilingShape, workloads, tokenizerName,
    $"ceiling {ceilingBefore:F0} GFLOP/s at the start, {ceilingAfter:F0} at the end; load average {loadBefore} at the start, {loadAfter} at the end");
// With every test sentence embedded (full run), the reference engine's STS Spearman doubles as a check of its answers.
string? stsLine = null;
var sentenceVectors = workloads[1].Texts.Select((t, i) => (t, i)).ToDictionary(p => p.t, p => harness.LastVectors[(engines[0].Name, "sentences")][p.i]);
var pairs = KeyEmbed.Evaluation.StsBenchmark.Read(dataPath);
string Collapse(string s) => string.Join(' ', s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
if (pairs.All(p => sentenceVectors.ContainsKey(Collapse(p.Sentence1)) && sentenceVectors.ContainsKey(Collapse(p.Sentence2))))
{
    var sts = KeyEmbed.Evaluation.StsBenchmark.Evaluate(pairs, texts => [.. texts.Select(t => sentenceVectors[Collapse(t)])]);
    stsLine = $"STS Benchmark test Spearman × 100 from the {engines[0].Name} sentence vectors: {sts.Spearman * 100:F2} over {sts.Pairs} pairs (published for all-MiniLM-L6-v2: 82.03, MTEB).";
}
// int8 against float32 on the same sentences: STS Spearman of each KeyEmbed engine and the cosine between them.
var spearman = new Dictionary<string, double>();
foreach (var name in new[] { Candidate.Name, Candidate.Int8Name })
{
    var byText = workloads[1].Texts.Select((t, i) => (t, i)).ToDictionary(p => p.t, p => harness.LastVectors[(name, "sentences")][p.i]);
    if (!pairs.All(p => byText.ContainsKey(Collapse(p.Sentence1)) && byText.ContainsKey(Collapse(p.Sentence2)))) continue;
    var sts = KeyEmbed.Evaluation.StsBenchmark.Evaluate(pairs, texts => [.. texts.Select(t => byText[Collapse(t)])]);
    spearman[name] = sts.Spearman;
    stsLine = (stsLine ?? "") + $"\nSTS Benchmark test Spearman × 100 from the {name} sentence vectors: {sts.Spearman * 100:F2}.";
}
(double Mean, double Lowest) int8Cosine;
{
    var fp32 = harness.LastVectors[(Candidate.Name, "sentences")];
    var int8 = harness.LastVectors[(Candidate.Int8Name, "sentences")];
    var cosines = fp32.Select((v, i) => KeyEmbed.Evaluation.StsBenchmark.Cosine(v, int8[i])).ToArray();
    stsLine = (stsLine ?? "") + $"\nint8 vs float32 sentence vectors ({cosines.Length} sentences): mean cosine {cosines.Average():F4}, lowest {cosines.Min():F4}, " +
        $"{cosines.Count(c => c >= 0.99) * 100.0 / cosines.Length:F1}% at or above 0.99.";
    int8Cosine = (cosines.Average(), cosines.Min());
}
string table = Report.Markdown(facts, throughput, latency, goldenCheck, [.. engines.Select(e => e.Name)]);
if (stsLine != null) table += "\n" + stsLine + "\n";
table += "\n" + Report.Targets(throughput, latency, [.. engines.Select(e => e.Name)], int8Cosine,
    spearman.Count == 2 ? (spearman[Candidate.Name], spearman[Candidate.Int8Name]) : null);
Console.WriteLine(table);
if (writeDocs)
{
    string docs = Path.Combine(repoRoot, "docs", "benchmarks.md");
    Directory.CreateDirectory(Path.GetDirectoryName(docs)!);
    string chartFile = Report.ChartFileName(cpu);
    string chart = Path.Combine(repoRoot, "docs", chartFile);
    Chart.Write(chart, throughput, [.. engines.Select(e => e.Name)], [.. workloads.Select(w => w.Name)],
        $"all-MiniLM-L6-v2, {threads} threads, {facts.Machine}, {DateTime.UtcNow:yyyy-MM-dd}{(quick ? " (quick run)" : "")}");
    log.WriteLine($"wrote {chart}");
    File.WriteAllText(docs, Report.Docs(File.Exists(docs) ? File.ReadAllText(docs) : null, cpu, table,
        "dotnet run -c Release --project bench/KeyEmbed.Bench -- " + string.Join(' ', args), chartFile));
    log.WriteLine($"wrote {docs}");
}
return 0;

string? OptionValue(string name)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

// 1-, 5- and 15-minute load averages: on a shared machine they say how much to trust the figures.
static string LoadAverage() =>
    File.Exists("/proc/loadavg") ? string.Join(" / ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";

static string FindRepoRoot()
{
    foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "KeyEmbed.slnx"))) return dir.FullName;
    throw new InvalidOperationException("KeyEmbed.slnx not found above the current or the program's directory");
}

static (Func<string, long[]> Tokenize, string Name) FastBertTokenize()
{
    var tokenizer = new BertTokenizer();
    using var vocab = new StringReader(System.Text.Encoding.UTF8.GetString(BuiltInModels.ReadMiniLmResource(BuiltInModels.MiniLmVocabResource)));
    tokenizer.LoadVocabulary(vocab, convertInputToLowercase: true);
    // Encode returns views of a buffer the tokenizer reuses, so copy them out.
    return (text => tokenizer.Encode(text, maximumTokens: 512).InputIds.ToArray(), "FastBertTokenizer 1.2.6 (built-in vocab)");
}
