"""Writes N random short texts mixing the character classes the tokenizers treat specially, one {"text"} a line.
Usage: random_texts.py SEED N > input.jsonl"""
import json
import random
import sys

POOLS = ["abcdefgh ", "ABCXYZ ", "éèÀÖñçİıß", "ΣΑΟσςΚ", "中文学习\U00020000", "\U0001F600\U0001F44D", "\u0301\u0308\u094d",
         "\x00\x01\x07\u200b\ufeff\xad", " \t\n\u3000\xa0\u2028", ".,!?$+<=>^|~€£±«»—…'\"`", "0123456789,,",
         "ﬁ½Ⅻ①㎡", "한한국", "कमस्ते", "\ue000", "[CLS]<sep><cls>"]
random.seed(int(sys.argv[1]))
for _ in range(int(sys.argv[2])):
    print(json.dumps({"text": "".join(random.choice(random.choice(POOLS)) for _ in range(random.randint(0, 30)))}))
