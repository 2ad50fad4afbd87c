#!/usr/bin/env bash
# fuzz/run.sh TARGET SECONDS — coverage-guided fuzzing of one parser with AFL++ and SharpFuzz (docs/reliability.md).
#
# Publishes fuzz/KeyEmbed.Fuzz (Release), instruments KeyEmbed.dll, KeyEmbed.Server.dll and Google.Protobuf.dll with
# SharpFuzz (the local dotnet tool in dotnet-tools.json), writes the seeds (KeyEmbed.Fuzz --seeds: made by KeyEmbed's
# own writers, by hand, and from ../shared's small reference files, read in place), adds fuzz/corpus/TARGET, and runs
# afl-fuzz for SECONDS with a 1-second limit per input. Afterwards: the run's figures (fuzzer_stats), crashes and hangs
# replayed with their stack traces, and up to 40 new queue entries copied into fuzz/corpus/TARGET (replayed by the
# test suite). Needs afl++ (Debian: apt-get install afl++) and the .NET 10 SDK. Output: fuzz/out/TARGET/.
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: fuzz/run.sh TARGET SECONDS" >&2
  exit 1
fi
target=$1
seconds=$2
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/fuzz/out
bin=$out/bin
work=$out/$target
command -v afl-fuzz >/dev/null || { echo "error: afl-fuzz not found (apt-get install afl++)" >&2; exit 1; }

cd "$root"
# One instrumented build shared by every target; rebuilt when the harness or the library changed since.
stamp=$bin/.instrumented
if [ ! -f "$stamp" ] || [ -n "$(find src fuzz/KeyEmbed.Fuzz -name '*.cs' -newer "$stamp" -print -quit)" ]; then
  rm -rf "$bin" "$out/plain"
  dotnet publish fuzz/KeyEmbed.Fuzz/KeyEmbed.Fuzz.csproj -c Release -o "$out/plain" -v quiet -nologo >/dev/null
  cp -r "$out/plain" "$bin"
  dotnet tool restore >/dev/null
  for dll in KeyEmbed.dll KeyEmbed.Server.dll Google.Protobuf.dll; do
    dotnet sharpfuzz "$bin/$dll" >/dev/null
  done
  touch "$stamp"
fi
# Seeds and replays run the uninstrumented copy (instrumented code only runs under afl-fuzz).
run() { dotnet "$out/plain/KeyEmbed.Fuzz.dll" "$@"; }
if ! run "$target" --replay /dev/null >/dev/null 2>&1; then
  run "$target" 2>&1 | head -1 >&2
  exit 1
fi

rm -rf "$work"
mkdir -p "$work/in"
run --seeds "$work/seeds"
cp "$work/seeds/$target/"* "$work/in/"
if [ -d "fuzz/corpus/$target" ]; then cp "fuzz/corpus/$target/"* "$work/in/" 2>/dev/null || true; fi

export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_SHUFFLE_QUEUE=0 AFL_FORKSRV_INIT_TMOUT=60000
dict=()
case $target in
  config|sharded-index|tokenizer-config|http) json=/usr/share/doc/afl++-doc/afl/dictionaries/json.dict; [ -f "$json" ] && dict=(-x "$json") ;;
esac
# -t 1000+: at most a second per input (afl scales the limit down from the calibration runs; a slower input is a
# hang, its child restarted), seeds that time out during calibration are skipped. The in-process targets
# (sentencepiece, http: see Program.cs) get a fixed limit instead: there a timeout kills the whole fork server, so
# afl's scaled-down limit (tens of ms) would end the run at the first garbage collection.
# FUZZ_TIMEOUT_MS overrides the limit (an overloaded machine).
case $target in
  sentencepiece|http) limit="${FUZZ_TIMEOUT_MS:-5000}" ;;
  *) limit="${FUZZ_TIMEOUT_MS:-1000}+" ;;
esac
afl-fuzz -V "$seconds" -t "$limit" -m none "${dict[@]}" -i "$work/in" -o "$work/findings" -- dotnet "$bin/KeyEmbed.Fuzz.dll" "$target" > "$work/afl.log" 2>&1 || {
  echo "afl-fuzz failed; last lines of $work/afl.log:" >&2
  tail -20 "$work/afl.log" >&2
  exit 1
}

stats=$work/findings/default/fuzzer_stats
field() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats"; }
echo "target $target: run_time $(field run_time) s, execs_done $(field execs_done), execs_per_sec $(field execs_per_sec), edges_found $(field edges_found) of $(field total_edges), corpus_count $(field corpus_count), saved_crashes $(field saved_crashes), saved_hangs $(field saved_hangs)"

status=0
for kind in crashes hangs; do
  dir=$work/findings/default/$kind
  if [ -n "$(ls "$dir" 2>/dev/null | grep -v README)" ]; then
    status=2
    echo "$kind (replayed):"
    run "$target" --replay $(ls -d "$dir"/id* ) || true
  fi
done

# Keep what the run learnt: new queue entries of at most 4 KiB, smallest first, at most 40 per target, leaving out the
# seeds themselves and everything descended from a seed made of a ../shared file (so no near-copy of reference data
# enters the repository; afl names each entry's parents in src:).
mkdir -p "fuzz/corpus/$target"
python3 - "$work/findings/default/queue" "fuzz/corpus/$target" <<'PY'
import hashlib, os, re, shutil, sys
queue, dest = sys.argv[1], sys.argv[2]
entries = {int(re.match(r"id:(\d+)", n).group(1)): n for n in os.listdir(queue) if n.startswith("id:")}
shared = {}
def from_shared(i):
    if i not in shared:
        name = entries.get(i, "")
        shared[i] = True  # cycles cannot happen; provisional value
        m = re.search(r"orig:(.*)", name)
        if m:
            shared[i] = m.group(1).startswith("shared-")
        else:
            parents = re.search(r"src:([\d+]+)", name)
            shared[i] = any(from_shared(int(p)) for p in parents.group(1).split("+")) if parents else False
    return shared[i]
keep = sorted((os.path.getsize(os.path.join(queue, n)), n) for i, n in entries.items()
              if "orig:" not in n and not from_shared(i) and os.path.getsize(os.path.join(queue, n)) <= 4096)
for _, n in keep[:40]:
    data = open(os.path.join(queue, n), "rb").read()
    open(os.path.join(dest, hashlib.sha1(data).hexdigest()[:16]), "wb").write(data)
PY
exit $status
