#!/usr/bin/env python3
"""Trains the demo model's tokenizer with our own BPE trainer (plain Python, no tokenizers package): a
Mistral-style BPE ('▁' for spaces with a '▁' prefix, byte fallback <0x00>..<0xFF>, <unk> <s> </s>) of --vocab
tokens on corpus/train.txt, written as tokenizer.json in the exact layout of Mistral's HF tokenizer (see bpe.py).

Layout of the vocabulary, as Mistral's: 0 <unk>, 1 <s>, 2 </s>, 3..258 the byte tokens <0x00>..<0xFF>, then the
characters kept (the --max-chars most frequent with at least --min-char-count occurrences; '\\n' is not one: it is
<0x0A>, as in Mistral), then the merged pieces in the order learned.

Training: a frequency table of the corpus's chunks (bpe.chunks), each split into segments of kept characters;
pair counts kept incrementally (pair -> count, pair -> the segments holding it) with a lazy max-heap, so each
merge touches only the segments that contain its pair.

tokenizer_config.json carries the Mixtral-Instruct chat template (from test/fixtures/tiny-mixtral), bos/eos and
add_bos_token.

  /usr/bin/python3 tools/train-tiny/train_tokenizer.py [--vocab 4096]   # -> out/tokenizer/
"""
import argparse
import collections
import heapq
import json
import os
import time

import bpe
import common


def segment_table(entries, alphabet):
    """{tuple of symbols: frequency} over the kept-character segments of every chunk."""
    chunk_freq = collections.Counter()
    for e in entries:
        chunk_freq.update(bpe.chunks(bpe.normalize(e)))
    table = collections.Counter()
    for chunk, n in chunk_freq.items():
        seg = []
        for ch in chunk:
            if ch in alphabet:
                seg.append(ch)
            else:
                if len(seg) > 1:
                    table[tuple(seg)] += n
                seg = []
        if len(seg) > 1:
            table[tuple(seg)] += n
    return table


def learn_merges(table, n_merges, min_frequency=2):
    words = [list(w) for w in table]
    freqs = list(table.values())
    counts = collections.Counter()
    where = collections.defaultdict(set)
    for wi, (w, f) in enumerate(zip(words, freqs)):
        for a, b in zip(w, w[1:]):
            counts[(a, b)] += f
            where[(a, b)].add(wi)
    heap = [(-c, p) for p, c in counts.items()]
    heapq.heapify(heap)
    merges = []
    while len(merges) < n_merges and heap:
        neg, pair = heapq.heappop(heap)
        if counts.get(pair, 0) != -neg:
            continue  # stale entry
        if -neg < min_frequency:
            break
        merges.append(pair)
        a, b = pair
        merged = a + b
        changed = set()
        for wi in list(where.pop(pair, ())):
            w, f = words[wi], freqs[wi]
            for x, y in zip(w, w[1:]):
                counts[(x, y)] -= f
                changed.add((x, y))
            out, i = [], 0
            while i < len(w):
                if i < len(w) - 1 and w[i] == a and w[i + 1] == b:
                    out.append(merged)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            words[wi] = out
            for x, y in zip(out, out[1:]):
                counts[(x, y)] += f
                where[(x, y)].add(wi)
                changed.add((x, y))
        counts.pop(pair, None)
        for p in changed:
            c = counts.get(p, 0)
            if c > 0:
                heapq.heappush(heap, (-c, p))
            else:
                counts.pop(p, None)
    return merges


