"""Byte-level BPE in the GPT-2 convention, as llama.cpp runs it for tokenizer.ggml.model = "gpt2".

Vocabulary layout: ids 0..255 are the single bytes (id == byte value) spelled in GPT-2's
byte-to-unicode alphabet, then one token per merge in merge order, then <|endoftext|> last.
Pre-tokenization is GPT-2's regex (llama.cpp pre-tokenizer "gpt-2"); encoding merges the
lowest-ranked adjacent pair first (leftmost on ties) inside each pre-token, which is what
llama.cpp's BPE session does, so ids produced here match the engine's tokenizer.
"""
import collections
import re

EOT = "<|endoftext|>"

# GPT-2's pre-tokenizer. Python's `re` has no \p{L}/\p{N}: [^\W\d_] is "letter", \d "digit" and
# (?:[^\s\w]|_) "neither letter, digit nor space" ('_' is a \w char but no letter), equal to the
# Unicode classes for the ASCII corpus we train on. The trailing \s+ is GPT-2's fallback that
# leaves a lone space before a word (or a newline before text) as its own pre-token.
_PRETOK = re.compile(
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+""")


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable unicode char map (printable Latin-1 maps to itself,
    the rest to U+0100 upwards in byte order)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + \
        list(range(ord("\xae"), ord("\xff") + 1))
    mapping, extra = {}, 0
    for b in range(256):
        if b in keep:
            mapping[b] = chr(b)
        else:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


BYTE_ENC = bytes_to_unicode()
BYTE_DEC = {c: b for b, c in BYTE_ENC.items()}


def pretokenize(text):
    return _PRETOK.findall(text)


def _word_symbols(word):
    return tuple(BYTE_ENC[b] for b in word.encode("utf-8"))


def train_bpe(texts, vocab_size):
    """Learns vocab_size - 257 merges from texts (iterable of str). Deterministic: the most
    frequent pair wins, ties broken by the lexicographically smallest pair.
    Returns the merge list [(left, right), ...]."""
    n_merges = vocab_size - 257
    if n_merges < 0:
        raise ValueError("vocab_size must be at least 257")
    counts = collections.Counter()
    for t in texts:
        counts.update(pretokenize(t))
    words = [list(_word_symbols(w)) for w in counts]
    freqs = list(counts.values())
    pair_count = collections.Counter()
    pair_words = collections.defaultdict(set)
    for i, syms in enumerate(words):
        for a, b in zip(syms, syms[1:]):
            pair_count[(a, b)] += freqs[i]
            pair_words[(a, b)].add(i)
    merges = []
    while len(merges) < n_merges and pair_count:
        best = min(pair_count.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        if pair_count[best] <= 0:
            break
        merges.append(best)
        merged = best[0] + best[1]
        for i in list(pair_words[best]):
            syms, f = words[i], freqs[i]
            for a, b in zip(syms, syms[1:]):
                pair_count[(a, b)] -= f
                if pair_count[(a, b)] == 0:
                    del pair_count[(a, b)]
            out, j = [], 0
            while j < len(syms):
                if j + 1 < len(syms) and syms[j] == best[0] and syms[j + 1] == best[1]:
                    out.append(merged)
                    j += 2
                else:
                    out.append(syms[j])
                    j += 1
            words[i] = out
            for a, b in zip(out, out[1:]):
                pair_count[(a, b)] += f
                pair_words[(a, b)].add(i)
        del pair_words[best]
    if len(merges) < n_merges:
        raise ValueError(f"corpus only supports {len(merges)} merges, asked for {n_merges}")
    return merges


class Tokenizer:
    """Encoder/decoder over a merge list. Not thread-safe (per-word cache)."""

    def __init__(self, merges):
        self.merges = [tuple(m) for m in merges]
        self.tokens = [BYTE_ENC[b] for b in range(256)] + [a + b for a, b in self.merges] + [EOT]
        self.token_to_id = {t: i for i, t in enumerate(self.tokens)}
        if len(self.token_to_id) != len(self.tokens):
            raise ValueError("duplicate token in vocabulary")
        self.ranks = {m: r for r, m in enumerate(self.merges)}
        self.eot_id = len(self.tokens) - 1
        self._cache = {}

    @property
    def vocab_size(self):
        return len(self.tokens)

    def _encode_word(self, word):
        ids = self._cache.get(word)
        if ids is not None:
            return ids
        syms = list(_word_symbols(word))
        while len(syms) > 1:
            best, best_rank = -1, None
            for j in range(len(syms) - 1):
                r = self.ranks.get((syms[j], syms[j + 1]))
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = j, r
            if best < 0:
                break
            syms[best:best + 2] = [syms[best] + syms[best + 1]]
        ids = [self.token_to_id[s] for s in syms]
        self._cache[word] = ids
        return ids

    def encode(self, text):
        out = []
        for w in pretokenize(text):
            out.extend(self._encode_word(w))
        return out

    def decode(self, ids):
        data = bytearray()
        for i in ids:
            if i == self.eot_id:
                data.extend(EOT.encode())
            else:
                data.extend(BYTE_DEC[c] for c in self.tokens[i])
        return data.decode("utf-8", errors="replace")


def _self_check(tokenizer_json):
    """Round-trips the whole KJV through encode/decode and prints compression stats."""
    import json
    import corpus
    with open(tokenizer_json) as f:
        tk = Tokenizer(json.load(f)["merges"])
    verses = corpus.load_verses()
    text = "".join(corpus.doc_text(d) for d in corpus.split_documents(verses))
    ids = tk.encode(text)
    if tk.decode(ids) != text:
        raise SystemExit("encode/decode round trip failed")
    for i, m in enumerate(tk.merges):  # each merge's parts exist before it (llama.cpp needs it)
        if tk.token_to_id[m[0]] >= 256 + i or tk.token_to_id[m[1]] >= 256 + i:
            raise SystemExit(f"merge {i} uses a later token")
    print(f"vocab {tk.vocab_size}, {len(text)} chars -> {len(ids)} tokens "
          f"({len(text) / len(ids):.2f} chars/token), round trip OK")


if __name__ == "__main__":
    import sys
    _self_check(sys.argv[1] if len(sys.argv) > 1 else "tools/train/out/tokenizer.json")
