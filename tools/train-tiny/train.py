#!/usr/bin/env python3
"""Trains the demo Mixtral (8 experts, top-2) or its dense baseline (a Mistral with one FFN of top_k x expert size:
the same active parameters per token) on the CPU with plain PyTorch (model.py), resumably.

  /usr/bin/python3 tools/train-tiny/train.py --kind moe --minutes 85      # -> out/moe/
  /usr/bin/python3 tools/train-tiny/train.py --kind dense --minutes 20    # -> out/dense/ (replays moe's LR per step)

Run it again with the same arguments to resume from out/KIND/checkpoint.pt (written atomically every
--checkpoint-minutes of running time: model, optimizer, RNG states, data position, step, running time).

Data: corpus/train.txt encoded with bpe.py (the ids smoe's tokenizer gives), each entry as <s> text </s>,
concatenated and cut into non-overlapping windows of SEQ_LEN tokens; each epoch visits the windows in an order
fixed by the seed and the epoch, --batch windows per step. Both kinds see the same windows in the same order.

Budget: --minutes of running time = the sum of the training steps' times, a step taking more than 10x the median
step counted as the median (the process was stopped, e.g. by SIGSTOP). Evaluations are not counted.

Learning rate: linear warm-up over --warmup steps, then a cosine to 10% over the budget (by running time). The
dense run takes the moe run's learning rate at each step from out/moe/log.jsonl (so at equal steps both have seen
the same tokens with the same learning rates), falling back to the schedule past its end.

Logs (out/KIND/log.jsonl, one JSON object per line): {"step", "tokens", "loss", "aux", "lr", "tok_s", "step_s",
"run_s", "wall"} per step; {"eval": ...} every --eval-every steps: held-out loss per language on a fixed subset
(the first --eval-windows windows of each language's held-out entries, SEQ_LEN tokens each); the model at every
evaluation is kept as out/KIND/snapshots/step-N.pt so that sparse and dense can be compared at equal tokens.
"""
import argparse
import json
import math
import os
import random
import signal
import statistics
import time

import common  # first: it sets the thread environment torch reads when loaded
import torch
import torch.nn.functional as F

import bpe
import model as M

# The demo model: 9.7M parameters (3.8M active per token); the dense baseline has 3.8M.
SHAPE = dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2, intermediate_size=320,
             num_local_experts=8, num_experts_per_tok=2, vocab_size=4096, rope_theta=10000.0, tie_word_embeddings=True,
             router_aux_loss_coef=0.01)
LANGS = ['en', 'de', 'es', 'it', 'kjv']


def make_config(kind):
    c = M.Config(**SHAPE)
    if kind == 'dense':
        c.intermediate_size = c.num_experts_per_tok * c.intermediate_size
        c.num_local_experts, c.num_experts_per_tok = 0, 0
    return c


def train_windows(enc):
    """[n, SEQ_LEN] windows of the packed training stream (cached in out/train-ids.pt)."""
    cache = os.path.join(common.OUT, 'train-ids.pt')
    tok_file = os.path.join(common.TOKENIZER_DIR, 'tokenizer.json')
    if os.path.exists(cache) and os.path.getmtime(cache) > os.path.getmtime(tok_file):
        stream = torch.load(cache)
    else:
        train_path, _ = common.ensure_corpus()
        stream = torch.tensor([t for ids in common.encode_entries(enc, common.read_entries(train_path)) for t in ids], dtype=torch.long)
        torch.save(stream, cache + '.tmp')
        os.replace(cache + '.tmp', cache)
    n = len(stream) // common.SEQ_LEN
    return stream[:n * common.SEQ_LEN].view(n, common.SEQ_LEN)


def eval_windows(enc, per_language):
    """{lang: [k, SEQ_LEN]}: each language's held-out entries (file order) as <s> text </s>, packed, first k windows."""
    _, heldout_path = common.ensure_corpus()
    entries = common.read_entries(heldout_path)
    langs = common.read_languages(heldout_path)
    out = {}
    for lang in LANGS:
        stream = [t for ids in common.encode_entries(enc, [e for e, l in zip(entries, langs) if l == lang]) for t in ids]
        n = min(per_language, len(stream) // common.SEQ_LEN)
        out[lang] = torch.tensor(stream[:n * common.SEQ_LEN], dtype=torch.long).view(n, common.SEQ_LEN)
    return out


def lm_loss(logits, x):
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1))


