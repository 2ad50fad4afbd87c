using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using KeyEmbed.Stores;
using KeyEmbed.Stores.Folder;
using KeyEmbed.Stores.Postgres;
using Npgsql;
using Pgvector;

namespace KeyEmbed.Bench;

/// <summary>
/// <c>-- stores [--pg URL] [--ingest N] [--pipeline N] [--sizes 100000,1000000] [--queries Q] [--work DIR]</c>: what the vector stores
/// cost. (1) Ingestion of N keywords (n-grams of the STS sentences) into each store: the model's time (measured once,
/// the same vectors then go through each store's chunked write path) and the store's time; then, on a sample, the
/// real `index` path (store writes overlapped with the next chunk's embedding) against the model alone. (2) Search over random unit
/// vectors of the model's width: queries/s and p50/p99 of one query (store alone, and with embedding one keyword),
/// recall@10 against brute force, memory and disk per million vectors; USearch float32 and int8 (folder store) and
/// pgvector. Not a test: the machine is shared, figures say so.
/// </summary>
internal static class StoreBench
{
    private const int Width = 384;

    // Every folder store names its index precision (the default changed to int8 on 2026-12-05; a bench row called
    // float32 must be one). --expansion-add sets the graph's insert breadth (USearch's default 128).
    internal static int? ExpansionAdd { get; set; }

    private static FolderStoreOptions Options(string precision) =>
        ExpansionAdd is { } expansion ? new FolderStoreOptions { IndexPrecision = precision, ExpansionAdd = expansion } : new FolderStoreOptions { IndexPrecision = precision };

    public static void Run(string stsFolder, string? pg, int ingest, int pipelineSample, IReadOnlyList<int> sizes, int queries, string work, TextWriter output,
        IReadOnlyList<int>? breadths = null, int addThreads = 1, IReadOnlySet<string>? only = null, bool reuse = false, IReadOnlyList<int>? rescores = null, bool pipelineOnly = false, double? tune = null, bool spin = true, bool realVectors = false)
    {
        breadths ??= [10, 256, FolderStoreOptions.DefaultSearchBreadth, 4096];
        bool Wanted(string key) => only is null || only.Contains(key);
        Directory.CreateDirectory(work);
        output.WriteLine($"machine: {Environment.ProcessorCount} logical CPUs ({CpuModel()}), shared with other builds and tests (load average {LoadAverage()}); {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC; figures are indicative");
        using var model = KeyEmbedModel.Load("minilm", new KeyEmbedModelOptions { CacheBytes = 0, AllowSpinning = spin });
        if (!spin) output.WriteLine("ONNX Runtime's intra-op threads do not spin (--no-spin)");
        var profile = StoreProfile.Of(model);

        // (1) Ingestion (skipped with --ingest 0).
        var keywords = Keywords(stsFolder, Math.Max(ingest, queries));
        if (ingest > 0 && !pipelineOnly) Ingestion(model, profile, stsFolder, pg, keywords, queries, work, output, Wanted, breadths, tune);
        if (ingest > 0) Pipelined(model, profile, pg, keywords, pipelineSample, work, output, Wanted);
        RandomSearch(model, profile, pg, keywords, sizes, queries, work, output, breadths, addThreads, Wanted, reuse, rescores ?? [0], tune,
            realVectors ? stsFolder : null);
    }

