"""Compares two JSON-lines files field by field ("tokens", "ids"); prints the count and the first differences.
Usage: compare.py input.jsonl expected.jsonl actual.jsonl"""
import json
import sys

texts = [json.loads(l)["text"] for l in open(sys.argv[1], encoding="utf-8")]
expected = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
actual = [json.loads(l) for l in open(sys.argv[3], encoding="utf-8")]
differing = [i for i in range(len(expected)) if expected[i]["ids"] != actual[i]["ids"] or expected[i]["tokens"] != actual[i]["tokens"]]
print(f"{len(expected)} texts, {len(differing)} differ")
for i in differing[:10]:
    print(ascii(texts[i]), expected[i]["tokens"], actual[i]["tokens"])
sys.exit(1 if differing or len(expected) != len(actual) else 0)
