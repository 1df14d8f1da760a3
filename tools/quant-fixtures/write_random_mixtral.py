"""Writes a small Mixtral GGUF (llama architecture with stacked experts, as llama.cpp's converter writes
Mixtral today) from seeded random weights: matrices F16, norms F32, a small SentencePiece-style vocabulary
(<unk>, <s>, </s>, the 256 byte tokens and a few pieces) so llama.cpp loads it.

Usage: write_random_mixtral.py OUT.gguf HIDDEN INTERMEDIATE [SEED]
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.environ.get('GGUF_PY', '/tmp/llama/src/gguf-py'))
import gguf  # noqa: E402

LAYERS, EXPERTS, TOP_K, HEADS, KV_HEADS, HEAD_DIM = 2, 4, 2, 4, 1, 64


def vocab():
    tokens, scores, types = ['<unk>', '<s>', '</s>'], [0.0, 0.0, 0.0], [2, 3, 3]
    for b in range(256):
        tokens.append(f'<0x{b:02X}>'); scores.append(0.0); types.append(6)
    pieces = ['▁', '▁a', '▁the', '▁of', 'e', 't', 'a', 'o', 'n', 'i', 's', 'r', 'h', 'l', 'd', '▁t', '▁s', '▁m',
              'in', 'er', 'an', 'on', 're', 'at', 'en', 'or', 'es', 'is', 'it', 'al', 'ar', '▁w', '▁c', '▁b',
              '▁f', '▁p', '▁in', '▁and', '▁to', 'ing', 'ed', 'ou', 'le', 'st', 'ion', '▁h', '▁d', '▁o', 'ic',
              'as', 'el', 'ent', 'om', 'ro', 'il', 'ur', 'ad', 'ol', '▁e', '▁l', '▁n']
    for i, p in enumerate(pieces):
        tokens.append(p); scores.append(-float(i)); types.append(1)
    return tokens, scores, types


def main():
    out, hidden, inter = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = np.random.default_rng(int(sys.argv[4]) if len(sys.argv) > 4 else 1234)
    tokens, scores, types = vocab()
    V = len(tokens)
    w = gguf.GGUFWriter(out, 'llama')
    w.add_name('smoe random mixtral fixture')
    w.add_context_length(512)
    w.add_embedding_length(hidden)
    w.add_block_count(LAYERS)
    w.add_feed_forward_length(inter)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_rope_dimension_count(HEAD_DIM)
    w.add_key_length(HEAD_DIM)
    w.add_value_length(HEAD_DIM)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(1e6)
    w.add_expert_count(EXPERTS)
    w.add_expert_used_count(TOP_K)
    w.add_vocab_size(V)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    w.add_tokenizer_model('llama')
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)

    def mat(*shape, std):
        return (rng.standard_normal(shape) * std).astype(np.float16)

    def norm(n):
        return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)

    Q, KV = HEADS * HEAD_DIM, KV_HEADS * HEAD_DIM
    w.add_tensor('token_embd.weight', mat(V, hidden, std=1.0))
    for l in range(LAYERS):
        p = f'blk.{l}.'
        w.add_tensor(p + 'attn_norm.weight', norm(hidden))
        w.add_tensor(p + 'attn_q.weight', mat(Q, hidden, std=hidden ** -0.5))
        w.add_tensor(p + 'attn_k.weight', mat(KV, hidden, std=hidden ** -0.5))
        w.add_tensor(p + 'attn_v.weight', mat(KV, hidden, std=hidden ** -0.5))
        w.add_tensor(p + 'attn_output.weight', mat(hidden, Q, std=Q ** -0.5))
        w.add_tensor(p + 'ffn_norm.weight', norm(hidden))
        w.add_tensor(p + 'ffn_gate_inp.weight', mat(EXPERTS, hidden, std=hidden ** -0.5).astype(np.float32))
        w.add_tensor(p + 'ffn_gate_exps.weight', mat(EXPERTS, inter, hidden, std=hidden ** -0.5))
        w.add_tensor(p + 'ffn_up_exps.weight', mat(EXPERTS, inter, hidden, std=hidden ** -0.5))
        w.add_tensor(p + 'ffn_down_exps.weight', mat(EXPERTS, hidden, inter, std=inter ** -0.5))
    w.add_tensor('output_norm.weight', norm(hidden))
    w.add_tensor('output.weight', mat(V, hidden, std=0.15))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == '__main__':
    main()
