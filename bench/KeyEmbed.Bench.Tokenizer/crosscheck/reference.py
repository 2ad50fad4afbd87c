"""Independent plain-Python renderings of the two reference tokenizers, for cross-checking KeyEmbed by hand.

bert:  Google BERT tokenization.py's steps (clean text, CJK split, whitespace split, lower + NFD accent strip,
       punctuation split, greedy WordPiece with a 200-character limit).
xlnet: Hugging Face XLNetTokenizer's preprocessing and digit-comma rule over sentencepiece itself
       (Debian: apt-get install python3-sentencepiece; run with /usr/bin/python3).

Usage: reference.py bert|xlnet MODEL_FILE LOWERCASE(0|1) < input.jsonl > expected.jsonl
Input lines are {"text": ...}; output lines are {"tokens": [...], "ids": [...]}.
"""
import json
import sys
import unicodedata


def bert(vocab_file, lower):
    vocab = {}
    with open(vocab_file, encoding="utf-8") as f:
        for index, line in enumerate(f):
            vocab[line.strip()] = index
    tokens_by_id = {i: t for t, i in vocab.items()}

    def whitespace(c):
        return c in " \t\n\r" or unicodedata.category(c) == "Zs"

    def control(c):
        return c not in "\t\n\r" and unicodedata.category(c) in ("Cc", "Cf")

    def punctuation(c):
        cp = ord(c)
        return 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126 or unicodedata.category(c).startswith("P")

    def ideograph(cp):
        ranges = [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
                  (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)]
        return any(a <= cp <= b for a, b in ranges)

    def words(text):
        text = "".join(" " if whitespace(c) else c for c in text if not (ord(c) in (0, 0xFFFD) or control(c)))
        text = "".join(" " + c + " " if ideograph(ord(c)) else c for c in text)
        for token in text.split():
            if lower:
                token = "".join(c for c in unicodedata.normalize("NFD", token.lower()) if unicodedata.category(c) != "Mn")
            run = ""
            for c in token:
                if punctuation(c):
                    if run:
                        yield run
                    run = ""
                    yield c
                else:
                    run += c
            if run:
                yield run

    def wordpiece(word):
        if len(word) > 200:
            return [vocab["[UNK]"]]
        start, ids = 0, []
        while start < len(word):
            end, found = len(word), None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in vocab:
                    found = vocab[piece]
                    break
                end -= 1
            if found is None:
                return [vocab["[UNK]"]]
            ids.append(found)
            start = end
        return ids

    def tokenize(text):
        ids = [i for w in words(text) for i in wordpiece(w)]
        return [tokens_by_id[i] for i in ids], ids

    return tokenize


def xlnet(model_file, lower):
    import sentencepiece
    sp = sentencepiece.SentencePieceProcessor(model_file=model_file)

    def tokenize(text):
        text = " ".join(text.strip().split()).replace("``", '"').replace("''", '"')
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
        if lower:
            text = text.lower()
        pieces = []
        for piece in sp.encode(text, out_type=str):
            if len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit():
                again = sp.encode(piece[:-1].replace("\u2581", ""), out_type=str)
                if piece[0] != "\u2581" and again and again[0][0] == "\u2581":
                    again = again[1:] if len(again[0]) == 1 else [again[0][1:]] + again[1:]
                pieces.extend(again + [piece[-1]])
            else:
                pieces.append(piece)
        return pieces, [sp.piece_to_id(p) for p in pieces]

    return tokenize


if __name__ == "__main__":
    kind, model, lower = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
    tokenize = (bert if kind == "bert" else xlnet)(model, lower)
    for line in sys.stdin:
        if line.strip():
            tokens, ids = tokenize(json.loads(line)["text"])
            print(json.dumps({"tokens": tokens, "ids": ids}))
