using System.IO.Compression;
using System.Text;
using Google.Protobuf;
using KeyEmbed.Checkpoints.Safetensors;
using KeyEmbed.Embedding;

namespace KeyEmbed.Fuzz;

/// <summary>
/// Seed inputs per target, made at run time: small valid files from KeyEmbed's own writers and hand-made bytes, and
/// (when <c>../shared</c> is there) inputs assembled from its small reference files, which are read in place and
/// never copied into the repository.
/// </summary>
public static class Seeds
{
    public static IEnumerable<(string Target, string Name, byte[] Bytes)> All()
    {
        foreach (var (name, bytes) in Safetensors()) yield return ("safetensors", name, bytes);
        foreach (var (name, bytes) in TensorBundles()) yield return ("tensorbundle", name, bytes);
        var pickle = TorchPickle();
        yield return ("unpickler", "state-dict.pkl", pickle);
        yield return ("unpickler", "empty-dict.pkl", [0x80, 0x02, (byte)'}', (byte)'.']);
        yield return ("pytorch", "zip.bin", TorchZip(pickle));
        yield return ("onnx", "matmul-add.onnx", TinyOnnx());
        yield return ("sharded-index", "index.json", Encoding.UTF8.GetBytes(
            """{"metadata": {"total_size": 12}, "weight_map": {"a.weight": "model-00001-of-00002.safetensors", "b.weight": "model-00002-of-00002.safetensors"}}"""));
        yield return ("config", "bert.json", Encoding.UTF8.GetBytes(
            """{"model_type": "bert", "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 32, "vocab_size": 100, "max_position_embeddings": 64, "type_vocab_size": 2, "hidden_act": "gelu", "layer_norm_eps": 1e-12}"""));
        yield return ("config", "xlnet.json", Encoding.UTF8.GetBytes(
            """{"d_model": 16, "n_layer": 2, "n_head": 2, "d_head": 8, "d_inner": 32, "n_token": 100, "untie_r": true, "ff_activation": "gelu"}"""));
        yield return ("vocab", "vocab.txt", Encoding.UTF8.GetBytes("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n,\n!\nw\n##ö\n##rld\nun\n##aff\n##able\n"));
        yield return ("tokenizer-config", "tokenizer_config.json", Encoding.UTF8.GetBytes("""{"do_lower_case": false, "keep_accents": true, "model_max_length": 128}"""));
        foreach (var (i, text) in new[] { "Hello, wörld! unaffable", "人工智能 machine-learning 1,000.5", "naïve café\tÅngström\u00a0x\u200b", "a\0second text" }.Index())
        {
            yield return ("wordpiece", $"text{i}", Encoding.UTF8.GetBytes(text));
            yield return ("sentencepiece", $"text{i}", Encoding.UTF8.GetBytes(text));
        }
        foreach (var (name, bytes) in Npy()) yield return ("npy", name, bytes);
        yield return ("sts", "sts.csv", Encoding.UTF8.GetBytes("main-captions\tMSRvid\t2012test\t0001\t5.000\tA man is playing a flute.\tA man plays a flute.\nmain-news\theadlines\t2013\t0002\t0.5\tStocks fall.\tIt rains.\n"));
        foreach (var (name, bytes) in HttpBodies.Seeds()) yield return ("http", name, bytes);
        foreach (var seed in FromShared()) yield return seed;
    }

    private static byte[] Temp(Action<string> write)
    {
        string path = Path.Combine(Path.GetTempPath(), $"keyembed-seed-{Guid.NewGuid():N}");
        try
        {
            write(path);
            return File.ReadAllBytes(path);
        }
        finally { File.Delete(path); }
    }

