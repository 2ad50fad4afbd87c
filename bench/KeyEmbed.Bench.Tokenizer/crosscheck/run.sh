#!/usr/bin/env bash
# Cross-checks `keyembed tokenize --input-jsonl` against the plain-Python references on random texts.
# Needs Debian's python3-sentencepiece for the XLNet part. Not part of the test suite (CI has no Python deps).
# Usage: bench/KeyEmbed.Bench.Tokenizer/crosscheck/run.sh [SEED] [N]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"; root="$here/../../.."; shared="$root/../shared"
seed="${1:-1}"; n="${2:-10000}"; work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
dotnet build "$root/src/KeyEmbed.Cli" -v q -nologo >/dev/null
cli=(dotnet "$root/src/KeyEmbed.Cli/bin/Debug/net10.0/KeyEmbed.Cli.dll" tokenize)
/usr/bin/python3 "$here/random_texts.py" "$seed" "$n" > "$work/in.jsonl"
for lower in 1 0; do
  echo "BERT (bert-chinese-vocab, lowercase=$lower):"
  /usr/bin/python3 "$here/reference.py" bert "$shared/models/bert-chinese-vocab/vocab.txt" $lower < "$work/in.jsonl" > "$work/expected.jsonl"
  "${cli[@]}" --tokenizer "$shared/models/bert-chinese-vocab/vocab.txt" --lowercase $([ $lower = 1 ] && echo true || echo false) \
    --input-jsonl "$work/in.jsonl" --output "$work/actual.jsonl"
  /usr/bin/python3 "$here/compare.py" "$work/in.jsonl" "$work/expected.jsonl" "$work/actual.jsonl"
done
echo "XLNet (xlnet-spiece):"
/usr/bin/python3 "$here/reference.py" xlnet "$shared/models/xlnet-spiece/spiece.model" 0 < "$work/in.jsonl" > "$work/expected.jsonl"
"${cli[@]}" --tokenizer "$shared/models/xlnet-spiece/spiece.model" --input-jsonl "$work/in.jsonl" --output "$work/actual.jsonl"
/usr/bin/python3 "$here/compare.py" "$work/in.jsonl" "$work/expected.jsonl" "$work/actual.jsonl"
