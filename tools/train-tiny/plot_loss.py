#!/usr/bin/env python3
"""Plots the loss curves of the sparse (moe) and dense runs from out/{moe,dense}/log.jsonl (train.py) against
tokens seen: training loss (mean over 20 steps) and the held-out loss of the periodic evaluations (all languages
and per language), to docs/demo-loss.png (matplotlib, Agg).

  /usr/bin/python3 tools/train-tiny/plot_loss.py [--out docs/demo-loss.png]
"""
import argparse
import json
import os

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt

import common

COLORS = {'moe': 'tab:blue', 'dense': 'tab:orange'}
LANG_STYLE = {'en': ':', 'de': '--', 'es': '-.', 'it': (0, (1, 3)), 'kjv': (0, (5, 1))}


def read(kind):
    path = os.path.join(common.OUT, kind, 'log.jsonl')
    if not os.path.exists(path):
        return [], []
    rows = [json.loads(line) for line in open(path) if line.strip()]
    return [r for r in rows if 'step' in r], [r['eval'] for r in rows if 'eval' in r]


def smooth(xs, n=20):
    out, s = [], 0.0
    for i, x in enumerate(xs):
        s += x - (xs[i - n] if i >= n else 0)
        out.append(s / min(i + 1, n))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.path.join(common.REPO, 'docs', 'demo-loss.png'))
    args = ap.parse_args()
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.5))
    for kind in ('moe', 'dense'):
        steps, evals = read(kind)
        if not steps:
            continue
        label = 'sparse: 8 experts, top-2' if kind == 'moe' else 'dense: FFN 2x320 (same active params)'
        a.plot([r['tokens'] / 1e6 for r in steps], smooth([r['loss'] for r in steps]), color=COLORS[kind], alpha=0.5, lw=1,
               label=f'{label}, train')
        ev = [e for e in evals if e['step'] > 0]
        a.plot([e['tokens'] / 1e6 for e in ev], [e['loss']['all'] for e in ev], 'o-', color=COLORS[kind], ms=3,
               label=f'{label}, held-out')
        for lang, style in LANG_STYLE.items():
            b.plot([e['tokens'] / 1e6 for e in ev], [e['loss'][lang] for e in ev], color=COLORS[kind], ls=style, lw=1.2, marker='.',
                   label=f'{kind} {lang}')
    a.set_xlabel('tokens seen (millions)')
    a.set_ylabel('loss (nats/token)')
    a.set_title('Demo model training (CPU, plain PyTorch)')
    a.set_ylim(top=8)
    a.grid(alpha=0.3)
    a.legend(fontsize=8)
    b.set_xlabel('tokens seen (millions)')
    b.set_ylabel('held-out loss')
    b.set_title('Held-out loss per language')
    b.grid(alpha=0.3)
    b.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    fig.savefig(args.out, dpi=90)
    print(f'-> {args.out} ({os.path.getsize(args.out):,} bytes)')


if __name__ == '__main__':
    main()