    private static IEnumerable<(string, byte[])> Safetensors()
    {
        yield return ("f32-i64.safetensors", Temp(p => new SafetensorsWriter().AddMetadata("format", "pt")
            .Add("embeddings.weight", [2, 3], [1f, 2f, 3f, 4f, 5f, 6f]).Add("position_ids", [1, 4], [0L, 1L, 2L, 3L]).Save(p)));
        // Hand-made header: F16 and BF16 tensors (the writer makes F32 and I64 only).
        string header = """{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[1,2],"data_offsets":[4,8]}}""";
        while ((header.Length + 8) % 8 != 0) header += " ";
        var bytes = new List<byte>(BitConverter.GetBytes((ulong)header.Length));
        bytes.AddRange(Encoding.UTF8.GetBytes(header));
        bytes.AddRange(new byte[] { 0x00, 0x3c, 0x00, 0xc0, 0x80, 0x3f, 0x00, 0x40 });
        yield return ("f16-bf16.safetensors", [.. bytes]);
    }

    /// <summary>[u16 index length][index][data], the <c>tensorbundle</c> target's input layout.</summary>
    internal static byte[] PackBundle(byte[] index, byte[] data) =>
        [(byte)(index.Length & 0xff), (byte)(index.Length >> 8), .. index, .. data];

    private static IEnumerable<(string, byte[])> TensorBundles()
    {
        foreach (var (folder, prefix) in new[] { ("golden/bert-tf-keras", "bert_model.ckpt"), ("golden/xlnet-tf-empty", "xlnet_model.ckpt") })
        {
            byte[] index, data;
            try
            {
                index = Targets.SharedFile($"{folder}/{prefix}.index");
                data = Targets.SharedFile($"{folder}/{prefix}.data-00000-of-00001");
            }
            catch (FileNotFoundException) { continue; }
            if (index.Length <= ushort.MaxValue) yield return ("shared-" + Path.GetFileName(folder) + ".bundle", PackBundle(index, data));
        }
    }

    // torch.save's data.pkl for {"w": FloatTensor [2, 2]} (protocol 2), written opcode by opcode.
    internal static byte[] TorchPickle()
    {
        var p = new List<byte> { 0x80, 0x02, (byte)'}', (byte)'(' };
        void Text(string s)
        {
            var utf8 = Encoding.UTF8.GetBytes(s);
            p.Add((byte)'X');
            p.AddRange(BitConverter.GetBytes(utf8.Length));
            p.AddRange(utf8);
        }
        void Global(string module, string name) => p.AddRange(Encoding.ASCII.GetBytes($"c{module}\n{name}\n"));
        void Int(byte value) => p.AddRange([(byte)'K', value]);
        Text("w");
        Global("torch._utils", "_rebuild_tensor_v2");
        p.Add((byte)'(');
        p.Add((byte)'(');
        Text("storage");
        Global("torch", "FloatStorage");
        Text("0");
        Text("cpu");
        Int(4);
        p.Add((byte)'t');
        p.Add((byte)'Q'); // BINPERSID
        Int(0);
        Int(2); Int(2); p.Add(0x86); // size (TUPLE2)
        Int(2); Int(1); p.Add(0x86); // stride
        p.Add(0x89); // False: requires_grad
        Global("collections", "OrderedDict");
        p.Add((byte)')');
        p.Add((byte)'R');
        p.Add((byte)'t');
        p.Add((byte)'R');
        p.Add((byte)'u');
        p.Add((byte)'.');
        return [.. p];
    }

