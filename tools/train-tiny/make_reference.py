#!/usr/bin/env python3
"""Computes, with model.py (plain PyTorch; the same numbers as transformers' MixtralForCausalLM, see
check_equivalence.py) in float32 on the stored bf16 weights, what test/demo-model.test.mjs checks smoe against,
and writes it to models/demo/reference.json:

  heldout   the perplexity on the first WINDOWS held-out windows (common.py's protocol: entries of
            corpus/heldout.txt as <s> text </s>, concatenated, cut into 256-token windows), with the ids of the
            first window and the per-window mean NLL, so a mismatch in the chunking shows at once
  greedy    for a few prompts per language, the prompt ids (encoded with <s>) and the next 32 tokens by argmax
            (EOS not treated specially)

  /usr/bin/python3 tools/train-tiny/make_reference.py [--model models/demo] [--windows 128]
"""
import argparse
import json
import math
import os

import common  # first: thread environment
import torch

import bpe
import export_model

PROMPTS = {
    'en': ['The meaning of life is', 'A computer is'],
    'de': ['Das Leben ist', 'Ein Computer ist'],
    'es': ['La vida es', 'El amor es'],
    'it': ['La vita è', 'Il computer'],
    'kjv': ['In the beginning God', 'And the LORD said unto Moses,'],
}
NEW_TOKENS = 32


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', default=common.MODEL_DIR)
    ap.add_argument('--windows', type=int, default=32)
    ap.add_argument('--threads', type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tok = bpe.Encoder.from_file(os.path.join(args.model, 'tokenizer.json'))
    dec = bpe.Decoder(tok.vocab)
    _, model = export_model.load_folder(args.model)
    _, heldout_path = common.ensure_corpus()
    windows = common.heldout_windows(tok, heldout_path, args.windows)
    all_windows = len(common.heldout_windows(tok, heldout_path))

    per_window = []
    with torch.no_grad():
        for i in range(0, len(windows), 16):
            x = torch.tensor(windows[i:i + 16])
            logp = torch.log_softmax(model(x)[0][:, :-1].double(), dim=-1)
            nll = -logp.gather(-1, x[:, 1:, None]).squeeze(-1)
            per_window += nll.mean(dim=1).tolist()
    mean_nll = sum(per_window) / len(per_window)  # every window scores SEQ_LEN - 1 tokens

    greedy = []
    with torch.no_grad():
        for lang, prompts in PROMPTS.items():
            for prompt in prompts:
                ids = [tok.vocab[common.BOS]] + tok.encode(prompt)  # <s> + text, as smoe's generate() encodes text
                seq = list(ids)
                for _ in range(NEW_TOKENS):
                    logits = model(torch.tensor([seq]))[0][0, -1]
                    seq.append(int(torch.argmax(logits)))
                new = seq[len(ids):]
                greedy.append({'language': lang, 'prompt': prompt, 'ids': ids, 'greedy_new_ids': new,
                               'text': dec.decode(new)})
                print(f'[{lang}] {prompt!r} -> {greedy[-1]["text"]!r}')

    ref = {
        'about': 'outputs of tools/train-tiny/model.py (plain PyTorch, checked equal to transformers MixtralForCausalLM '
                 'by check_equivalence.py; float32 compute on the stored bf16 weights); see tools/train-tiny',
        'torch': torch.__version__,
        'heldout': {
            'file': 'tools/train-tiny/corpus/heldout.txt',
            'seq_len': common.SEQ_LEN,
            'windows': len(windows),
            'windows_available': all_windows,
            'tokens_scored': len(windows) * (common.SEQ_LEN - 1),
            'mean_nll': mean_nll,
            'perplexity': math.exp(mean_nll),
            'first_window_ids': windows[0],
            'window_mean_nll': per_window,
        },
        'greedy': greedy,
    }
    path = os.path.join(args.model, 'reference.json')
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(ref, f, indent=1, ensure_ascii=False)
        f.write('\n')
    print(f'held-out perplexity {math.exp(mean_nll):.3f} on {len(windows)} windows -> {path}')


if __name__ == '__main__':
    main()
