#!/usr/bin/env python3
"""Plots the held-out loss curves of the MoE and the dense baseline (out/loss-moe.csv, out/loss-dense.csv):
docs/demo-loss.png with matplotlib when it is installed, else docs/demo-loss.svg written by hand.

  python3 tools/train-tiny/plot_loss.py
"""
import csv
import math
import os

import common

SERIES = [('moe', 'Mixtral 8 experts, top-2', '#1f77b4'), ('dense', 'dense, same active parameters', '#d62728')]


def read(kind):
    path = os.path.join(common.OUT, f'loss-{kind}.csv')
    if not os.path.exists(path):
        return None
    with open(path) as f:
        rows = [r for r in csv.DictReader(f) if r['heldout_loss']]
    return [(int(r['tokens']) / 1e6, float(r['heldout_loss'])) for r in rows]


def title_for(data):
    parts = [f'{label}: {math.exp(d[-1][1]):.2f}' for (kind, label, _), d in data if d]
    return 'Held-out loss (final perplexity ' + '; '.join(parts) + ')'


def plot_png(data, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=150)
    for (kind, label, color), d in data:
        if d:
            ax.plot([x for x, _ in d], [y for _, y in d], label=label, color=color, linewidth=1.8)
    ax.set_xlabel('training tokens (millions)')
    ax.set_ylabel('held-out loss (nats/token)')
    ax.set_title(title_for(data), fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)


def esc(s):
    return s.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;').replace('"', '&quot;')


def plot_svg(data, path):
    W, H, left, right, top, bottom = 760, 420, 70, 20, 40, 55
    pts = [p for _, d in data if d for p in d]
    xmax = max(x for x, _ in pts) or 1
    ys = [y for _, y in pts if y == y]
    # skip the first (untrained) point when scaling so the interesting part is visible
    later = [y for _, d in data if d for _, y in d[1:]] or ys
    ymin, ymax = min(later), max(later)
    pad = (ymax - ymin) * 0.05 or 0.1
    ymin, ymax = ymin - pad, ymax + pad
    sx = lambda x: left + (W - left - right) * x / xmax
    sy = lambda y: top + (H - top - bottom) * (1 - (min(max(y, ymin), ymax) - ymin) / (ymax - ymin))
    o = ['<?xml version="1.0" encoding="UTF-8"?>',
         f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="Helvetica, Arial, sans-serif">',
         f'<rect x="0" y="0" width="{W}" height="{H}" fill="#ffffff"/>',
         f'<text x="{W / 2}" y="22" font-size="13" text-anchor="middle">{esc(title_for(data))}</text>']
    for i in range(6):
        y = ymin + (ymax - ymin) * i / 5
        o.append(f'<line x1="{left}" x2="{W - right}" y1="{sy(y):.1f}" y2="{sy(y):.1f}" stroke="#e5e5e5"/>')
        o.append(f'<text x="{left - 6}" y="{sy(y) + 4:.1f}" font-size="10" text-anchor="end">{y:.2f}</text>')
        x = xmax * i / 5
        o.append(f'<text x="{sx(x):.1f}" y="{H - bottom + 16}" font-size="10" text-anchor="middle">{x:.0f}</text>')
    o.append(f'<rect x="{left}" y="{top}" width="{W - left - right}" height="{H - top - bottom}" fill="none" stroke="#999999"/>')
    o.append(f'<text x="{(W + left) / 2}" y="{H - 14}" font-size="11" text-anchor="middle">training tokens (millions)</text>')
    o.append(f'<text x="16" y="{(H - bottom + top) / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 16 {(H - bottom + top) / 2})">held-out loss (nats/token)</text>')
    for n, ((kind, label, color), d) in enumerate(data):
        if not d:
            continue
        path_d = ' '.join(f'{"M" if i == 0 else "L"}{sx(x):.1f},{sy(y):.1f}' for i, (x, y) in enumerate(d))
        o.append(f'<path d="{path_d}" fill="none" stroke="{color}" stroke-width="2"/>')
        ly = top + 16 + 16 * n
        o.append(f'<line x1="{W - right - 230}" x2="{W - right - 205}" y1="{ly}" y2="{ly}" stroke="{color}" stroke-width="2"/>')
        o.append(f'<text x="{W - right - 200}" y="{ly + 4}" font-size="11">{esc(label)}</text>')
    o.append('</svg>')
    with open(path, 'w', encoding='utf-8') as f:
        f.write('\n'.join(o) + '\n')


def main():
    data = [(s, read(s[0])) for s in SERIES]
    if not any(d for _, d in data):
        raise SystemExit(f'no loss curves in {common.OUT}: run train.py first')
    docs = os.path.join(common.REPO, 'docs')
    os.makedirs(docs, exist_ok=True)
    try:
        path = os.path.join(docs, 'demo-loss.png')
        plot_png(data, path)
    except ImportError:
        path = os.path.join(docs, 'demo-loss.svg')
        plot_svg(data, path)
    print(f'wrote {path}')


if __name__ == '__main__':
    main()
