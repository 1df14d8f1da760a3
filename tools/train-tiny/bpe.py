"""The demo tokenizer in plain Python: Mistral-style BPE (the tokenizer.json layout of Mistral's HF tokenizer:
normalizer Prepend('▁') + Replace(' ' -> '▁'), no pre-tokenizer, BPE with byte fallback, decoder
Replace('▁' -> ' ') + ByteFallback + Fuse + Strip(1 leading space)).

Encoding here gives the ids that HF tokenizers (and smoe's lib/tokenizer) give for the same tokenizer.json.
HF applies the merges to the whole normalised string; this encoder applies them per chunk, which is the same
because of how the merges are trained (train_tokenizer.py): a chunk is a run of '▁' followed by non-'▁'
characters, or one newline, and every merge was learned inside a chunk, so no merge joins a symbol ending in a
non-'▁' character to one starting with '▁', and no merge contains a newline (a newline is not in the
vocabulary: it is the byte token <0x0A>). Characters outside the vocabulary become their UTF-8 byte tokens and
never take part in a merge.
"""
import json
import re

SPACE = '\u2581'
SPECIALS = ['<unk>', '<s>', '</s>']
CHUNK = re.compile(f'\n|{SPACE}*[^{SPACE}\n]*')


def byte_token(b):
    return f'<0x{b:02X}>'


def normalize(text):
    return SPACE + text.replace(' ', SPACE) if text else ''


def chunks(normalized):
    return [c for c in CHUNK.findall(normalized) if c]


class Encoder:
    """Encodes text with a vocabulary and ranked merges (as written in tokenizer.json)."""

    def __init__(self, vocab, merges):
        self.vocab = vocab
        self.ranks = {tuple(m): i for i, m in enumerate(merges)}
        self.cache = {}
        self.byte_ids = [vocab[byte_token(b)] for b in range(256)]

    @classmethod
    def from_file(cls, path):
        with open(path, encoding='utf-8') as f:
            model = json.load(f)['model']
        merges = [m.split(' ') if isinstance(m, str) else m for m in model['merges']]
        return cls(model['vocab'], merges)

    def _chunk_ids(self, chunk):
        ids = self.cache.get(chunk)
        if ids is not None:
            return ids
        ids = []
        # Segments of in-vocabulary characters, separated by characters that fall back to bytes.
        segment = []

        def flush():
            if segment:
                ids.extend(self.vocab[s] for s in self._merge(segment))
                segment.clear()
        for ch in chunk:
            if ch in self.vocab:
                segment.append(ch)
            else:
                flush()
                ids.extend(self.byte_ids[b] for b in ch.encode('utf-8'))
        flush()
        self.cache[chunk] = ids
        return ids

    def _merge(self, symbols):
        symbols = list(symbols)
        ranks = self.ranks
        while len(symbols) > 1:
            best, best_rank = None, None
            for i in range(len(symbols) - 1):
                r = ranks.get((symbols[i], symbols[i + 1]))
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = (symbols[i], symbols[i + 1]), r
            if best is None:
                break
            merged, out, i = best[0] + best[1], [], 0
            while i < len(symbols):
                if i < len(symbols) - 1 and symbols[i] == best[0] and symbols[i + 1] == best[1]:
                    out.append(merged)
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            symbols = out
        return symbols

    def encode(self, text):
        """Ids of text without special tokens (smoe: encode(text, { addSpecialTokens: false }))."""
        out = []
        for c in chunks(normalize(text)):
            out.extend(self._chunk_ids(c))
        return out


class Decoder:
    def __init__(self, vocab):
        self.tokens = {i: t for t, i in vocab.items()}

    def decode(self, ids):
        """Text of ids, special tokens skipped (the HF decoder sequence)."""
        out, pending = [], bytearray()
        for i in ids:
            t = self.tokens[i]
            if t in SPECIALS:
                continue
            if len(t) == 6 and t.startswith('<0x') and t.endswith('>'):
                pending.append(int(t[3:5], 16))
                continue
            if pending:
                out.append(pending.decode('utf-8', errors='replace'))
                pending = bytearray()
            out.append(t.replace(SPACE, ' '))
        if pending:
            out.append(pending.decode('utf-8', errors='replace'))
        text = ''.join(out)
        return text[1:] if text.startswith(' ') else text
