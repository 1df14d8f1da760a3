#!/usr/bin/env node
// Writes a random Mixtral-shaped checkpoint (HF folder: config.json, sharded bf16 safetensors with
// model.safetensors.index.json, the Mistral tokenizer) for benchmarks. Deterministic for a given --seed.
//   node tools/make-random-checkpoint.mjs OUT_DIR [--hidden 1024 --intermediate 3584 --layers 8
//     --experts 8 --top-k 2 --heads 16 --kv-heads 4 --vocab 32000 --shard-mb 512 --seed 1]
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: Object.fromEntries(
    ['hidden', 'intermediate', 'layers', 'experts', 'top-k', 'heads', 'kv-heads', 'vocab', 'shard-mb', 'seed'].map((k) => [k, { type: 'string' }]),
  ),
});
const out = positionals[0];
if (!out) {
  console.error('usage: make-random-checkpoint.mjs OUT_DIR [--hidden N ...]');
  process.exit(2);
}
const num = (k, d) => (values[k] === undefined ? d : Number(values[k]));
const D = num('hidden', 1024), I = num('intermediate', 3584), L = num('layers', 8), E = num('experts', 8);
const K = num('top-k', 2), H = num('heads', 16), G = num('kv-heads', 4), V = num('vocab', 32000);
const shardBytes = num('shard-mb', 512) * 1024 * 1024;
let seed = num('seed', 1) >>> 0 || 1;
const Hd = D / H;

// Tensor list in the order of a HF checkpoint.
const tensors = [['model.embed_tokens.weight', [V, D]]];
for (let l = 0; l < L; l++) {
  const p = `model.layers.${l}.`;
  tensors.push([`${p}input_layernorm.weight`, [D]], [`${p}post_attention_layernorm.weight`, [D]]);
  tensors.push([`${p}self_attn.q_proj.weight`, [H * Hd, D]], [`${p}self_attn.k_proj.weight`, [G * Hd, D]]);
  tensors.push([`${p}self_attn.v_proj.weight`, [G * Hd, D]], [`${p}self_attn.o_proj.weight`, [D, H * Hd]]);
  tensors.push([`${p}block_sparse_moe.gate.weight`, [E, D]]);
  for (let e = 0; e < E; e++)
    for (const [w, s] of [['w1', [I, D]], ['w2', [D, I]], ['w3', [I, D]]]) tensors.push([`${p}block_sparse_moe.experts.${e}.${w}.weight`, s]);
}
tensors.push(['model.norm.weight', [D]], ['lm_head.weight', [V, D]]);

// A pool of random bf16 values (uniform, std ~ 0.02-0.03), sliced at random offsets for each tensor.
const POOL = 1 << 22;
const pool = new Uint16Array(POOL + (1 << 20));
const f = new Float32Array(1), u = new Uint32Array(f.buffer);
const rand = () => { seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0; return seed / 4294967296; };
for (let i = 0; i < pool.length; i++) { f[0] = (rand() * 2 - 1) * 0.05; pool[i] = u[0] >>> 16; }
const ONE = 0x3f80; // bf16 1.0 for the norm weights

mkdirSync(out, { recursive: true });
const weightMap = {};
let total = 0;
const shards = [];
let cur = [];
let curBytes = 0;
for (const [name, shape] of tensors) {
  const bytes = shape.reduce((a, b) => a * b, 1) * 2;
  if (curBytes > 0 && curBytes + bytes > shardBytes) { shards.push(cur); cur = []; curBytes = 0; }
  cur.push([name, shape, bytes]);
  curBytes += bytes;
}
shards.push(cur);
shards.forEach((list, si) => {
  const file = `model-${String(si + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`;
  const header = { __metadata__: { format: 'pt' } };
  let off = 0;
  for (const [name, shape, bytes] of list) {
    header[name] = { dtype: 'BF16', shape, data_offsets: [off, off + bytes] };
    off += bytes;
    weightMap[name] = file;
    total += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const fd = openSync(join(out, file), 'w');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  writeSync(fd, len);
  writeSync(fd, json);
  for (const [name, shape, bytes] of list) {
    const n = bytes / 2;
    if (shape.length === 1) { writeSync(fd, new Uint16Array(n).fill(ONE)); continue; }
    for (let done = 0; done < n;) {
      const m = Math.min(1 << 20, n - done);
      const start = Math.floor(rand() * POOL);
      writeSync(fd, pool.subarray(start, start + m));
      done += m;
    }
  }
  closeSync(fd);
});
writeFileSync(join(out, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2));
writeFileSync(join(out, 'config.json'), JSON.stringify({
  architectures: ['MixtralForCausalLM'], model_type: 'mixtral', vocab_size: V, hidden_size: D, intermediate_size: I,
  num_hidden_layers: L, num_attention_heads: H, num_key_value_heads: G, num_local_experts: E, num_experts_per_tok: K,
  max_position_embeddings: 32768, rms_norm_eps: 1e-5, rope_theta: 1e6, sliding_window: null, hidden_act: 'silu',
  tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2, torch_dtype: 'bfloat16',
}, null, 2));
const here = dirname(fileURLToPath(import.meta.url));
const tok = join(here, '..', 'test', 'fixtures', 'tiny-mixtral');
for (const f of ['tokenizer.json', 'tokenizer_config.json']) if (existsSync(join(tok, f))) copyFileSync(join(tok, f), join(out, f));
console.log(`wrote ${out}: ${shards.length} shards, ${(total / 1e9).toFixed(2)} GB of bf16 weights`);