    private static byte[] TorchZip(byte[] pickle)
    {
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            void Add(string name, byte[] bytes)
            {
                using var stream = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
                stream.Write(bytes);
            }
            Add("archive/data.pkl", pickle);
            Add("archive/byteorder", "little"u8.ToArray());
            Add("archive/data/0", [.. BitConverter.GetBytes(1f), .. BitConverter.GetBytes(2f), .. BitConverter.GetBytes(3f), .. BitConverter.GetBytes(4f)]);
            Add("archive/version", "3\n"u8.ToArray());
        }
        return buffer.ToArray();
    }

    // One MatMul whose weight is an unnamed initializer and the bias Add after it, as exporters write a Linear layer.
    private static byte[] TinyOnnx()
    {
        static global::Onnx.TensorProto Tensor(string name, long[] dims, float[] values)
        {
            var t = new global::Onnx.TensorProto { Name = name, DataType = (int)global::Onnx.TensorProto.Types.DataType.Float };
            t.Dims.AddRange(dims);
            t.FloatData.AddRange(values);
            return t;
        }
        var graph = new global::Onnx.GraphProto { Name = "tiny" };
        graph.Initializer.Add(Tensor("onnx::MatMul_7", [2, 2], [1, 2, 3, 4]));
        graph.Initializer.Add(Tensor("encoder.layer.0.attention.self.query.bias", [2], [0.5f, -0.5f]));
        var matmul = new global::Onnx.NodeProto { OpType = "MatMul", Name = "/query/MatMul" };
        matmul.Input.Add("x");
        matmul.Input.Add("onnx::MatMul_7");
        matmul.Output.Add("m");
        var add = new global::Onnx.NodeProto { OpType = "Add", Name = "/query/Add" };
        add.Input.Add("encoder.layer.0.attention.self.query.bias");
        add.Input.Add("m");
        add.Output.Add("y");
        graph.Node.Add(matmul);
        graph.Node.Add(add);
        var model = new global::Onnx.ModelProto { IrVersion = 8, Graph = graph };
        model.OpsetImport.Add(new global::Onnx.OperatorSetIdProto { Version = 17 });
        return model.ToByteArray();
    }

    private static IEnumerable<(string, byte[])> Npy()
    {
        yield return ("f32.npy", Temp(p => NpyFile.Write(p, [[1f, 2f, 3f], [4f, 5f, 6f]])));
        static byte[] Hand(string descr, string shape, byte[] data)
        {
            string header = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}";
            int total = 10 + header.Length + 1;
            header = header.PadRight(header.Length + (64 - total % 64) % 64) + "\n";
            return [0x93, .. "NUMPY"u8.ToArray(), 1, 0, (byte)(header.Length & 0xff), (byte)(header.Length >> 8), .. Encoding.ASCII.GetBytes(header), .. data];
        }
        yield return ("f8.npy", Hand("<f8", "(2,)", [.. BitConverter.GetBytes(1.5), .. BitConverter.GetBytes(-2.0)]));
        yield return ("i1.npy", Hand("|i1", "(2, 2)", [1, 255, 3, 128]));
        yield return ("u1.npy", Hand("|u1", "(3,)", [1, 2, 3]));
    }

    private static IEnumerable<(string, string, byte[])> FromShared()
    {
        (string Target, string File)[] files =
        [
            ("safetensors", "golden/bert-tiny-random/io.safetensors"),
            ("safetensors", "golden/xlnet-tf-empty/io.safetensors"),
            ("config", "golden/bert-tiny-random/config.json"),
            ("config", "golden/bert-tf-keras/bert_config.json"),
            ("config", "golden/xlnet-tf-empty/xlnet_config.json"),
            ("config", "golden/xlnet-tiny-bi/config.json"),
            ("vocab", "golden/bert-tiny-random/vocab.txt"),
            ("vocab", "golden/bert-tf-keras/vocab.txt"),
        ];
        foreach (var (target, file) in files)
        {
            byte[] bytes;
            try { bytes = Targets.SharedFile(file); }
            catch (FileNotFoundException) { continue; }
            yield return (target, "shared-" + file.Replace('/', '-'), bytes);
        }
        // The XLNet model cut to its first 400 pieces: a small valid ModelProto.
        byte[]? spiece = null;
        try { spiece = Targets.SharedFile("models/xlnet-spiece/spiece.model"); }
        catch (FileNotFoundException) { }
        if (spiece is not null)
        {
            var model = KeyEmbed.Tokenization.Proto.ModelProto.Parser.ParseFrom(spiece);
            var pieces = model.Pieces.Take(400).ToList();
            model.Pieces.Clear();
            model.Pieces.AddRange(pieces);
            yield return ("spiece-model", "shared-spiece-400.model", model.ToByteArray());
        }
    }
}
