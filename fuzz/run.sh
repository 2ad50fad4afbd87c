#!/usr/bin/env bash
# fuzz/run.sh TARGET SECONDS [EXECUTIONS] — coverage-guided fuzzing of one parser with AFL++ and SharpFuzz
# (docs/reliability.md); the run stops after SECONDS, or after about EXECUTIONS inputs if that comes first (afl -E).
#
# Publishes fuzz/KeyEmbed.Fuzz (Release), instruments KeyEmbed.dll, KeyEmbed.Server.dll and Google.Protobuf.dll with
# SharpFuzz (the local dotnet tool in dotnet-tools.json), writes the seeds (KeyEmbed.Fuzz --seeds: made by KeyEmbed's
# own writers, by hand, and from ../shared's small reference files, read in place), adds fuzz/corpus/TARGET, and runs
# afl-fuzz in-process (see Program.cs). Afterwards: the run's figures (fuzzer_stats); crashes, hangs and every input
# that took over a second replayed on their own with their stack traces and times; and up to 40 new queue entries
# copied into fuzz/corpus/TARGET (replayed by the test suite). Needs afl++ (Debian: apt-get install afl++) and the
# .NET 10 SDK. Output: fuzz/out/TARGET/.
set -euo pipefail
if [ $# -lt 2 ] || [ $# -gt 3 ]; then
  echo "usage: fuzz/run.sh TARGET SECONDS [EXECUTIONS]" >&2
  exit 1
fi
target=$1
seconds=$2
execs=(); [ $# -eq 3 ] && execs=(-E "$3")
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
# Hangs. Every target runs in-process (Program.cs): there an input that reaches afl's limit ends the whole run, so
# afl's limit is a fixed 5 s (FUZZ_TIMEOUT_MS overrides it), wide enough that a pause of a loaded machine does not
# end the run. The issue's hang (over 1 s on one input) is caught by the harness instead: every input over a second
# is written to $work/slow and replayed on its own below, where only an input over a second again is a hang.
limit="${FUZZ_TIMEOUT_MS:-5000}"
export KEYEMBED_FUZZ_SLOW_DIR=$work/slow
ended=0
afl-fuzz -V "$seconds" "${execs[@]}" -t "$limit" -m none "${dict[@]}" -i "$work/in" -o "$work/findings" -- dotnet "$bin/KeyEmbed.Fuzz.dll" "$target" > "$work/afl.log" 2>&1 || {
  ended=1
  echo "afl-fuzz ended early; last lines of $work/afl.log:" >&2
  tail -20 "$work/afl.log" >&2
}

stats=$work/findings/default/fuzzer_stats
field() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats"; }
[ -f "$stats" ] && echo "target $target: run_time $(field run_time) s, execs_done $(field execs_done), execs_per_sec $(field execs_per_sec), edges_found $(field edges_found) of $(field total_edges), bitmap_cvg $(field bitmap_cvg), stability $(field stability), corpus_count $(field corpus_count), saved_crashes $(field saved_crashes), saved_hangs $(field saved_hangs), inputs over 1 s $(ls "$work/slow" 2>/dev/null | wc -l)"

status=0
# A run that ended early: the input afl was running when the target died or ran into the limit.
if [ "$ended" = 1 ] && [ -f "$work/findings/default/.cur_input" ]; then
  mkdir -p "$work/ended"
  cp "$work/findings/default/.cur_input" "$work/ended/cur_input"
fi
[ "$ended" = 1 ] && status=2
for kind in findings/default/crashes findings/default/hangs slow ended; do
  dir=$work/$kind
  if [ -n "$(ls "$dir" 2>/dev/null | grep -v README)" ]; then
    [ "$kind" = slow ] || status=2
    echo "${kind##*/} (replayed on their own; over 1 s again = a hang):"
    run "$target" --replay $(ls -d "$dir"/* | grep -v README) || status=2
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
