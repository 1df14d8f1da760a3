#!/usr/bin/env python3
"""Proves model.py is transformers' Mixtral: loads each shared fixture's weights (/work/shared/fixtures/tiny-mixtral,
-f32, -sliding; written and measured by transformers) into model.CausalLM, computes in float32, and compares with
the fixture's reference.json: the last position's logits (max |diff| <= 1e-4), every position's top-5 ids and
logsumexp, the router's top-k experts per layer and position, and the greedy continuation.

  /usr/bin/python3 tools/train-tiny/check_equivalence.py [fixture folders...]   # exit status 1 on any mismatch

The log of a run is committed as tools/train-tiny/logs/check_equivalence.log.
"""
import json
import os
import sys

import torch

import model as M
import safetensors_io

FIXTURES = ['/work/shared/fixtures/tiny-mixtral', '/work/shared/fixtures/tiny-mixtral-f32',
            '/work/shared/fixtures/tiny-mixtral-sliding']
TOL = 1e-4


def load(folder):
    with open(os.path.join(folder, 'config.json')) as f:
        cfg = M.Config.from_hf(json.load(f))
    net = M.CausalLM(cfg).eval()
    weights = {k: v.float() for k, v in safetensors_io.read_checkpoint(folder).items()}
    if cfg.tie_word_embeddings:
        weights.setdefault('lm_head.weight', weights['model.embed_tokens.weight'])
    missing, unexpected = net.load_state_dict(weights, strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    return cfg, net


def check(folder):
    cfg, net = load(folder)
    with open(os.path.join(folder, 'reference.json')) as f:
        ref = json.load(f)
    ok = True
    print(f'== {folder}: {cfg.num_hidden_layers} layers, hidden {cfg.hidden_size}, {cfg.num_local_experts} experts top-{cfg.num_experts_per_tok}, '
          f'heads {cfg.num_attention_heads}/{cfg.num_key_value_heads}, rope_theta {cfg.rope_theta:g}, sliding_window {cfg.sliding_window}')
    with torch.no_grad():
        for i, case in enumerate(ref['cases']):
            ids = torch.tensor([case['ids']])
            logits, _, chosen = net(ids)
            logits = logits[0]
            last = torch.tensor(case['last_logits'])
            d_last = (logits[-1] - last).abs().max().item()
            lse = torch.logsumexp(logits, dim=-1)
            d_lse = (lse - torch.tensor(case['logsumexp_per_position'])).abs().max().item()
            top5 = torch.topk(logits, 5, dim=-1).indices.tolist()
            top5_ok = top5 == case['top5_per_position']
            router = [ch.tolist() for ch in chosen]
            router_ok = router == case['router_topk_per_layer']
            seq = list(case['ids'])
            for _ in range(len(case['greedy_new_ids'])):
                seq.append(int(net(torch.tensor([seq]))[0][0, -1].argmax()))
            greedy_ok = seq[len(case['ids']):] == case['greedy_new_ids']
            good = d_last <= TOL and d_lse <= TOL and top5_ok and router_ok and greedy_ok
            ok &= good
            print(f'  case {i} ({len(case["ids"])} tokens): last logits max|diff| {d_last:.2e}, logsumexp max|diff| {d_lse:.2e}, '
                  f'top-5 {"same" if top5_ok else "DIFFERENT"}, router top-k {"same" if router_ok else "DIFFERENT"} '
                  f'({len(router)} layers x {len(router[0])} positions), greedy {len(case["greedy_new_ids"])} tokens '
                  f'{"same" if greedy_ok else "DIFFERENT"} -> {"ok" if good else "MISMATCH"}')
            if not router_ok:
                for l, (a, b) in enumerate(zip(router, case['router_topk_per_layer'])):
                    bad = [p for p, (x, y) in enumerate(zip(a, b)) if x != y]
                    if bad:
                        print(f'    layer {l}: positions {bad[:8]} ours {[a[p] for p in bad[:4]]} reference {[b[p] for p in bad[:4]]}')
    return ok


def main():
    torch.set_num_threads(2)
    folders = sys.argv[1:] or FIXTURES
    results = [check(f) for f in folders]
    print(f'torch {torch.__version__}: {sum(results)}/{len(results)} fixtures match transformers (tolerance {TOL})')
    sys.exit(0 if all(results) else 1)


if __name__ == '__main__':
    main()
