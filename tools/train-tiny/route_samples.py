#!/usr/bin/env python3
"""Writes one held-out sample text per language (en, de, es, it; kjv with --kjv) for `smoe route --by-language`:
the first held-out entries of that language (file order) joined by newlines, up to --chars characters.

  /usr/bin/python3 tools/train-tiny/route_samples.py out/route && npx smoe route --by-language out/route --svg docs/demo-router.svg
"""
import argparse
import os

import common


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('out')
    ap.add_argument('--chars', type=int, default=1200)
    ap.add_argument('--kjv', action='store_true')
    args = ap.parse_args()
    _, heldout = common.ensure_corpus()
    entries, langs = common.read_entries(heldout), common.read_languages(heldout)
    os.makedirs(args.out, exist_ok=True)
    for lang in ['en', 'de', 'es', 'it'] + (['kjv'] if args.kjv else []):
        text = ''
        for e, l in zip(entries, langs):
            if l == lang and len(text) + len(e) + 1 <= args.chars:
                text += e + '\n'
        with open(os.path.join(args.out, f'{lang}.txt'), 'w', encoding='utf-8') as f:
            f.write(text)
        print(f'{lang}: {len(text)} characters')


if __name__ == '__main__':
    main()