def tokenizer_json(vocab, merges):
    """The tokenizer.json of Mistral's HF tokenizer, with this vocabulary and these merges."""
    added = [{'id': i, 'content': t, 'single_word': False, 'lstrip': False, 'rstrip': False, 'normalized': False, 'special': True}
             for i, t in enumerate(bpe.SPECIALS)]
    seq = lambda i: {'Sequence': {'id': i, 'type_id': 0 if i == 'A' else 1}}
    bos = lambda t: {'SpecialToken': {'id': '<s>', 'type_id': t}}
    return {
        'version': '1.0', 'truncation': None, 'padding': None, 'added_tokens': added,
        'normalizer': {'type': 'Sequence', 'normalizers': [{'type': 'Prepend', 'prepend': bpe.SPACE},
                                                           {'type': 'Replace', 'pattern': {'String': ' '}, 'content': bpe.SPACE}]},
        'pre_tokenizer': None,
        'post_processor': {'type': 'TemplateProcessing', 'single': [bos(0), seq('A')], 'pair': [bos(0), seq('A'), bos(1), seq('B')],
                           'special_tokens': {'<s>': {'id': '<s>', 'ids': [1], 'tokens': ['<s>']}}},
        'decoder': {'type': 'Sequence', 'decoders': [{'type': 'Replace', 'pattern': {'String': bpe.SPACE}, 'content': ' '},
                                                     {'type': 'ByteFallback'}, {'type': 'Fuse'},
                                                     {'type': 'Strip', 'content': ' ', 'start': 1, 'stop': 0}]},
        'model': {'type': 'BPE', 'dropout': None, 'unk_token': '<unk>', 'continuing_subword_prefix': None,
                  'end_of_word_suffix': None, 'fuse_unk': True, 'byte_fallback': True, 'ignore_merges': False,
                  'vocab': vocab, 'merges': [f'{a} {b}' for a, b in merges]},
    }


def tokenizer_config():
    fixture_cfg = os.path.join(common.REPO, 'test', 'fixtures', 'tiny-mixtral', 'tokenizer_config.json')
    with open(fixture_cfg, encoding='utf-8') as f:
        chat_template = json.load(f)['chat_template']
    special = {str(i): {'content': t, 'lstrip': False, 'normalized': False, 'rstrip': False, 'single_word': False, 'special': True}
               for i, t in enumerate(bpe.SPECIALS)}
    return {
        'add_bos_token': True, 'add_eos_token': False, 'added_tokens_decoder': special, 'bos_token': '<s>',
        'eos_token': '</s>', 'unk_token': '<unk>', 'pad_token': None, 'clean_up_tokenization_spaces': False,
        'legacy': True, 'model_max_length': 4096, 'tokenizer_class': 'LlamaTokenizerFast', 'chat_template': chat_template,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--vocab', type=int, default=4096)
    ap.add_argument('--max-chars', type=int, default=200)
    ap.add_argument('--min-char-count', type=int, default=50)
    ap.add_argument('--out', default=common.TOKENIZER_DIR)
    args = ap.parse_args()
    t0 = time.time()
    train_path, heldout_path = common.ensure_corpus()
    entries = common.read_entries(train_path)

    chars = collections.Counter()
    for e in entries:
        chars.update(bpe.normalize(e))
    chars.pop('\n', None)
    kept = [c for c, n in sorted(chars.items(), key=lambda kv: (-kv[1], kv[0])) if n >= args.min_char_count][:args.max_chars]
    if bpe.SPACE not in kept:
        kept.append(bpe.SPACE)
    vocab = {t: i for i, t in enumerate(bpe.SPECIALS)}
    for b in range(256):
        vocab[bpe.byte_token(b)] = len(vocab)
    for c in kept:
        vocab.setdefault(c, len(vocab))
    table = segment_table(entries, set(kept))
    merges = learn_merges(table, args.vocab - len(vocab))
    for a, b in merges:
        assert a + b not in vocab, f'merge {a!r}+{b!r} duplicates a token'
        vocab[a + b] = len(vocab)
    print(f'{len(kept)} characters, {len(table):,} distinct segments, {len(merges)} merges -> {len(vocab)} tokens '
          f'in {time.time() - t0:.0f}s')

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, 'tokenizer.json'), 'w', encoding='utf-8') as f:
        json.dump(tokenizer_json(vocab, merges), f, indent=2, ensure_ascii=False)
        f.write('\n')
    with open(os.path.join(args.out, 'tokenizer_config.json'), 'w', encoding='utf-8') as f:
        json.dump(tokenizer_config(), f, indent=2, ensure_ascii=False)
        f.write('\n')

    enc = bpe.Encoder(vocab, merges)
    dec = bpe.Decoder(vocab)
    held = common.read_entries(heldout_path)
    n_tok = sum(len(enc.encode(e)) for e in held)
    bad = [e for e in held if dec.decode(enc.encode(e)) != e]
    print(f'held-out: {sum(map(len, held)) / n_tok:.2f} characters per token, {n_tok:,} tokens; '
          f'{len(bad)} entries fail the Python round trip; {time.time() - t0:.0f}s -> {args.out}')


if __name__ == '__main__':
    main()
