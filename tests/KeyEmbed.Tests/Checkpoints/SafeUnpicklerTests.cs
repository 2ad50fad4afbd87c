using KeyEmbed.Checkpoints;
using KeyEmbed.Checkpoints.PyTorch;
using KeyEmbed.Tests.Fixtures;

namespace KeyEmbed.Tests.Checkpoints;

public sealed class SafeUnpicklerTests
{
    private static object? Load(byte[] pickle, Func<PickleTuple, StorageRef>? persistentLoad = null) =>
        new SafeUnpickler("test.pkl", pickle, persistentLoad ?? (_ => throw new InvalidOperationException("no storages here"))).Load();

    [Fact]
    public void Protocol_4_opcodes_build_inert_values()
    {
        // FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL, BININT2, LONG1, BINFLOAT, EMPTY_LIST/APPENDS, BINGET, NONE.
        var body = new PickleBuilder()
            .Op(0x8c).Op(11).Raw("collections"u8).Op(0x94)
            .Op(0x8c).Op(11).Raw("OrderedDict"u8).Op(0x94)
            .Op(0x93).Op(0x94).EmptyTuple().Reduce().Op(0x94)
            .Mark()
                .Op(0x8c).Op(1).Raw("a"u8).Op((byte)'M').Raw([0x34, 0x12])
                .Op(0x8c).Op(1).Raw("b"u8).Op(0x8a).Op(2).Raw([0xfe, 0xff]) // LONG1 -2
                .Op(0x8c).Op(1).Raw("c"u8).Op((byte)'G').Raw([0x3f, 0xf8, 0, 0, 0, 0, 0, 0]) // 1.5, big-endian
                .Op(0x8c).Op(1).Raw("d"u8).Op((byte)']').Mark().Op((byte)'N').Op(0x88).Op((byte)'h').Op(0).Op((byte)'e')
            .SetItems().Stop().ToArray();
        var pickle = new PickleBuilder().Proto(4).Op(0x95).Raw(BitConverter.GetBytes((long)body.Length)).Raw(body).ToArray();

        var dict = Assert.IsType<PickleDict>(Load(pickle));
        Assert.Equal(["a", "b", "c", "d"], dict.Items.Keys.Cast<string>());
        Assert.Equal(0x1234L, dict.Items["a"]);
        Assert.Equal(-2L, dict.Items["b"]);
        Assert.Equal(1.5, dict.Items["c"]);
        Assert.Equal([null, true, "collections"], Assert.IsType<List<object?>>(dict.Items["d"]));
    }

    [Fact]
    public void Rebuild_tensor_becomes_a_tensor_record_over_the_persistent_storage()
    {
        var pickle = new PickleBuilder().Proto(2)
            .Global("torch._utils", "_rebuild_tensor_v2")
            .Mark().Mark().String("storage").Global("torch", "DoubleStorage").String("7").String("cuda:0").Int(12).Tuple().PersistentId()
            .Int(2).IntTuple([2, 5]).IntTuple([5, 1]).False().Global("collections", "OrderedDict").EmptyTuple().Reduce().Tuple()
            .Reduce().Stop().ToArray();
        PickleTuple? seen = null;
        var tensor = Assert.IsType<TensorRef>(Load(pickle, id => { seen = id; return new StorageRef(TensorDType.F64, "7", 12); }));
        Assert.Equal("cuda:0", seen!.Items[3]);
        Assert.Equal(new PickleGlobal("torch", "DoubleStorage"), seen.Items[1]);
        Assert.Equal(2, tensor.Offset);
        Assert.Equal([2L, 5L], tensor.Size);
        Assert.Equal([5L, 1L], tensor.Stride);
    }

    [Fact]
    public void Allowed_type_names_cannot_be_called()
    {
        var pickle = new PickleBuilder().Proto(2).Global("torch", "FloatStorage").EmptyTuple().Reduce().Stop().ToArray();
        var error = Rejection.Expect(() => Load(pickle), "test.pkl", "torch.FloatStorage", "not a function");
        Assert.Equal(ErrorKind.InvalidCheckpoint, error.Kind);
    }

    [Fact]
    public void Popping_below_a_mark_is_malformed()
    {
        var pickle = new PickleBuilder().Proto(2).Int(1).Mark().Op(0x85).Stop().ToArray(); // TUPLE1 across a MARK
        Rejection.Expect(() => Load(pickle), "test.pkl", "empty stack");
    }
}
