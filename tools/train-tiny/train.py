#!/usr/bin/env python3
"""Trains the demo Mixtral (8 experts, top-2) and a dense baseline with the same active parameter count on
the fortune/KJV corpus, logging held-out loss curves. Needs torch and transformers (5.x), tokenizers, a GPU.

  python3 tools/train-tiny/train.py                 # both models (moe, then dense)
  python3 tools/train-tiny/train.py --model moe     # one of them (each fits one 10-minute device call)

Outputs
  models/demo/                  the MoE model: config.json, model.safetensors (bf16, Mixtral checkpoint names),
                                tokenizer.json, tokenizer_config.json, generation_config.json, training.json
  tools/train-tiny/out/dense/   the dense baseline (MistralForCausalLM, intermediate = top_k x expert size)
  tools/train-tiny/out/loss-{moe,dense}.csv   step, tokens, train_loss, heldout_loss, lr, seconds
"""
import argparse
import csv
import inspect
import json
import math
import os
import random
import shutil
import time

import torch
from tokenizers import Tokenizer

import common

# The demo model: bf16 weights of about 19 MB (9.7M parameters, 3.8M active per token; the dense baseline has 3.8M).
MOE = dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2, intermediate_size=320,
           num_local_experts=8, num_experts_per_tok=2)


def make_config(kind, vocab_size):
    common_kw = dict(
        vocab_size=vocab_size, hidden_size=MOE['hidden_size'], num_hidden_layers=MOE['num_hidden_layers'],
        num_attention_heads=MOE['num_attention_heads'], num_key_value_heads=MOE['num_key_value_heads'],
        max_position_embeddings=4096, rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2, pad_token_id=None,
        tie_word_embeddings=True, sliding_window=None, initializer_range=0.02, attention_dropout=0.0,
    )
    rope = dict(rope_parameters={'rope_type': 'default', 'rope_theta': 10000.0})
    if kind == 'moe':
        from transformers import MixtralConfig as Config
        kw = dict(common_kw, intermediate_size=MOE['intermediate_size'], num_local_experts=MOE['num_local_experts'],
                  num_experts_per_tok=MOE['num_experts_per_tok'], output_router_logits=True, router_aux_loss_coef=0.01,
                  router_jitter_noise=0.0)
    else:
        from transformers import MistralConfig as Config
        # Same active parameters per token: one FFN as wide as top_k experts together (the router aside).
        kw = dict(common_kw, intermediate_size=MOE['num_experts_per_tok'] * MOE['intermediate_size'])
    try:
        return Config(**kw, **rope)
    except TypeError:
        return Config(**kw, rope_theta=10000.0)


def build_model(kind, config, experts_impl):
    from transformers import MistralForCausalLM, MixtralForCausalLM
    cls = MixtralForCausalLM if kind == 'moe' else MistralForCausalLM
    if kind == 'moe' and experts_impl:
        config._experts_implementation = experts_impl
    return cls(config)


def load_stream(tokenizer, path):
    ids = [t for e in common.encode_entries(tokenizer, common.read_entries(path)) for t in e]
    return torch.tensor(ids, dtype=torch.long)


@torch.no_grad()
def heldout_loss(model, windows, device, batch=64):
    """Mean NLL over every held-out window's next-token predictions (the common.py protocol)."""
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(windows), batch):
        x = windows[i:i + batch].to(device)
        with torch.autocast('cuda', dtype=torch.bfloat16, enabled=device.type == 'cuda'):
            logits = model(input_ids=x).logits
        logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
        nll = -logp.gather(-1, x[:, 1:, None]).squeeze(-1)
        total += nll.sum().item()
        count += nll.numel()
    model.train()
    return total / count