    private static void Ingestion(KeyEmbedModel model, StoreProfile profile, string stsFolder, string? pg, List<string> keywords, int queries, string work,
        TextWriter output, Func<string, bool> Wanted, IReadOnlyList<int> breadths, double? tune)
    {
        output.WriteLine($"ingestion: {keywords.Count:N0} distinct keywords (1–3-word n-grams of the STS Benchmark sentences)");
        model.Embed(keywords.Take(256).ToList());
        var clock = Stopwatch.StartNew();
        var vectors = new List<float[]>(keywords.Count);
        foreach (var chunk in keywords.Chunk(1024)) vectors.AddRange(model.Embed(chunk).Vectors);
        double embedSeconds = clock.Elapsed.TotalSeconds;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  model alone: {embedSeconds:F1} s = {keywords.Count / embedSeconds:F0} keywords/s (minilm float32, {Environment.ProcessorCount} threads)"));
        var byText = keywords.Select((k, i) => (k, i)).ToDictionary(p => p.k, p => vectors[p.i]);
        IReadOnlyList<float[]> Lookup(IReadOnlyList<string> texts) => [.. texts.Select(t => byText[t])];
        string pgIngest = $"{pg}?table=bench_ingest_{Environment.ProcessId}";
        var stores = new List<(string Name, Func<IVectorStore> Open, Func<IVectorStore> Read)>();
        if (Wanted("f32")) stores.Add(("USearch float32 (folder)", () => FolderStore.Open(Path.Combine(work, "ingest-f32"), StoreAccess.Write, Options("float32")),
                () => FolderStore.Open(Path.Combine(work, "ingest-f32"), StoreAccess.Read)));
        if (Wanted("i8")) stores.Add(("USearch int8 (folder)", () => FolderStore.Open(Path.Combine(work, "ingest-i8"), StoreAccess.Write, Options("int8")),
                () => FolderStore.Open(Path.Combine(work, "ingest-i8"), StoreAccess.Read)));
        if (pg is not null && Wanted("pg")) stores.Add(("pgvector", () => PgVectorStore.Open(pgIngest, StoreAccess.Write, bulkLoad: true), () => PgVectorStore.Open(pgIngest, StoreAccess.Read)));
        // Real embeddings as queries: STS sentences (not keywords) against the stored keyword vectors.
        var sentences = Workloads.DistinctSentences(Path.Combine(stsFolder, "sts-test.csv")).Take(queries).ToList();
        var sentenceVectors = model.Embed(sentences).Vectors.ToList();
        var keywordTruth = sentenceVectors.Select(q => ExactTop(vectors, q, 10)).ToList();
        foreach (var (name, open, read) in stores)
        {
            clock.Restart();
            double storeSeconds = 0;
            using (var store = open())
            {
                store.Claim(profile, "bench");
                foreach (var chunk in keywords.Chunk(1024))
                {
                    var items = chunk.Select(k => new StoreItem(VectorStores.ContentId(k), k)).ToList();
                    storeSeconds += StoreWriter.Add(store, items, Lookup).StoreSeconds;
                }
                if (store is PgVectorStore table) table.BuildIndex(); // as `index` does at the end
            }
            storeSeconds = clock.Elapsed.TotalSeconds; // including the final index save and close
            double total = embedSeconds + storeSeconds;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {name}: store {storeSeconds:F1} s; embed + store {total:F1} s = {keywords.Count / total:F0} keywords/s; outside the model {100 * storeSeconds / total:F1} % (store adds {100 * storeSeconds / embedSeconds:F1} % to embedding time)"));
            if (tune is { } target)
                using (var store = open()) Tune(store, target, total, output);
            var position = keywords.Select((k, i) => (Id: VectorStores.ContentId(k), i)).ToDictionary(p => p.Id, p => p.i);
            // Real embeddings at the default breadth and, for the folder stores, the bench's other breadths.
            foreach (int? breadth in name.StartsWith("USearch", StringComparison.Ordinal) ? [null, .. breadths.Select(b => (int?)b)] : new int?[] { null })
            {
                using var reader = breadth is { } b ? FolderStore.Open(Path.Combine(work, name.Contains("int8", StringComparison.Ordinal) ? "ingest-i8" : "ingest-f32"), StoreAccess.Read, new FolderStoreOptions { SearchBreadth = b }) : read();
                int hitCount = 0;
                var times = new List<double>();
                for (int q = 0; q < sentenceVectors.Count; q++)
                {
                    var watch = Stopwatch.StartNew();
                    var hits = reader.Search(sentenceVectors[q], 10);
                    times.Add(watch.Elapsed.TotalMilliseconds);
                    hitCount += hits.Count(h => keywordTruth[q].Contains(position[h.Id]));
                }
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"    real embeddings, {(breadth is null ? "default breadth" : $"breadth {breadth}")}: {sentenceVectors.Count} STS sentences searched among the {keywords.Count:N0} stored keywords: recall@10 {(double)hitCount / (10 * sentenceVectors.Count):F4}, one query p50 {Percentile(times, 50):F2} ms, p99 {Percentile(times, 99):F2} ms (store alone)"));
                output.Flush();
            }
        }

    }

    private static void Pipelined(KeyEmbedModel model, StoreProfile profile, string? pg, List<string> keywords, int pipelineSample, string work,
        TextWriter output, Func<string, bool> Wanted)
    {
        model.Embed(keywords.Take(256).ToList()); // warm
        // (1b) As `index` runs: the model embedding chunk k+1 while the store writes chunk k (StoreWritePipeline), on a
        // sample, against the model alone on the same sample (measured before and after, the mean taken).
        if (pipelineSample > 0)
        {
            var sample = keywords.Take(pipelineSample).ToList();
            double ModelAlone()
            {
                var watch = Stopwatch.StartNew();
                foreach (var chunk in sample.Chunk(1024)) model.Embed(chunk);
                return watch.Elapsed.TotalSeconds;
            }
            double aloneBefore = ModelAlone();
            var runs = new List<(string Name, double Wall, double Waited)>();
            string pgPipe = $"{pg}?table=bench_pipe_{Environment.ProcessId}";
            var pipeStores = new List<(string Name, Func<IVectorStore> Open)>();
            if (Wanted("f32")) pipeStores.Add(("USearch float32 (folder)", () => FolderStore.Open(Path.Combine(work, "pipe-f32"), StoreAccess.Write, Options("float32"))));
            if (Wanted("i8")) pipeStores.Add(("USearch int8 (folder)", () => FolderStore.Open(Path.Combine(work, "pipe-i8"), StoreAccess.Write, Options("int8"))));
            if (pg is not null && Wanted("pg")) pipeStores.Add(("pgvector", () => PgVectorStore.Open(pgPipe, StoreAccess.Write, bulkLoad: true)));
            foreach (var (name, open) in pipeStores)
            {
                var watch = Stopwatch.StartNew();
                double waited;
                using (var store = open())
                {
                    store.Claim(profile, "bench");
                    using var pipeline = new StoreWritePipeline(store, texts => model.Embed(texts).Vectors);
                    foreach (var chunk in sample.Chunk(1024)) pipeline.Add([.. chunk.Select(k => new StoreItem(VectorStores.ContentId(k), k))]);
                    pipeline.Finish();
                    waited = pipeline.WaitSeconds;
                    if (store is PgVectorStore table) table.BuildIndex();
                }
                runs.Add((name, watch.Elapsed.TotalSeconds, waited));
            }
            double alone = (aloneBefore + ModelAlone()) / 2;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"pipelined as `index` runs, {sample.Count:N0} keywords: model alone {alone:F1} s ({sample.Count / alone:F0} keywords/s, mean of a run before and after)"));
            foreach (var (name, wall, waited) in runs)
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {name}: embed + store {wall:F1} s = {sample.Count / wall:F0} keywords/s; store adds {100 * (wall - alone) / alone:F1} % to the model's time (waiting for writes {waited:F1} s)"));
            output.Flush();
        }

    }

    // (2) Search over random unit vectors, or (--vectors real: realSts is the STS folder) over the model's embeddings of
    // distinct phrases, queried by STS test sentences that are not among them.
    private static void RandomSearch(KeyEmbedModel model, StoreProfile profile, string? pg, List<string> keywords, IReadOnlyList<int> sizes, int queries, string work,
        TextWriter output, IReadOnlyList<int> breadths, int addThreads, Func<string, bool> Wanted, bool reuse, IReadOnlyList<int> rescores, double? tune,
        string? realSts = null)
    {
        var clock = new Stopwatch();
        var random = new Random(12345);
        var queryTexts = keywords.Take(queries).ToList();
        foreach (int size in sizes.Where(s => s > 0))
        {
            float[][] data;
            List<float[]> queryVectors;
            if (realSts is null)
            {
                data = new float[size][];
                for (int i = 0; i < size; i++) data[i] = RandomUnit(random);
                queryVectors = [.. Enumerable.Range(0, queries).Select(_ => RandomUnit(random))];
                output.WriteLine($"search over {size:N0} random unit vectors of {Width} dimensions, {queries} queries, top 10:");
            }
            else
            {
                queryTexts = [.. Workloads.DistinctSentences(Path.Combine(realSts, "sts-test.csv")).Take(queries)];
                data = RealPhraseVectors(model, realSts, size, queryTexts.ToHashSet(StringComparer.OrdinalIgnoreCase), work, output);
                queryVectors = [.. model.Embed(queryTexts).Vectors];
                output.WriteLine($"search over the model's embeddings of {size:N0} distinct phrases (1–16-word n-grams of the STS train and dev sentences and of each pair joined), {queries} STS test sentences as queries, top 10:");
            }
            var truth = queryVectors.Select(q => ExactTop(data, q, 10)).ToList();
            string kind = realSts is null ? "s" : "r"; // store folders of random and real vectors apart (--reuse)
            var targets = new List<(string Name, Func<IVectorStore> Create, Func<IVectorStore> Reopen, Func<long> Disk)>();
            if (Wanted("f32")) targets.Add(("USearch float32", () => FolderStore.Open(Path.Combine(work, $"{kind}{size}-f32"), StoreAccess.Write, Options("float32") with { AddThreads = addThreads }),
                    () => FolderStore.Open(Path.Combine(work, $"{kind}{size}-f32"), StoreAccess.Read), () => FolderBytes(Path.Combine(work, $"{kind}{size}-f32"))));
            if (Wanted("i8")) targets.Add(("USearch int8", () => FolderStore.Open(Path.Combine(work, $"{kind}{size}-i8"), StoreAccess.Write, Options("int8") with { AddThreads = addThreads }),
                    () => FolderStore.Open(Path.Combine(work, $"{kind}{size}-i8"), StoreAccess.Read), () => FolderBytes(Path.Combine(work, $"{kind}{size}-i8"))));
            if (pg is not null && Wanted("pg"))
            {
                string location = $"{pg}?table=bench_{size}_{Environment.ProcessId}";
                targets.Add(("pgvector", () => PgVectorStore.Open(location, StoreAccess.Write, bulkLoad: true), () => PgVectorStore.Open(location, StoreAccess.Read),
                    () => PgBytes(location)));
            }
            foreach (var (name, create, reopen, disk) in targets)
            {
                clock.Restart();
                bool reused = false;
                if (reuse && name.StartsWith("USearch", StringComparison.Ordinal))
                {
                    // --reuse: a folder store of this size from an earlier run with the same seed holds the same vectors.
                    try { using var existing = reopen(); reused = existing.Count() == size; }
                    catch (KeyEmbedException) { }
                }
                if (!reused)
                using (var store = create())
                {
                    store.Claim(profile, "bench");
                    for (int start = 0; start < size; start += 4096)
                    {
                        int count = Math.Min(4096, size - start);
                        store.Add([.. Enumerable.Range(start, count).Select(i => new StoreItem("v" + i, "v" + i))], data[start..(start + count)]);
                    }
                    if (store is PgVectorStore table) table.BuildIndex();
                }
                double build = clock.Elapsed.TotalSeconds;
                if (name.StartsWith("USearch", StringComparison.Ordinal))
                {
                    // Recall and time against the search breadth (the default is FolderStoreOptions.DefaultSearchBreadth).
                    string folder = Path.Combine(work, name.EndsWith("int8", StringComparison.Ordinal) ? $"{kind}{size}-i8" : $"{kind}{size}-f32");
                    foreach (int breadth in breadths)
                    foreach (int rescore in name.EndsWith("int8", StringComparison.Ordinal) ? rescores : [0])
                    {
                        using var swept = FolderStore.Open(folder, StoreAccess.Read, new FolderStoreOptions { SearchBreadth = breadth, RescoreRows = rescore });
                        var times = new List<double>();
                        int got = 0;
                        for (int q = 0; q < queries; q++)
                        {
                            var watch = Stopwatch.StartNew();
                            var hits = swept.Search(queryVectors[q], 10);
                            times.Add(watch.Elapsed.TotalMilliseconds);
                            got += hits.Count(h => truth[q].Contains(int.Parse(h.Id.AsSpan(1), CultureInfo.InvariantCulture)));
                        }
                        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"    breadth {breadth}{(rescore > 0 ? $", rescoring {rescore}" : "")}: recall@10 {(double)got / (10 * queries):F4}, p50 {Percentile(times, 50):F2} ms, p99 {Percentile(times, 99):F2} ms"));
                    }
                }
                if (name == "pgvector")
                {
                    string location = $"{pg}?table=bench_{size}_{Environment.ProcessId}";
                    foreach (int ef in new[] { 40, 100, 400, 1000 })
                    {
                        var (recall, times) = PgSweep(location, ef, queryVectors, truth);
                        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"    hnsw.ef_search {ef}: recall@10 {recall:F4}, p50 {Percentile(times, 50):F2} ms, p99 {Percentile(times, 99):F2} ms"));
                    }
                }
                if (tune is { } target)
                    using (var store = create()) Tune(store, target, build, output);
                if (tune is { } givenTarget && realSts is not null)
                {
                    // What the midpoint tuning gives the real queries, then a tuning with 100 other STS test sentences
                    // (`tune --queries`), which the searches below then use.
                    using (var tuned = reopen())
                    {
                        var (recall, times) = RecallAndTimes(tuned, queryVectors, truth);
                        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"    with the midpoint tuning ({(tuned.SearchesExactly ? "scanning every row" : $"breadth {tuned.Tuning?.Breadth}")}): recall@10 {recall:F4}, p50 {Percentile(times, 50):F2} ms, p99 {Percentile(times, 99):F2} ms"));
                    }
                    var tuningTexts = Workloads.DistinctSentences(Path.Combine(realSts, "sts-test.csv")).Skip(queries).Take(SearchTuner.SampleSize).ToList();
                    using var store = create();
                    var clockGiven = Stopwatch.StartNew();
                    var given = store.TuneSearch(givenTarget, new StepWriter(output), [.. model.Embed(tuningTexts).Vectors]);
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"    tuned with {given.Queries} other STS test sentences as queries (target {givenTarget}): breadth {given.Breadth}, recall@10 {given.Recall:F4}, reached {given.Reached}; {clockGiven.Elapsed.TotalSeconds:F1} s; the searches below use it"));
                }
                long before = Process.GetCurrentProcess().WorkingSet64;
                using var reader = reopen();
                reader.Search(queryVectors[0], 10);
                long memory = Process.GetCurrentProcess().WorkingSet64 - before;
                var latencies = new List<double>();
                int found = 0;
                for (int q = 0; q < queries; q++)
                {
                    var watch = Stopwatch.StartNew();
                    var hits = reader.Search(queryVectors[q], 10);
                    latencies.Add(watch.Elapsed.TotalMilliseconds);
                    found += hits.Count(h => truth[q].Contains(int.Parse(h.Id.AsSpan(1), CultureInfo.InvariantCulture)));
                }
                // Brute force over every stored vector (search --exact), on a few queries: what a walk wider than this costs more than.
                var exactTimes = new List<double>();
                for (int q = 0; q < Math.Min(5, queries); q++)
                {
                    var watch = Stopwatch.StartNew();
                    reader.Search(queryVectors[q], 10, exact: true);
                    exactTimes.Add(watch.Elapsed.TotalMilliseconds);
                }
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    exact (brute force, {exactTimes.Count} queries): p50 {Percentile(exactTimes, 50):F1} ms"));
                var withModel = new List<double>();
                foreach (var text in queryTexts)
                {
                    var watch = Stopwatch.StartNew();
                    reader.Search(model.Embed([text]).Vectors[0], 10);
                    withModel.Add(watch.Elapsed.TotalMilliseconds);
                }
                long bytes = disk();
                double perMillion = 1_000_000.0 / size;
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {name}: {(reused ? "reused from an earlier run" : $"build {build:F0} s ({size / build:F0} vectors/s)")}; one query {1000 / latencies.Average():F0} queries/s, p50 {Percentile(latencies, 50):F2} ms, p99 {Percentile(latencies, 99):F2} ms; " +
                    $"with embedding {(realSts is null ? "one keyword" : "the query sentence")} p50 {Percentile(withModel, 50):F2} ms, p99 {Percentile(withModel, 99):F2} ms; recall@10 {(double)found / (10 * queries):F4}; " +
                    $"disk {bytes * perMillion / (1 << 20):F0} MiB per million; reader memory {(name == "pgvector" ? "in the server (see disk: index size)" : $"{memory * perMillion / (1 << 20):F0} MiB per million (working-set growth on opening)")}"));
                output.Flush();
            }
        }
    }

    private static (double Recall, List<double> Times) RecallAndTimes(IVectorStore store, List<float[]> queryVectors, List<HashSet<int>> truth)
    {
        var times = new List<double>();
        int found = 0;
        for (int q = 0; q < queryVectors.Count; q++)
        {
            var watch = Stopwatch.StartNew();
            var hits = store.Search(queryVectors[q], 10);
            times.Add(watch.Elapsed.TotalMilliseconds);
            found += hits.Count(h => truth[q].Contains(int.Parse(h.Id.AsSpan(1), CultureInfo.InvariantCulture)));
        }
        return ((double)found / (10 * queryVectors.Count), times);
    }

    // What `index` does at its end (IVectorStore.TuneSearch), timed against the build it follows; the search
    // measured after it walks the tuned breadth.
    private static void Tune(IVectorStore store, double target, double buildSeconds, TextWriter output)
    {
        var clock = Stopwatch.StartNew();
        var tuning = store.TuneSearch(target, new StepWriter(output));
        double seconds = clock.Elapsed.TotalSeconds;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"    tuned (target {target}): breadth {tuning.Breadth}, recall@10 {tuning.Recall:F4} on {tuning.Queries} queries between stored vectors, reached {tuning.Reached}; {seconds:F1} s ({100 * seconds / buildSeconds:F1} % of the {buildSeconds:F0} s before it)"));
        output.Flush();
    }

    private sealed class StepWriter(TextWriter output) : IProgress<SearchTuningStep>
    {
        public void Report(SearchTuningStep step) => output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"      tuning: breadth {step.Breadth}: recall@10 {step.Recall:F4}{(step.GaveUp ? " (gave up early)" : "")}, {step.Seconds:F1} s"));
    }

    // pgvector at a given hnsw.ef_search (PgVectorStore.Search sets max(100, 2 x top)): recall@10 and time of one query.
    private static (double Recall, List<double> Times) PgSweep(string location, int efSearch, List<float[]> queries, List<HashSet<int>> truth)
    {
        var (builder, table, _) = PgVectorStore.Parse(location);
        var sourceBuilder = new Npgsql.NpgsqlDataSourceBuilder(builder.ConnectionString);
        sourceBuilder.UseVector();
        using var source = sourceBuilder.Build();
        using var connection = source.OpenConnection();
        using (var set = new Npgsql.NpgsqlCommand($"SET hnsw.ef_search = {efSearch}; SET enable_seqscan = off", connection)) set.ExecuteNonQuery();
        var times = new List<double>();
        int found = 0;
        for (int q = 0; q < queries.Count; q++)
        {
            var watch = Stopwatch.StartNew();
            using var command = new Npgsql.NpgsqlCommand($"SELECT id FROM {table} ORDER BY embedding <=> $1 LIMIT 10", connection);
            command.Parameters.AddWithValue(new Pgvector.Vector(queries[q]));
            using var reader = command.ExecuteReader();
            while (reader.Read()) found += truth[q].Contains(int.Parse(reader.GetString(0).AsSpan(1), CultureInfo.InvariantCulture)) ? 1 : 0;
            times.Add(watch.Elapsed.TotalMilliseconds);
        }
        return ((double)found / (10 * queries.Count), times);
    }

    private static List<string> Keywords(string stsFolder, int count)
    {
        var words = new List<string[]>();
        foreach (var file in Directory.GetFiles(stsFolder, "sts-*.csv"))
            foreach (var line in File.ReadLines(file))
            {
                var fields = line.Split('\t');
                foreach (var sentence in fields.Skip(5).Take(2))
                    words.Add([.. sentence.ToLowerInvariant().Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(w => w.Trim('.', ',', '"', '\'', '?', '!', ';', ':', '(', ')')).Where(w => w.Length > 0)]);
            }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var keywords = new List<string>(count);
        for (int n = 1; n <= 3 && keywords.Count < count; n++)
            foreach (var sentence in words)
                for (int i = 0; i + n <= sentence.Length && keywords.Count < count; i++)
                {
                    string keyword = string.Join(' ', sentence.Skip(i).Take(n));
                    if (seen.Add(keyword)) keywords.Add(keyword);
                }
        return keywords;
    }

    private static float[] RandomUnit(Random random)
    {
        var v = new float[Width];
        for (int i = 0; i < Width; i++)
        {
            // Box–Muller: normal components give directions uniform on the sphere.
            double u = 1 - random.NextDouble(), w = random.NextDouble();
            v[i] = (float)(Math.Sqrt(-2 * Math.Log(u)) * Math.Cos(2 * Math.PI * w));
        }
        float norm = TensorPrimitives.Norm(v);
        TensorPrimitives.Divide(v, norm, v);
        return v;
    }

    // The model's vectors of `size` distinct phrases, cached in the work folder (a million take a quarter of an hour
    // to embed here): word n-grams of 1 to 16 words of every sentence of the STS train and dev files, then n-grams
    // that cross from a pair's first sentence into its second, lowercased and trimmed of punctuation as Keywords does.
    // The test file's sentences are the queries and none of their pairs is cut up here, so a query's own fragments are
    // not what it finds (with them in the store, a walk of 64 found 0.995 of the top 10 at a million).
    private static float[][] RealPhraseVectors(KeyEmbedModel model, string stsFolder, int size, HashSet<string> excluded, string work, TextWriter output)
    {
        string cache = Path.Combine(work, $"phrases-{size}.f32");
        var data = new float[size][];
        if (File.Exists(cache) && new FileInfo(cache).Length == (long)size * Width * sizeof(float))
        {
            using var stream = File.OpenRead(cache);
            for (int i = 0; i < size; i++)
            {
                data[i] = new float[Width];
                stream.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data[i].AsSpan()));
            }
            output.WriteLine($"  phrase vectors read from {cache}");
            return data;
        }
        static string[] Words(string sentence) => [.. sentence.ToLowerInvariant().Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(w => w.Trim('.', ',', '"', '\'', '?', '!', ';', ':', '(', ')')).Where(w => w.Length > 0)];
        var pairs = new List<(string[] First, string[] Second)>();
        foreach (var file in new[] { "sts-train.csv", "sts-dev.csv" }.Select(name => Path.Combine(stsFolder, name)))
            foreach (var line in File.ReadLines(file))
                if (line.Split('\t') is { Length: >= 7 } fields) pairs.Add((Words(fields[5]), Words(fields[6])));
        var seen = new HashSet<string>(excluded.Select(text => string.Join(' ', Words(text))), StringComparer.Ordinal);
        var phrases = new List<string>(size);
        void Take(string[] words, int n, int minStart, int maxStart)
        {
            for (int i = minStart; i <= maxStart && i + n <= words.Length && phrases.Count < size; i++)
                if (seen.Add(string.Join(' ', words, i, n))) phrases.Add(string.Join(' ', words, i, n));
        }
        for (int n = 1; n <= 16 && phrases.Count < size; n++)
            foreach (var (first, second) in pairs) { Take(first, n, 0, first.Length); Take(second, n, 0, second.Length); }
        for (int n = 2; n <= 16 && phrases.Count < size; n++)
            foreach (var (first, second) in pairs)
            {
                string[] joined = [.. first, .. second];
                Take(joined, n, Math.Max(0, first.Length - n + 1), first.Length - 1);
            }
        if (phrases.Count < size) throw new InvalidOperationException($"the STS sentences give only {phrases.Count:N0} distinct phrases, fewer than {size:N0}");
        var clock = Stopwatch.StartNew();
        int done = 0;
        using (var stream = File.Create(cache + ".part"))
            foreach (var chunk in phrases.Chunk(4096))
            {
                foreach (var vector in model.Embed(chunk).Vectors)
                {
                    data[done++] = vector;
                    stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(vector.AsSpan()));
                }
                if (done % (64 * 4096) == 0) output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  embedded {done:N0} phrases, {clock.Elapsed.TotalSeconds:F0} s"));
            }
        File.Move(cache + ".part", cache, overwrite: true);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  embedded {size:N0} phrases ({phrases.Average(p => p.Split(' ').Length):F1} words on average) in {clock.Elapsed.TotalSeconds:F0} s = {size / clock.Elapsed.TotalSeconds:F0} phrases/s"));
        return data;
    }

    private static HashSet<int> ExactTop(IReadOnlyList<float[]> data, float[] query, int k)
    {
        var best = new PriorityQueue<int, float>();
        for (int i = 0; i < data.Count; i++)
        {
            float score = TensorPrimitives.Dot(data[i], query);
            if (best.Count < k) best.Enqueue(i, score);
            else if (best.TryPeek(out _, out float lowest) && score > lowest) best.EnqueueDequeue(i, score);
        }
        var result = new HashSet<int>();
        while (best.TryDequeue(out int i, out _)) result.Add(i);
        return result;
    }

    private static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToList();
        return sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Count) - 1, 0, sorted.Count - 1)];
    }

    private static long FolderBytes(string folder) => Directory.GetFiles(folder).Sum(f => new FileInfo(f).Length);

    private static long PgBytes(string location)
    {
        var (builder, table, _) = PgVectorStore.Parse(location);
        using var connection = new Npgsql.NpgsqlConnection(builder.ConnectionString);
        connection.Open();
        using var command = new Npgsql.NpgsqlCommand($"SELECT pg_total_relation_size('{table}')", connection);
        return (long)command.ExecuteScalar()!;
    }

    private static string CpuModel()
    {
        try
        {
            var lines = File.ReadAllLines("/proc/cpuinfo");
            string model = lines.FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?";
            var flags = (lines.FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal))?.Split(':', 2)[1] ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
            return model + ", " + string.Join(" ", new[] { "avx2", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "amx_tile" }.Where(flags.Contains));
        }
        catch (IOException) { return "?"; }
    }

    private static string LoadAverage()
    {
        try { return File.ReadAllText("/proc/loadavg").Split(' ')[0]; }
        catch (IOException) { return "?"; }
    }
}
