// The random Mixtral checkpoints of the quantizer fixtures, written the same way by the fixture tool
// (tools/make-quantize-fixtures.sh, which hands them to llama.cpp's converter and llama-quantize) and by
// test/quantize.test.mjs (which quantizes them with smoe and compares the bytes). Deterministic: a
// xorshift generator and only exact float operations (sums and products), so every machine writes the same
// bf16 values. Values are roughly normal (sum of four uniforms) with std 0.02 and 1% outliers at 8x, plus
// rows that exercise the quantizers' edge cases (all zero, constant, tiny).
// The tokenizer is the Mistral vocabulary cut to its first `vocab` tokens (merges kept where all three
// tokens survive), so the converter's llama-hf vocabulary path handles it as it does Mixtral's.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const MISTRAL_TOKENIZER = join(HERE, '..', '..', 'test', 'fixtures', 'mistral-tokenizer.json');
const TINY = join(HERE, '..', '..', 'test', 'fixtures', 'tiny-mixtral');

/** The two models of the fixtures: 8 experts (Mixtral's rules) and 4 (the general rules). */
export const QUANTIZE_MODELS = {
  'qz-mixtral-e8': { hidden: 256, intermediate: 512, layers: 4, experts: 8, topK: 2, heads: 4, kvHeads: 2, vocab: 512, seed: 11 },
  'qz-mixtral-e4': { hidden: 256, intermediate: 336, layers: 4, experts: 4, topK: 2, heads: 8, kvHeads: 2, vocab: 512, seed: 12 },
};

function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
}

const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);
/** float -> bf16 bits, round to nearest even (finite values). */
function bf16(x) {
  f32[0] = x;
  const u = u32[0];
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

const normal = (rand) => (rand() + rand() + rand() + rand() - 2) * 1.7320508; // ~ N(0, 1)

/** n bf16 values of a weight: std ~0.02, 1% outliers at 8x. */
function weights(rand, n) {
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) out[i] = bf16(normal(rand) * 0.02 * (rand() < 0.01 ? 8 : 1));
  return out;
}

/** n bf16 norm weights around 1 (std 0.1). */
function normWeights(rand, n) {
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) out[i] = bf16(1 + normal(rand) * 0.1);
  return out;
}

/** Writes the folder `dir` for model `name` of QUANTIZE_MODELS (config, tokenizer, one bf16 safetensors). */
export function writeQuantizeModel(dir, name) {
  const m = QUANTIZE_MODELS[name];
  const { hidden: D, intermediate: I, layers: L, experts: E, heads: H, kvHeads: G, vocab: V } = m;
  const hd = D / H;
  const rand = rng(m.seed);
  const tensors = [];
  const add = (n, shape, data) => tensors.push([n, shape, data]);
  add('model.embed_tokens.weight', [V, D], weights(rand, V * D));
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}.`;
    const norm = () => normWeights(rand, D);
    add(`${p}input_layernorm.weight`, [D], norm());
    add(`${p}self_attn.q_proj.weight`, [H * hd, D], weights(rand, H * hd * D));
    add(`${p}self_attn.k_proj.weight`, [G * hd, D], weights(rand, G * hd * D));
    add(`${p}self_attn.v_proj.weight`, [G * hd, D], weights(rand, G * hd * D));
    add(`${p}self_attn.o_proj.weight`, [D, H * hd], weights(rand, D * H * hd));
    add(`${p}post_attention_layernorm.weight`, [D], norm());
    add(`${p}block_sparse_moe.gate.weight`, [E, D], weights(rand, E * D));
    for (let e = 0; e < E; e++) {
      for (const [w, shape] of [['w1', [I, D]], ['w2', [D, I]], ['w3', [I, D]]]) {
        const data = weights(rand, shape[0] * shape[1]);
        if (l === 0 && e === 0) {
          const cols = shape[1];
          // Edge rows: all zero, constant, tiny (1e-20: below fp16's range once scaled), one large outlier.
          data.fill(0, 0, cols);
          data.fill(bf16(0.03125), cols, 2 * cols);
          for (let i = 0; i < cols; i++) data[2 * cols + i] = bf16((i % 7 - 3) * 1e-20);
          data[3 * cols + 5] = bf16(3.5);
        }
        add(`${p}block_sparse_moe.experts.${e}.${w}.weight`, shape, data);
      }
    }
  }
  add('model.norm.weight', [D], normWeights(rand, D));
  add('lm_head.weight', [V, D], weights(rand, V * D));

  mkdirSync(dir, { recursive: true });
  // safetensors: u64 header length, JSON header, data (all bf16).
  const header = {};
  let off = 0;
  for (const [n, shape, data] of tensors) {
    header[n] = { dtype: 'BF16', shape, data_offsets: [off, off + data.byteLength] };
    off += data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const buf = Buffer.alloc(8 + json.length + off);
  buf.writeBigUInt64LE(BigInt(json.length), 0);
  buf.write(json, 8, 'latin1');
  let pos = 8 + json.length;
  for (const [, , data] of tensors) { Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(buf, pos); pos += data.byteLength; }
  writeFileSync(join(dir, 'model.safetensors'), buf);

  const config = JSON.parse(readFileSync(join(TINY, 'config.json'), 'utf8'));
  Object.assign(config, {
    hidden_size: D, intermediate_size: I, num_hidden_layers: L, num_local_experts: E, num_experts_per_tok: m.topK,
    num_attention_heads: H, num_key_value_heads: G, vocab_size: V,
  });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  writeFileSync(join(dir, 'tokenizer_config.json'), readFileSync(join(TINY, 'tokenizer_config.json')));
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(cutTokenizer(V)));
}

/** The Mistral tokenizer.json with only the first `n` vocabulary entries and the merges among them. */
function cutTokenizer(n) {
  const t = JSON.parse(readFileSync(MISTRAL_TOKENIZER, 'utf8'));
  const vocab = {};
  for (const [tok, id] of Object.entries(t.model.vocab)) if (id < n) vocab[tok] = id;
  t.model.vocab = vocab;
  t.model.merges = t.model.merges.filter((mg) => {
    const [a, b] = Array.isArray(mg) ? mg : mg.split(' ');
    return a in vocab && b in vocab && (a + b) in vocab;
  });
  t.added_tokens = t.added_tokens.filter((a) => a.id < n);
  return t;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = process.argv[2];
  if (!out) { console.error('usage: random-mixtral.mjs OUT_DIR   (writes OUT_DIR/<model> for each model)'); process.exit(2); }
  for (const name of Object.keys(QUANTIZE_MODELS)) writeQuantizeModel(join(out, name), name);
}