def save_mixtral(model, out_dir, tokenizer_dir, meta):
    """Writes the MoE model as a Mixtral checkpoint with the classic tensor names
    (block_sparse_moe.experts.N.w1/w2/w3, block_sparse_moe.gate), whatever transformers' in-memory layout is,
    then checks that transformers loads it back to the same logits."""
    from safetensors.torch import save_file
    from transformers import MixtralForCausalLM
    cfg = model.config
    I = cfg.intermediate_size
    out = {}
    for name, t in model.state_dict().items():
        t = t.detach().to(torch.bfloat16).cpu()
        if cfg.tie_word_embeddings and name == 'lm_head.weight':
            continue
        if name.endswith('.mlp.experts.gate_up_proj'):  # [E, 2I, D]: gate rows, then up rows
            base = name[:-len('mlp.experts.gate_up_proj')] + 'block_sparse_moe.experts.'
            if t.shape[1] != 2 * I:  # stored transposed: [E, D, 2I]
                t = t.transpose(1, 2)
            for e in range(t.shape[0]):
                out[f'{base}{e}.w1.weight'] = t[e, :I].contiguous()
                out[f'{base}{e}.w3.weight'] = t[e, I:].contiguous()
        elif name.endswith('.mlp.experts.down_proj'):  # [E, D, I]
            base = name[:-len('mlp.experts.down_proj')] + 'block_sparse_moe.experts.'
            if t.shape[2] != I:
                t = t.transpose(1, 2)
            for e in range(t.shape[0]):
                out[f'{base}{e}.w2.weight'] = t[e].contiguous()
        else:
            out[name.replace('.mlp.gate.', '.block_sparse_moe.gate.').replace('.mlp.experts.', '.block_sparse_moe.experts.')] = t.contiguous()
    os.makedirs(out_dir, exist_ok=True)
    save_file(out, os.path.join(out_dir, 'model.safetensors'), metadata={'format': 'pt'})
    cfg.output_router_logits = False
    if hasattr(cfg, '_experts_implementation'):
        try:
            del cfg._experts_implementation
        except AttributeError:
            pass
    cfg.architectures = ['MixtralForCausalLM']
    cfg.dtype = 'bfloat16'
    cfg.save_pretrained(out_dir)
    write_generation_config(out_dir)
    copy_tokenizer(tokenizer_dir, out_dir)
    with open(os.path.join(out_dir, 'training.json'), 'w') as f:
        json.dump(meta, f, indent=2)
        f.write('\n')

    # The checkpoint must load in transformers and give the trained model's (bf16-rounded) outputs.
    names = set(out)
    assert 'model.layers.0.block_sparse_moe.experts.0.w1.weight' in names and 'model.layers.0.block_sparse_moe.gate.weight' in names
    assert not any('.mlp.' in n for n in names), [n for n in names if '.mlp.' in n][:4]
    x = torch.randint(3, cfg.vocab_size, (1, 32))
    reloaded = MixtralForCausalLM.from_pretrained(out_dir, dtype=torch.float32).eval()
    ref = type(model)(cfg).eval()
    ref.load_state_dict({k: v.detach().to(torch.bfloat16).float().cpu() for k, v in model.state_dict().items()})
    with torch.no_grad():
        a, b = reloaded(input_ids=x).logits, ref(input_ids=x).logits
    diff = (a - b).abs().max().item()
    assert diff < 1e-3, f'the saved checkpoint does not reload to the trained model (max |logit diff| {diff})'
    print(f'saved {out_dir} ({os.path.getsize(os.path.join(out_dir, "model.safetensors")):,} bytes); reload check: max |diff| {diff:.2e}')


def write_generation_config(out_dir):
    gen = {'bos_token_id': 1, 'eos_token_id': 2, 'do_sample': True, 'temperature': 0.8, 'top_k': 40, 'top_p': 0.95, 'max_new_tokens': 128}
    with open(os.path.join(out_dir, 'generation_config.json'), 'w') as f:
        json.dump(gen, f, indent=2)
        f.write('\n')


def copy_tokenizer(tokenizer_dir, out_dir):
    for name in ('tokenizer.json', 'tokenizer_config.json'):
        shutil.copyfile(os.path.join(tokenizer_dir, name), os.path.join(out_dir, name))


def save_pretrained(model, out_dir):
    """save_pretrained in safetensors (transformers 5 always writes safetensors; 4.x needs the flag)."""
    kw = {'safe_serialization': True} if 'safe_serialization' in inspect.signature(model.save_pretrained).parameters else {}
    model.to(torch.bfloat16).save_pretrained(out_dir, **kw)