@torch.no_grad()
def evaluate(net, windows, batch=8):
    net.eval()
    out, total, count = {}, 0.0, 0
    for lang, w in windows.items():
        s = 0.0
        for i in range(0, len(w), batch):
            x = w[i:i + batch]
            s += lm_loss(net(x)[0], x).item() * len(x)
        out[lang] = s / len(w)
        total, count = total + s, count + len(w)
    out['all'] = total / count
    net.train()
    return out


def epoch_order(n, seed, epoch):
    g = torch.Generator().manual_seed(seed * 1000 + epoch)
    return torch.randperm(n, generator=g)


def atomic_save(obj, path):
    torch.save(obj, path + '.tmp')
    os.replace(path + '.tmp', path)


def read_log(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--kind', choices=['moe', 'dense'], required=True)
    ap.add_argument('--minutes', type=float, required=True, help='training budget in minutes of running time')
    ap.add_argument('--batch', type=int, default=8)
    ap.add_argument('--lr', type=float, default=1.5e-3)
    ap.add_argument('--warmup', type=int, default=50)
    ap.add_argument('--weight-decay', type=float, default=0.1)
    ap.add_argument('--eval-every', type=int, default=100)
    ap.add_argument('--eval-windows', type=int, default=12, help='held-out windows per language in the periodic evaluation')
    ap.add_argument('--checkpoint-minutes', type=float, default=5.0)
    ap.add_argument('--round-to-eval', action='store_true', help='past the budget, stop at the next evaluation step')
    ap.add_argument('--max-steps', type=int, default=0, help='stop after this step (0 = no limit; for tests)')
    ap.add_argument('--seed', type=int, default=1234)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--out', default=None, help='default: out/KIND')
    ap.add_argument('--pid-file', default=None, help='write the process id here (e.g. /work/train.pid)')
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    out_dir = args.out or os.path.join(common.OUT, args.kind)
    os.makedirs(os.path.join(out_dir, 'snapshots'), exist_ok=True)
    ckpt_path, log_path = os.path.join(out_dir, 'checkpoint.pt'), os.path.join(out_dir, 'log.jsonl')

    enc = bpe.Encoder.from_file(os.path.join(common.TOKENIZER_DIR, 'tokenizer.json'))
    windows = train_windows(enc)
    evals = eval_windows(enc, args.eval_windows)
    config = make_config(args.kind)
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    net = M.CausalLM(config)
    decay = [p for p in net.parameters() if p.dim() >= 2]
    no_decay = [p for p in net.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': args.weight_decay}, {'params': no_decay, 'weight_decay': 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    state = {'step': 0, 'epoch': 0, 'index': 0, 'run_s': 0.0, 'step_times': []}
    if os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path)
        net.load_state_dict(ck['model'])
        opt.load_state_dict(ck['optimizer'])
        torch.set_rng_state(ck['torch_rng'])
        random.setstate(ck['python_rng'])
        state = ck['state']
        kept = [r for r in read_log(log_path) if r.get('step', r.get('eval', {}).get('step', 0)) <= state['step']]
        with open(log_path + '.tmp', 'w') as f:
            f.writelines(json.dumps(r) + '\n' for r in kept)
        os.replace(log_path + '.tmp', log_path)
        print(f'[{args.kind}] resumed at step {state["step"]} ({state["run_s"] / 60:.1f} min run)', flush=True)
    elif os.path.exists(log_path):
        os.remove(log_path)
    if args.pid_file:
        with open(args.pid_file, 'w') as f:
            f.write(f'{os.getpid()}\n')

    replay = {}
    if args.kind == 'dense':
        # A log row's 'step' counts the updates done; its 'lr' is the one used for update number step - 1 (from 0).
        replay = {r['step'] - 1: r['lr'] for r in read_log(os.path.join(common.OUT, 'moe', 'log.jsonl')) if 'lr' in r}
    budget = args.minutes * 60

    def lr_at(step, run_s):
        if step in replay:
            return replay[step]
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        p = min(1.0, run_s / budget)
        return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))

    n_params = sum(p.numel() for p in net.parameters())
    print(f'[{args.kind}] {n_params:,} parameters, {len(windows):,} training windows of {common.SEQ_LEN} '
          f'({windows.numel():,} tokens), batch {args.batch}, budget {args.minutes} min', flush=True)
    log = open(log_path, 'a')

    def save_checkpoint():
        atomic_save({'model': net.state_dict(), 'optimizer': opt.state_dict(), 'torch_rng': torch.get_rng_state(),
                     'python_rng': random.getstate(), 'state': state, 'config': config.__dict__, 'args': vars(args)}, ckpt_path)

    def do_eval():
        t = time.time()
        res = evaluate(net, evals)
        row = {'eval': {'step': state['step'], 'tokens': state['step'] * args.batch * common.SEQ_LEN, 'run_s': round(state['run_s'], 1),
                        'loss': {k: round(v, 5) for k, v in res.items()}, 'eval_s': round(time.time() - t, 1)}}
        log.write(json.dumps(row) + '\n')
        log.flush()
        atomic_save({'model': net.state_dict(), 'config': config.__dict__, 'step': state['step']},
                    os.path.join(out_dir, 'snapshots', f'step-{state["step"]}.pt'))
        print(f'[{args.kind}] eval step {state["step"]}: ' + ' '.join(f'{k} {v:.3f}' for k, v in res.items()), flush=True)

    stop = {'now': False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    last_ckpt = state['run_s']
    if state['step'] == 0:
        do_eval()
    def more():
        if stop['now'] or (args.max_steps and state['step'] >= args.max_steps):
            return False
        # --round-to-eval: past the budget, go on to the next evaluation step (to compare at equal tokens).
        return state['run_s'] < budget or (args.round_to_eval and state['step'] % args.eval_every != 0)
    while more():
        order = epoch_order(len(windows), args.seed, state['epoch'])
        if state['index'] + args.batch > len(order):
            state['epoch'] += 1
            state['index'] = 0
            continue
        x = windows[order[state['index']:state['index'] + args.batch]]
        lr = lr_at(state['step'], state['run_s'])
        for g in opt.param_groups:
            g['lr'] = lr
        t0 = time.perf_counter()
        logits, routers, _ = net(x)
        loss = lm_loss(logits, x)
        aux = M.load_balancing_loss(routers, config.num_local_experts, config.num_experts_per_tok) if routers else torch.zeros(())
        total = loss + config.router_aux_loss_coef * aux if routers else loss
        opt.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        dt = time.perf_counter() - t0
        times = state['step_times']
        median = statistics.median(times[-50:]) if len(times) >= 10 else None
        counted = median if median is not None and dt > 10 * median else dt  # a stopped process: count a normal step
        times.append(counted)
        del times[:-200]
        state['run_s'] += counted
        state['step'] += 1
        state['index'] += args.batch
        n_tok = args.batch * common.SEQ_LEN
        log.write(json.dumps({'step': state['step'], 'tokens': state['step'] * n_tok, 'loss': round(loss.item(), 5),
                              'aux': round(aux.item(), 5), 'lr': lr, 'tok_s': round(n_tok / dt, 1), 'step_s': round(dt, 3),
                              'counted_s': round(counted, 3), 'run_s': round(state['run_s'], 1), 'wall': round(time.time(), 1)}) + '\n')
        log.flush()
        if state['step'] % 10 == 0:
            print(f'[{args.kind}] step {state["step"]} loss {loss.item():.4f} aux {aux.item():.4f} lr {lr:.2e} '
                  f'{n_tok / dt:.0f} tok/s run {state["run_s"] / 60:.1f} min', flush=True)
        if state['step'] % args.eval_every == 0:
            do_eval()
        if state['run_s'] - last_ckpt >= args.checkpoint_minutes * 60:
            save_checkpoint()
            last_ckpt = state['run_s']
    if state['step'] % args.eval_every != 0:
        do_eval()
    save_checkpoint()
    atomic_save({'model': net.state_dict(), 'config': config.__dict__, 'step': state['step']}, os.path.join(out_dir, 'final.pt'))
    done = 'stopped by SIGTERM' if stop['now'] else 'budget reached' if state['run_s'] >= budget else 'max steps reached'
    print(f'[{args.kind}] {done} at step {state["step"]}: {state["step"] * args.batch * common.SEQ_LEN:,} tokens, '
          f'{state["run_s"] / 60:.1f} min running', flush=True)
    log.close()


if __name__ == '__main__':
    main()
