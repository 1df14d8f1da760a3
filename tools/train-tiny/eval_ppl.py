#!/usr/bin/env python3
"""Held-out perplexity per language of a trained model, in PyTorch (model.py, float32) and optionally in smoe on the
same windows, with the model's top-k and with top-1.

Windows: for each language, its held-out entries (file order, corpus/heldout-languages.txt) as <s> text </s>,
packed and cut into SEQ_LEN-token windows, the first --windows of them; a window's loss is the mean NLL of its
tokens 2..SEQ_LEN. 'all' is the mean over every language's windows.

  /usr/bin/python3 tools/train-tiny/eval_ppl.py --folder models/demo --smoe --top1     # exported model (bf16)
  /usr/bin/python3 tools/train-tiny/eval_ppl.py --trained out/dense/final.pt           # a train.py file (fp32)
Writes the figures as JSON to --json (default: print only).
"""
import argparse
import json
import math
import os
import subprocess
import tempfile

import common  # first: thread environment
import torch

import bpe
import export_model
import train


def ppl_torch(net, groups):
    out = {}
    with torch.no_grad():
        for name, w in groups.items():
            total = 0.0
            for i in range(0, len(w), 8):
                x = w[i:i + 8]
                logp = torch.log_softmax(net(x)[0][:, :-1].double(), dim=-1)
                total += (-logp.gather(-1, x[:, 1:, None]).squeeze(-1)).mean(dim=1).sum().item()
            out[name] = {'mean_nll': total / len(w), 'perplexity': math.exp(total / len(w)), 'windows': len(w)}
    return out


def ppl_smoe(folder, groups, k=None):
    with tempfile.NamedTemporaryFile('w', suffix='.json', delete=False) as f:
        json.dump({'groups': {n: w.tolist() for n, w in groups.items()}}, f)
    try:
        cmd = ['node', os.path.join(common.HERE, 'smoe_ppl.mjs'), folder, f.name] + ([str(k)] if k else [])
        return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    finally:
        os.unlink(f.name)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument('--folder', help='an exported model folder (bf16 weights, computed in float32)')
    src.add_argument('--trained', help='a train.py final.pt / snapshot (float32 weights)')
    ap.add_argument('--windows', type=int, default=40, help='windows per language')
    ap.add_argument('--smoe', action='store_true', help='also smoe on the same windows (needs --folder, node, dist/)')
    ap.add_argument('--top1', action='store_true', help='also with one expert per token')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--json', default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    enc = bpe.Encoder.from_file(os.path.join(common.TOKENIZER_DIR, 'tokenizer.json'))
    groups = train.eval_windows(enc, args.windows)
    config, net = export_model.load_folder(args.folder) if args.folder else export_model.load_trained(args.trained)

    def with_all(res):
        n = sum(r['windows'] for r in res.values())
        m = sum(r['mean_nll'] * r['windows'] for r in res.values()) / n
        return {**res, 'all': {'mean_nll': m, 'perplexity': math.exp(m), 'windows': n}}

    result = {'model': args.folder or args.trained, 'windows_per_language': args.windows, 'seq_len': common.SEQ_LEN}
    ks = [None] + ([1] if args.top1 and not config.dense else [])
    for k in ks:
        label = f'top{k or config.num_experts_per_tok}' if not config.dense else 'dense'
        if k:
            net.config.num_experts_per_tok = k
            for layer in net.model.layers:
                layer.block_sparse_moe.k = k
        result[f'pytorch_{label}'] = with_all(ppl_torch(net, groups))
        if args.smoe:
            result[f'smoe_{label}'] = with_all(ppl_smoe(args.folder, groups, k))
    names = list(groups) + ['all']
    cols = [c for c in result if c.startswith(('pytorch_', 'smoe_'))]
    print('| language | windows | ' + ' | '.join(cols) + ' |')
    print('|---' * (len(cols) + 2) + '|')
    for n in names:
        print(f'| {n} | {result[cols[0]][n]["windows"]} | ' + ' | '.join(f'{result[c][n]["perplexity"]:.3f}' for c in cols) + ' |')
    for c in cols:
        if c.startswith('smoe_'):
            p = 'pytorch_' + c[len('smoe_'):]
            worst = max(abs(result[c][n]['perplexity'] / result[p][n]['perplexity'] - 1) for n in names)
            print(f'{c} vs {p}: largest relative perplexity difference {worst * 100:.4f}%')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=1)
            f.write('\n')


if __name__ == '__main__':
    main()
