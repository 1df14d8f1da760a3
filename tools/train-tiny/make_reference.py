#!/usr/bin/env python3
"""Computes, with transformers in float32 on the stored bf16 weights, what test/demo-model.test.mjs checks
smoe against, and writes it to models/demo/reference.json:

  heldout   the perplexity on the first WINDOWS held-out windows (common.py's protocol: entries of
            corpus/heldout.txt as <s> text </s>, concatenated, cut into 256-token windows), with the ids of the
            first window and the per-window mean NLL, so a mismatch in the chunking shows at once
  greedy    for a few prompts per language, the prompt ids (encoded with <s>) and the next 32 tokens by argmax
            (EOS not treated specially)

  python3 tools/train-tiny/make_reference.py [--model models/demo] [--windows 128]
"""
import argparse
import json
import math
import os

import torch
from tokenizers import Tokenizer

import common

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
    ap.add_argument('--windows', type=int, default=128)
    args = ap.parse_args()
    from transformers import MixtralForCausalLM
    import transformers

    torch.manual_seed(0)
    tok = Tokenizer.from_file(os.path.join(args.model, 'tokenizer.json'))
    model = MixtralForCausalLM.from_pretrained(args.model, dtype=torch.float32).eval()
    _, heldout_path = common.ensure_corpus()
    windows = common.heldout_windows(tok, heldout_path, args.windows)
    all_windows = len(common.heldout_windows(tok, heldout_path))

    per_window = []
    with torch.no_grad():
        for i in range(0, len(windows), 16):
            x = torch.tensor(windows[i:i + 16])
            logp = torch.log_softmax(model(input_ids=x).logits[:, :-1].double(), dim=-1)
            nll = -logp.gather(-1, x[:, 1:, None]).squeeze(-1)
            per_window += nll.mean(dim=1).tolist()
    mean_nll = sum(per_window) / len(per_window)  # every window scores SEQ_LEN - 1 tokens

    greedy = []
    with torch.no_grad():
        for lang, prompts in PROMPTS.items():
            for prompt in prompts:
                ids = tok.encode(prompt).ids  # <s> + text, as smoe's generate() encodes text
                seq = list(ids)
                for _ in range(NEW_TOKENS):
                    logits = model(input_ids=torch.tensor([seq])).logits[0, -1]
                    seq.append(int(torch.argmax(logits)))
                new = seq[len(ids):]
                greedy.append({'language': lang, 'prompt': prompt, 'ids': ids, 'greedy_new_ids': new,
                               'text': tok.decode(new, skip_special_tokens=True)})
                print(f'[{lang}] {prompt!r} -> {greedy[-1]["text"]!r}')

    ref = {
        'about': 'outputs of transformers MixtralForCausalLM (float32 compute on the stored bf16 weights); see tools/train-tiny',
        'transformers': transformers.__version__,
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
