#!/usr/bin/env bash
# bench/cpu-table.sh [ROUNDS] — the whole-process table of docs/benchmarks.md on this machine: float32 and int8
# `embed --format npy` of 20,000 distinct keywords and of the 2,551 distinct STS test sentences, and the README's
# main job (`similarity` of three keywords, warm graph cache), each engine alternating within a round, ROUNDS rounds
# (default 3), medians. Wall and CPU time (user + system) and peak RSS come from /usr/bin/time. The first line names
# the CPU and its flags (AVX2, AVX-512, VNNI, AMX), as every speed figure must.
#
# Inputs are made from ../shared/data/stsbenchmark/sts-test.csv (evaluation data, read in place, never copied into the
# repository): keywords are the first 20,000 distinct word 1-3-grams of its sentences (lower-cased, punctuation
# trimmed from word ends, in order of first appearance); sentences are its distinct sentences.
set -euo pipefail
rounds=${1:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
sts=$root/../shared/data/stsbenchmark/sts-test.csv
out=$root/bench/out/cpu-table
[ -f "$sts" ] || { echo "error: $sts not found (../shared beside the repository)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "error: /usr/bin/time not found (apt-get install time)" >&2; exit 1; }
mkdir -p "$out"
cd "$root"

dotnet build -c Release src/KeyEmbed.Cli/KeyEmbed.Cli.csproj -v quiet -nologo >/dev/null
cli=(dotnet "$root/src/KeyEmbed.Cli/bin/Release/net10.0/KeyEmbed.Cli.dll")

python3 - "$sts" "$out" <<'PY'
import csv, sys
sts, out = sys.argv[1], sys.argv[2]
sentences, seen = [], set()
with open(sts, encoding="utf-8") as f:
    for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
        for s in row[5:7]:
            if s not in seen:
                seen.add(s)
                sentences.append(s)
keywords, kseen = [], set()
for s in sentences:
    words = [w.strip(".,;:!?\"'()[]") for w in s.lower().split()]
    words = [w for w in words if w]
    for n in (1, 2, 3):
        for i in range(len(words) - n + 1):
            k = " ".join(words[i:i + n])
            if k not in kseen and len(keywords) < 20000:
                kseen.add(k)
                keywords.append(k)
open(f"{out}/sentences.txt", "w", encoding="utf-8").write("\n".join(sentences) + "\n")
open(f"{out}/keywords.txt", "w", encoding="utf-8").write("\n".join(keywords) + "\n")
print(f"inputs: {len(keywords)} keywords, {len(sentences)} sentences", file=sys.stderr)
PY

# The CPU header: model and the flags that decide ONNX Runtime's kernels.
grep -m1 'model name' /proc/cpuinfo | sed 's/.*: /cpu: /'
flags=$(grep -m1 '^flags' /proc/cpuinfo)
for f in avx2 avx512f avx512_vnni avx_vnni amx_int8; do
  case " $flags " in *" $f "*) printf '%s yes, ' "$f" ;; *) printf '%s no, ' "$f" ;; esac
done
echo "$(nproc) logical cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
[ -z "${KEYEMBED_BENCH_CPU_NOTE:-}" ] || echo "note: $KEYEMBED_BENCH_CPU_NOTE"

# Warm the graph cache for both precisions so no round pays a graph build.
"${cli[@]}" similarity a b >/dev/null 2>&1
"${cli[@]}" similarity --precision int8 a b >/dev/null 2>&1

measure() { # name, then the command; appends "name wall cpu rss_mb" to results
  local name=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$out/time.txt" "$@" >/dev/null 2>"$out/stderr.txt" || { cat "$out/stderr.txt" >&2; exit 1; }
  read -r wall user sys rss < "$out/time.txt"
  echo "$name $wall $(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }') $((rss / 1024))" >> "$out/results.txt"
}
: > "$out/results.txt"
for r in $(seq 1 "$rounds"); do
  for precision in float32 int8; do
    measure "keywords-$precision" "${cli[@]}" embed --precision "$precision" --input "$out/keywords.txt" --format npy --output "$out/k.npy"
    measure "sentences-$precision" "${cli[@]}" embed --precision "$precision" --input "$out/sentences.txt" --format npy --output "$out/s.npy"
  done
  measure "similarity-float32" "${cli[@]}" similarity "machine learning" "deep learning" "banana bread"
  echo "round $r done (load average $(cut -d' ' -f1 /proc/loadavg))" >&2
done

python3 - "$out/results.txt" "$(wc -l < "$out/sentences.txt")" <<'PY'
import statistics, sys
sentences = int(sys.argv[2])
rows = {}
for line in open(sys.argv[1]):
    name, wall, cpu, rss = line.split()
    rows.setdefault(name, []).append((float(wall), float(cpu), int(rss)))
def med(name, i):
    return statistics.median(v[i] for v in rows[name])
print("| work | float32: wall, CPU, peak RSS | int8: wall, CPU, peak RSS | int8 gain (wall / CPU) |")
print("| --- | ---: | ---: | ---: |")
for work, label in (("keywords", "20,000 distinct keywords, `embed --format npy`"), ("sentences", f"{sentences:,} distinct STS test sentences, `embed --format npy`")):
    f, i = f"{work}-float32", f"{work}-int8"
    gain_wall = statistics.median(a[0] / b[0] for a, b in zip(rows[f], rows[i]))
    gain_cpu = statistics.median(a[1] / b[1] for a, b in zip(rows[f], rows[i]))
    print(f"| {label} | {med(f,0):.2f} s, {med(f,1):.2f} s, {med(f,2)} MB | {med(i,0):.2f} s, {med(i,1):.2f} s, {med(i,2)} MB | {gain_wall:.2f}x / {gain_cpu:.2f}x |")
s = "similarity-float32"
print(f"| `similarity` of 3 keywords (warm cache) | {med(s,0):.2f} s, {med(s,1):.2f} s, {med(s,2)} MB | | |")
print(f"({len(rows[s])} rounds, medians; gains are the median of per-round ratios)")
PY
