using System.Diagnostics;
using SharpFuzz;

namespace KeyEmbed.Fuzz;

/// <summary>
/// <c>KeyEmbed.Fuzz TARGET</c>: the afl-fuzz fork server for one target (run by <c>fuzz/run.sh</c>, after SharpFuzz
/// has instrumented KeyEmbed.dll and KeyEmbed.Server.dll). <c>KeyEmbed.Fuzz TARGET --replay FILE|DIR...</c>: runs inputs
/// once each and reports the ones that crash or take over a second (triage). <c>KeyEmbed.Fuzz --seeds DIR</c>: writes
/// every target's seed inputs into DIR/TARGET/.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 2 && args[0] == "--seeds")
        {
            foreach (var (seedTarget, name, bytes) in Seeds.All())
            {
                Directory.CreateDirectory(Path.Combine(args[1], seedTarget));
                File.WriteAllBytes(Path.Combine(args[1], seedTarget, name), bytes);
            }
            return 0;
        }
        if (args.Length == 0 || !Targets.All.ContainsKey(args[0]))
        {
            Console.Error.WriteLine($"usage: KeyEmbed.Fuzz TARGET [--replay FILE|DIR...] | --seeds DIR; targets: {string.Join(", ", Targets.All.Keys)}");
            return 1;
        }
        string target = args[0];
        if (args.Length > 1 && args[1] == "--replay")
        {
            int failures = 0;
            try { Targets.Run(target, []); } catch (Exception) { } // warm-up: shared tokenizers, the service
            foreach (var file in args.Skip(2).SelectMany(p => Directory.Exists(p) ? Directory.GetFiles(p) : [p]).Order(StringComparer.Ordinal))
            {
                var input = File.ReadAllBytes(file);
                var clock = Stopwatch.StartNew();
                try
                {
                    string? refusal = Targets.Run(target, input);
                    if (clock.Elapsed > TimeSpan.FromSeconds(1)) throw new TimeoutException($"took {clock.ElapsedMilliseconds} ms");
                    Console.WriteLine($"{file}: {(refusal is null ? "accepted" : "refused: " + refusal)}");
                }
                catch (Exception e)
                {
                    failures++;
                    var frames = (e.StackTrace ?? "").Split('\n').Take(4);
                    Console.WriteLine($"{file}: {e.GetType().Name}: {e.Message}\n{string.Join('\n', frames)}\n");
                }
            }
            Console.WriteLine($"{failures} failing input(s)");
            return failures == 0 ? 0 : 2;
        }
        // Warm the target (shared tokenizers, the service) before the fork server starts, so the per-input timeout
        // measures the input, not start-up. Instrumented code records edges into SharpFuzz's trace buffer, which the
        // fork server maps only when it starts; until then it records into a scratch buffer.
        unsafe
        {
            SharpFuzz.Common.Trace.SharedMem = (byte*)System.Runtime.InteropServices.NativeMemory.AllocZeroed(1 << 16);
        }
        // Each seed once: the paths a seed takes are compiled (JIT) before the first timed input.
        foreach (var input in Seeds.All().Where(s => s.Target == target).Select(s => s.Bytes).Prepend([]))
            try { Targets.Run(target, input); } catch (Exception) { }
        // Inputs over a second are written to KEYEMBED_FUZZ_SLOW_DIR (fuzz/run.sh replays them on their own afterwards):
        // afl's own limit is wider (see below), so that a loaded machine's pause does not end the run.
        string? slowDir = Environment.GetEnvironmentVariable("KEYEMBED_FUZZ_SLOW_DIR");
        if (slowDir != null) Directory.CreateDirectory(slowDir);
        void RunInput(Stream stream)
        {
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            byte[] input = copy.ToArray();
            var clock = Stopwatch.StartNew();
            try
            {
                Targets.Run(target, input);
            }
            finally
            {
                if (slowDir != null && clock.Elapsed > TimeSpan.FromSeconds(1))
                    File.WriteAllBytes(Path.Combine(slowDir, Convert.ToHexStringLower(System.Security.Cryptography.SHA1.HashData(input))[..16]), input);
            }
        }
        // Every target runs in-process (Fuzzer.Run): the warm-up above happens once, before the fork-server handshake
        // (afl waits for it: AFL_FORKSRV_INIT_TMOUT), and each input is one call in this process. SharpFuzz's
        // out-of-process server was several times slower, and its child's restart (a new dotnet process and this
        // warm-up) counted against afl's per-input limit (docs/reliability.md). The price: an input that runs into
        // afl's limit, or a stack overflow, ends the whole run instead of one child; fuzz/run.sh then keeps afl's
        // current input (.cur_input) as the finding and replays it.
        Fuzzer.Run(RunInput);
        return 0;
    }
}
