# A Mixtral-shaped checkpoint with random weights, written from the same numbers as an HF folder in f16 and
# in bf16 (config.json + model.safetensors + the Mistral tokenizer.json) and as GGUF f16 (llama arch with
# experts, q/k rows permuted as llama.cpp's converter does; token scores are placeholders, so compare by
# token ids, not text). Tensors are generated one at a time from per-tensor seeds and streamed to disk, so
# memory stays at one tensor (the Mixtral-8x7B width, 2 layers, writes ~6 GB per file in ~1 GB of RAM).
# bf16 values are the f16 values rounded to nearest even, as llama-quantize's bf16 does (which keeps the
# router in F32: so does the bf16 folder).
# Usage: make-mixtral-pair.py OUTDIR [hidden ff layers experts heads kv_heads]   (numpy; GGUF_PY=<gguf-py dir>)
#   -> OUTDIR/hf-f16/, OUTDIR/hf-bf16/, OUTDIR/model-f16.gguf (PAIR_PARTS=hf-f16,hf-bf16,gguf: only those)
# Derived from ../shared/tools/peer/make-mixtral-pair.py (which holds the whole model in memory).
import json, os, struct, sys
import numpy as np
sys.path.insert(0, os.environ.get("GGUF_PY", "/tmp/llama/src/gguf-py"))
import gguf

out = sys.argv[1]; a = [int(x) for x in sys.argv[2:]] or [1024, 3584, 8, 8, 16, 4]
H, FF, L, E, NH, NKV = a; V = 32000; K = 2; HD = H // NH
here = os.path.dirname(os.path.abspath(__file__))
tok_json = os.environ.get("TOK", os.path.join(here, "..", "..", "test", "fixtures", "mistral-tokenizer.json"))

# The HF tensors in file order: name -> (shape, kind); kind "w" random, "gate" random (larger), "one" ones.
spec = [("model.embed_tokens.weight", (V, H), "w")]
for l in range(L):
    p = f"model.layers.{l}."
    spec += [(p+"input_layernorm.weight", (H,), "one"), (p+"self_attn.q_proj.weight", (NH*HD, H), "w"),
             (p+"self_attn.k_proj.weight", (NKV*HD, H), "w"), (p+"self_attn.v_proj.weight", (NKV*HD, H), "w"),
             (p+"self_attn.o_proj.weight", (H, NH*HD), "w"), (p+"post_attention_layernorm.weight", (H,), "one"),
             (p+"block_sparse_moe.gate.weight", (E, H), "gate")]
    for e in range(E):
        q = p + f"block_sparse_moe.experts.{e}."
        spec += [(q+"w1.weight", (FF, H), "w"), (q+"w2.weight", (H, FF), "w"), (q+"w3.weight", (FF, H), "w")]
spec += [("model.norm.weight", (H,), "one"), ("lm_head.weight", (V, H), "w")]
index = {name: i for i, (name, _, _) in enumerate(spec)}

def tensor(name):
    """The tensor's values (f16-representable, as float16), the same on every call."""
    shape, kind = spec[index[name]][1], spec[index[name]][2]
    if kind == "one": return np.ones(shape, np.float16)
    rng = np.random.default_rng([7, index[name]])
    return (rng.standard_normal(shape, dtype=np.float32) * (0.5 if kind == "gate" else 0.02)).astype(np.float16)

def bf16_bits(x16):
    u = x16.astype(np.float32).view(np.uint32)
    return ((u + 0x7fff + ((u >> 16) & 1)) >> 16).astype(np.uint16)

def write_hf(folder, dtype):
    os.makedirs(folder, exist_ok=True)
    # The router stays F32 in the bf16 folder, as llama-quantize keeps ffn_gate_inp: the same numbers.
    dt = lambda kind: "F32" if dtype == "BF16" and kind == "gate" else dtype
    hdr, off = {}, 0
    for name, shape, kind in spec:
        n = int(np.prod(shape)) * (4 if dt(kind) == "F32" else 2)
        hdr[name] = {"dtype": dt(kind), "shape": list(shape), "data_offsets": [off, off + n]}; off += n
    hj = json.dumps(hdr).encode(); hj += b" " * ((8 - len(hj) % 8) % 8)
    with open(os.path.join(folder, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(hj))); f.write(hj)
        for name, _, kind in spec:
            t = tensor(name)
            f.write((t if dtype == "F16" else t.astype(np.float32) if dt(kind) == "F32" else bf16_bits(t)).tobytes())
    cfg = {"architectures": ["MixtralForCausalLM"], "model_type": "mixtral", "hidden_size": H, "intermediate_size": FF,
           "num_hidden_layers": L, "num_attention_heads": NH, "num_key_value_heads": NKV, "num_local_experts": E,
           "num_experts_per_tok": K, "vocab_size": V, "rope_theta": 1e6, "rms_norm_eps": 1e-5, "sliding_window": None,
           "max_position_embeddings": 32768, "tie_word_embeddings": False, "bos_token_id": 1, "eos_token_id": 2,
           "hidden_act": "silu", "torch_dtype": "float16" if dtype == "F16" else "bfloat16"}
    json.dump(cfg, open(os.path.join(folder, "config.json"), "w"), indent=2)
    json.dump(json.load(open(tok_json)), open(os.path.join(folder, "tokenizer.json"), "w"))
    json.dump({"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
               "tokenizer_class": "LlamaTokenizer"}, open(os.path.join(folder, "tokenizer_config.json"), "w"))

