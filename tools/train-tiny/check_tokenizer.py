#!/usr/bin/env python3
"""Checks that smoe's tokenizer gives the ids of bpe.py (the ids the model is trained on) on all held-out entries,
the first --train-entries training entries and some edge cases, and that smoe round-trips each text exactly.

  /usr/bin/python3 tools/train-tiny/check_tokenizer.py [--tokenizer out/tokenizer]   # needs node and dist/
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import bpe
import common

EDGE = ['Hello world', '  two leading spaces', 'trailing  ', 'tab\tand\nnew\n\nlines\n', '\n\nstarts with newlines',
        'Der Fuchs springt über den Hund.', '¿Qué es la vida?', 'Così è la vita.', '🦙 λ 中文 ∑', '        -- Jean Paul', '']


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--tokenizer', default=common.TOKENIZER_DIR)
    ap.add_argument('--train-entries', type=int, default=3000)
    args = ap.parse_args()
    train_path, heldout_path = common.ensure_corpus()
    enc = bpe.Encoder.from_file(os.path.join(args.tokenizer, 'tokenizer.json'))
    texts = common.read_entries(heldout_path) + common.read_entries(train_path)[:args.train_entries] + EDGE
    cases = [{'text': t, 'ids': enc.encode(t)} for t in texts]
    with tempfile.NamedTemporaryFile('w', suffix='.json', delete=False, encoding='utf-8') as f:
        json.dump(cases, f, ensure_ascii=False)
    try:
        r = subprocess.run(['node', os.path.join(common.HERE, 'check_tokenizer.mjs'), args.tokenizer, f.name])
    finally:
        os.unlink(f.name)
    sys.exit(r.returncode)


if __name__ == '__main__':
    main()