def train(kind, args, tokenizer, train_ids, windows, device):
    seed = args.seed
    random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    config = make_config(kind, tokenizer.get_vocab_size())
    model = build_model(kind, config, args.experts_impl).to(device)
    n_params = sum(p.numel() for p in model.parameters())
    print(f'[{kind}] {n_params:,} parameters; {len(train_ids):,} training tokens; {len(windows)} held-out windows')
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': args.weight_decay}, {'params': no_decay, 'weight_decay': 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8, fused=device.type == 'cuda')

    def lr_at(step):
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        p = (step - args.warmup) / max(1, args.steps - args.warmup)
        return args.lr * (args.min_lr_ratio + (1 - args.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(p, 1.0))))

    gen = torch.Generator().manual_seed(seed)
    L = common.SEQ_LEN
    csv_path = os.path.join(common.OUT, f'loss-{kind}.csv')
    os.makedirs(common.OUT, exist_ok=True)
    f = open(csv_path, 'w', newline='')
    log = csv.writer(f)
    log.writerow(['step', 'tokens', 'train_loss', 'heldout_loss', 'lr', 'seconds'])
    t0 = time.time()
    running, n_running, stopped_early = 0.0, 0, False
    step = 0
    for step in range(args.steps + 1):
        if step % args.eval_every == 0 or step == args.steps:
            h = heldout_loss(model, windows, device)
            tr = running / n_running if n_running else float('nan')
            log.writerow([step, step * args.batch * L, f'{tr:.5f}', f'{h:.5f}', f'{lr_at(step):.6g}', f'{time.time() - t0:.1f}'])
            f.flush()
            print(f'[{kind}] step {step:5d}  train {tr:.4f}  held-out {h:.4f} (ppl {math.exp(h):.2f})  {time.time() - t0:.0f}s', flush=True)
            running, n_running = 0.0, 0
        if step == args.steps:
            break
        if args.max_minutes and time.time() - t0 > args.max_minutes * 60:
            print(f'[{kind}] stopping at step {step}: --max-minutes {args.max_minutes} reached')
            h = heldout_loss(model, windows, device)
            log.writerow([step, step * args.batch * L, '', f'{h:.5f}', f'{lr_at(step):.6g}', f'{time.time() - t0:.1f}'])
            stopped_early = True
            break
        for g in opt.param_groups:
            g['lr'] = lr_at(step)
        starts = torch.randint(0, len(train_ids) - L - 1, (args.batch,), generator=gen)
        x = torch.stack([train_ids[s:s + L] for s in starts.tolist()]).to(device, non_blocking=True)
        with torch.autocast('cuda', dtype=torch.bfloat16, enabled=device.type == 'cuda'):
            outputs = model(input_ids=x, labels=x)
        loss = outputs.loss  # includes router_aux_loss_coef x the load-balancing loss for the MoE
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        lm = outputs.loss - (config.router_aux_loss_coef * outputs.aux_loss if kind == 'moe' and getattr(outputs, 'aux_loss', None) is not None else 0)
        running += lm.item() if torch.is_tensor(lm) else float(lm)
        n_running += 1
    f.close()
    seconds = time.time() - t0
    final = heldout_loss(model, windows, device)
    meta = {'kind': kind, 'parameters': n_params, 'steps': step, 'batch': args.batch, 'seq_len': L, 'lr': args.lr,
            'seed': seed, 'seconds': round(seconds, 1), 'heldout_loss': final, 'heldout_perplexity': math.exp(final),
            'stopped_early': stopped_early, 'torch': torch.__version__}
    import transformers
    meta['transformers'] = transformers.__version__
    print(f'[{kind}] done in {seconds:.0f}s: held-out loss {final:.4f}, perplexity {math.exp(final):.2f}')
    model.eval()
    if kind == 'moe':
        save_mixtral(model.float().cpu(), args.out, common.TOKENIZER_DIR, meta)
    else:
        out = os.path.join(common.OUT, 'dense')
        save_pretrained(model.cpu(), out)
        copy_tokenizer(common.TOKENIZER_DIR, out)
        with open(os.path.join(out, 'training.json'), 'w') as fh:
            json.dump(meta, fh, indent=2)
            fh.write('\n')
    return meta


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', choices=['moe', 'dense', 'both'], default='both')
    ap.add_argument('--steps', type=int, default=4000)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--lr', type=float, default=2e-3)
    ap.add_argument('--min-lr-ratio', type=float, default=0.1)
    ap.add_argument('--warmup', type=int, default=200)
    ap.add_argument('--weight-decay', type=float, default=0.1)
    ap.add_argument('--eval-every', type=int, default=200)
    ap.add_argument('--max-minutes', type=float, default=8.0, help='stop a model early past this (0 = no limit)')
    ap.add_argument('--experts-impl', default=None, help="transformers' experts implementation (e.g. grouped_mm, eager)")
    ap.add_argument('--seed', type=int, default=1234)
    ap.add_argument('--out', default=common.MODEL_DIR)
    args = ap.parse_args()

    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    if device.type != 'cuda':
        print('warning: no GPU; training on the CPU will take hours (try --steps 50 for a smoke test)')
    torch.backends.cuda.matmul.allow_tf32 = True
    tok_path = os.path.join(common.TOKENIZER_DIR, 'tokenizer.json')
    if not os.path.exists(tok_path):
        raise SystemExit(f'{tok_path} is missing: run train_tokenizer.py first')
    tokenizer = Tokenizer.from_file(tok_path)
    train_path, heldout_path = common.ensure_corpus()
    train_ids = load_stream(tokenizer, train_path)
    windows = torch.tensor(common.heldout_windows(tokenizer, heldout_path), dtype=torch.long)
    kinds = ['moe', 'dense'] if args.model == 'both' else [args.model]
    for kind in kinds:
        train(kind, args, tokenizer, train_ids, windows, device)


if __name__ == '__main__':
    main()