def permute(x, n_head):
    return x.reshape(n_head, 2, x.shape[0] // n_head // 2, *x.shape[1:]).swapaxes(1, 2).reshape(x.shape)

def write_gguf(path):
    # (gguf name, function giving the array) in file order; norms and the router in f32 as llama.cpp keeps them.
    items = [("token_embd.weight", lambda: tensor("model.embed_tokens.weight")),
             ("output_norm.weight", lambda: tensor("model.norm.weight").astype(np.float32)),
             ("output.weight", lambda: tensor("lm_head.weight"))]
    for l in range(L):
        p = f"model.layers.{l}."; b = f"blk.{l}."
        stack = lambda n, p=p: np.stack([tensor(p + f"block_sparse_moe.experts.{e}.{n}.weight") for e in range(E)])
        items += [(b+"attn_norm.weight", lambda p=p: tensor(p+"input_layernorm.weight").astype(np.float32)),
                  (b+"ffn_norm.weight", lambda p=p: tensor(p+"post_attention_layernorm.weight").astype(np.float32)),
                  (b+"attn_q.weight", lambda p=p: permute(tensor(p+"self_attn.q_proj.weight"), NH)),
                  (b+"attn_k.weight", lambda p=p: permute(tensor(p+"self_attn.k_proj.weight"), NKV)),
                  (b+"attn_v.weight", lambda p=p: tensor(p+"self_attn.v_proj.weight")),
                  (b+"attn_output.weight", lambda p=p: tensor(p+"self_attn.o_proj.weight")),
                  (b+"ffn_gate_inp.weight", lambda p=p: tensor(p+"block_sparse_moe.gate.weight").astype(np.float32)),
                  (b+"ffn_gate_exps.weight", lambda stack=stack: stack("w1")),
                  (b+"ffn_up_exps.weight", lambda stack=stack: stack("w3")),
                  (b+"ffn_down_exps.weight", lambda stack=stack: stack("w2"))]
    g = gguf.GGUFWriter(path, "llama")
    g.add_name("mixtral-shaped-random"); g.add_context_length(32768); g.add_embedding_length(H); g.add_block_count(L)
    g.add_feed_forward_length(FF); g.add_head_count(NH); g.add_head_count_kv(NKV); g.add_rope_freq_base(1e6)
    g.add_layer_norm_rms_eps(1e-5); g.add_expert_count(E); g.add_expert_used_count(K); g.add_rope_dimension_count(HD)
    g.add_file_type(gguf.LlamaFileType.MOSTLY_F16); g.add_vocab_size(V)
    tj = json.load(open(tok_json)); toks = [None] * V
    for t, i in tj["model"]["vocab"].items(): toks[i] = t
    for at in tj.get("added_tokens", []): toks[at["id"]] = at["content"]
    types = []
    for i, t in enumerate(toks):
        if i in (1, 2): types.append(gguf.TokenType.CONTROL)
        elif i == 0: types.append(gguf.TokenType.UNKNOWN)
        elif t.startswith("<0x") and t.endswith(">") and len(t) == 6: types.append(gguf.TokenType.BYTE)
        else: types.append(gguf.TokenType.NORMAL)
    g.add_tokenizer_model("llama"); g.add_token_list(toks); g.add_token_scores([-float(i) for i in range(V)])
    g.add_token_types(types); g.add_bos_token_id(1); g.add_eos_token_id(2); g.add_unk_token_id(0)
    def shape_of(name):  # numpy shape of a gguf tensor, without making it
        if name.endswith("_exps.weight"):
            n = {"ffn_gate_exps": "w1", "ffn_up_exps": "w3", "ffn_down_exps": "w2"}[name.split(".")[2]]
            return (E,) + spec[index[f"model.layers.0.block_sparse_moe.experts.0.{n}.weight"]][1]
        return None
    for name, make in items:
        shape = shape_of(name)
        if shape is None:
            t = make(); shape, dt = t.shape, t.dtype
        else:
            dt = np.dtype(np.float16)
        g.add_tensor_info(name, shape, dt, int(np.prod(shape)) * dt.itemsize)
    g.write_header_to_file(); g.write_kv_data_to_file(); g.write_ti_data_to_file()
    for _, make in items: g.write_tensor_data(make())
    g.close()

os.makedirs(out, exist_ok=True)
parts = os.environ.get("PAIR_PARTS", "hf-f16,hf-bf16,gguf").split(",")  # which of the three to write
if "hf-f16" in parts: write_hf(os.path.join(out, "hf-f16"), "F16")
if "hf-bf16" in parts: write_hf(os.path.join(out, "hf-bf16"), "BF16")
if "gguf" in parts: write_gguf(os.path.join(out, "model-f16.gguf"))
print("wrote", out, sorted(os.listdir(out)))
