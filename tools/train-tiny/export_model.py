#!/usr/bin/env python3
"""Writes a trained model (out/KIND/final.pt or a snapshot) as a HF checkpoint folder that smoe and transformers
load: model.safetensors (bf16, the classic Mixtral tensor names; no lm_head.weight when the embeddings are tied),
config.json, generation_config.json, tokenizer.json, tokenizer_config.json, training.json (from the run's log).
It then reloads the written folder with model.py and checks it gives the bf16-rounded trained model's logits.

  /usr/bin/python3 tools/train-tiny/export_model.py out/moe/final.pt models/demo
"""
import argparse
import json
import os
import shutil

import torch

import common
import model as M
import safetensors_io

GENERATION = {'bos_token_id': 1, 'eos_token_id': 2, 'do_sample': True, 'temperature': 0.8, 'top_k': 40, 'top_p': 0.95,
              'max_new_tokens': 128}


def load_trained(path):
    """(config, CausalLM in float32) from a train.py checkpoint/snapshot/final file."""
    ck = torch.load(path)
    config = M.Config(**ck['config'])
    net = M.CausalLM(config)
    net.load_state_dict(ck['model'])
    return config, net.eval()


def load_folder(folder):
    """(config, CausalLM in float32 on the stored weights) from an exported folder."""
    with open(os.path.join(folder, 'config.json')) as f:
        config = M.Config.from_hf(json.load(f))
    net = M.CausalLM(config)
    weights = {k: v.float() for k, v in safetensors_io.read_checkpoint(folder).items()}
    if config.tie_word_embeddings:
        weights['lm_head.weight'] = weights['model.embed_tokens.weight']
    net.load_state_dict(weights)
    return config, net.eval()


def training_summary(log_path, step):
    rows = [json.loads(line) for line in open(log_path) if line.strip()]
    steps = [r for r in rows if 'step' in r and r['step'] <= step]
    evals = [r['eval'] for r in rows if 'eval' in r and r['eval']['step'] <= step]
    first, last = steps[0], steps[-1]
    return {'steps': last['step'], 'tokens': last['tokens'], 'running_minutes': round(last['run_s'] / 60, 1),
            'wall_minutes': round((last['wall'] - first['wall'] + first['step_s']) / 60, 1),
            'last_eval': evals[-1] if evals else None}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('trained')
    ap.add_argument('out')
    args = ap.parse_args()
    config, net = load_trained(args.trained)
    state = {k: v for k, v in net.state_dict().items() if not (config.tie_word_embeddings and k == 'lm_head.weight')}
    tensors = {k: v.to(torch.bfloat16) for k, v in state.items()}
    os.makedirs(args.out, exist_ok=True)
    safetensors_io.write_file(os.path.join(args.out, 'model.safetensors'), tensors, {'format': 'pt'})
    with open(os.path.join(args.out, 'config.json'), 'w') as f:
        json.dump(M.hf_config(config), f, indent=2)
        f.write('\n')
    with open(os.path.join(args.out, 'generation_config.json'), 'w') as f:
        json.dump(GENERATION, f, indent=2)
        f.write('\n')
    for name in ('tokenizer.json', 'tokenizer_config.json'):
        shutil.copyfile(os.path.join(common.TOKENIZER_DIR, name), os.path.join(args.out, name))
    step = torch.load(args.trained)['step']
    log_path = os.path.join(os.path.dirname(os.path.abspath(args.trained)), 'log.jsonl')
    if not os.path.exists(log_path):
        log_path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(args.trained))), 'log.jsonl')
    meta = {'kind': 'dense' if config.dense else 'moe', 'parameters': sum(p.numel() for p in net.parameters()),
            'trained_with': 'tools/train-tiny/train.py (plain PyTorch ' + torch.__version__ + ', CPU)',
            **training_summary(log_path, step)}
    with open(os.path.join(args.out, 'training.json'), 'w') as f:
        json.dump(meta, f, indent=2)
        f.write('\n')

    # The folder must reload to the trained model with bf16-rounded weights.
    _, reloaded = load_folder(args.out)
    ref = M.CausalLM(config).eval()
    ref.load_state_dict({k: v.to(torch.bfloat16).float() for k, v in net.state_dict().items()})
    x = torch.randint(3, config.vocab_size, (1, 64), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        diff = (reloaded(x)[0] - ref(x)[0]).abs().max().item()
    assert diff == 0.0, f'the written folder does not reload to the trained model (max |logit diff| {diff})'
    size = os.path.getsize(os.path.join(args.out, 'model.safetensors'))
    print(f'{args.trained} (step {step}) -> {args.out}: model.safetensors {size:,} bytes, {len(tensors)} tensors; reload exact')


if __name__ == '__main__':
    main()
