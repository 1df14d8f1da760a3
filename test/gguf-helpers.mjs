// Builds GGUF files from the shared HF fixtures the way llama.cpp's convert_hf_to_gguf.py lays them out
// (lib/load/hf-to-gguf.ts: names, stacked or per-expert experts, q/k rows permuted), in F32, F16 or BF16.
import { readFileSync } from 'node:fs';

import { readConfig } from '../dist/load/config.js';
import { writeGguf, gguf } from '../dist/load/gguf-write.js';
import { ggufHyperParameters, ggufLlamaHfVocab, ggufTensorPlan, permuteQkRows } from '../dist/load/hf-to-gguf.js';
import { readTensorIndex } from '../dist/load/safetensors.js';

const f32Buf = new Float32Array(1), u32Buf = new Uint32Array(f32Buf.buffer);

/** IEEE half of a float, round to nearest even (as numpy's astype(float16)). */
export function toHalf(x) {
  f32Buf[0] = x;
  const u = u32Buf[0], sign = (u >>> 16) & 0x8000, exp = (u >>> 23) & 0xff, man = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (man ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = man | 0x800000, shift = 14 - e, half = 1 << (shift - 1);
    let r = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    if (rest > half || (rest === half && (r & 1))) r++;
    return sign | r;
  }
  let r = (e << 10) | (man >>> 13);
  const rest = man & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (r & 1))) r++;
  return sign | r;
}

/** Stored tensor -> Float32Array. */
function toF32(buf, dtype) {
  const n = dtype === 'F32' ? buf.length / 4 : buf.length / 2;
  const out = new Float32Array(n);
  if (dtype === 'F32') out.set(new Float32Array(buf.buffer, buf.byteOffset, n));
  else if (dtype === 'BF16') {
    const u = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) u[i] = buf.readUInt16LE(2 * i) << 16;
  } else throw new Error(`fixture dtype ${dtype}`);
  return out;
}

function encode(values, type) {
  if (type === 'F32') return new Uint8Array(Float32Array.from(values).buffer);
  const out = new Uint16Array(values.length);
  if (type === 'F16') for (let i = 0; i < values.length; i++) out[i] = toHalf(values[i]);
  else {
    const u = new Uint32Array(Float32Array.from(values).buffer);
    for (let i = 0; i < values.length; i++) out[i] = u[i] >>> 16; // exact for values that came from bf16
  }
  return new Uint8Array(out.buffer);
}

/**
 * Writes `out` from fixture folder `dir`: 2-d weights in `type`, norms F32 (as llama.cpp's converter keeps
 * them), with the Mistral vocabulary and chat template of the fixture's tokenizer files.
 */
export async function ggufFromFixture(dir, out, { type = 'F16', layout = 'stacked', extraMeta = {}, version = 3 } = {}) {
  const config = await readConfig(dir);
  const { tensors } = await readTensorIndex(dir);
  const files = new Map();
  const bytesOf = (name) => {
    const t = tensors.get(name);
    if (!files.has(t.file)) files.set(t.file, readFileSync(t.file));
    return toF32(files.get(t.file).subarray(t.offset, t.offset + t.bytes), t.dtype);
  };
  const plan = ggufTensorPlan(config, layout);
  const tj = JSON.parse(readFileSync(`${dir}/tokenizer.json`, 'utf8'));
  const tc = JSON.parse(readFileSync(`${dir}/tokenizer_config.json`, 'utf8'));
  const typeId = { F32: 0, F16: 1, BF16: 32 }[type];
  const metadata = {
    ...ggufHyperParameters(config, 'tiny-mixtral'),
    'general.file_type': gguf.u32(typeId),
    ...ggufLlamaHfVocab(tj, {
      bosToken: tc.bos_token, eosToken: tc.eos_token, unkToken: tc.unk_token,
      addBos: tc.add_bos_token, addEos: tc.add_eos_token, chatTemplate: tc.chat_template,
    }),
    ...extraMeta,
  };
  await writeGguf(out, {
    metadata,
    tensors: plan.map((p) => {
      const t = p.vector ? 'F32' : type;
      const parts = p.sources.map((s) => {
        let data = encode(bytesOf(s), t);
        if (p.permuteHeads) {
          const rows = p.dims[1], rowBytes = data.length / rows;
          data = permuteQkRows(data, rows, rowBytes, p.permuteHeads);
        }
        return data;
      });
      return { name: p.name, type: t, dims: p.dims, data: parts };
    }),
  }, { version });
  return config;
}

/**
 * The Mistral vocabulary as a vocab-only GGUF (hyper-parameters of a tiny llama, no tensors), written as
 * convert_hf_to_gguf.py writes a Mistral/Mixtral repo that has tokenizer.json and tokenizer_config.json but
 * no tokenizer.model (gguf-py LlamaHfVocab + SpecialVocab): scores -1000, token types BYTE / CONTROL
 * (<unk>, <s>, </s>: transformers' all_special_ids) / NORMAL, bos 1, eos 2, unk 0, add_bos true,
 * add_eos false (the Mistral repo's tokenizer_config.json).
 */
export async function mistralVocabGguf(tokenizerJsonFile, out) {
  const tj = JSON.parse(readFileSync(tokenizerJsonFile, 'utf8'));
  const hp = {
    modelType: 'mixtral', vocabSize: 32000, hiddenSize: 64, intermediateSize: 96, numLayers: 1, numHeads: 8, numKvHeads: 2,
    headDim: 8, numExperts: 8, topK: 2, maxPositions: 4096, rmsNormEps: 1e-5, ropeTheta: 1e6,
  };
  await writeGguf(out, {
    metadata: {
      ...ggufHyperParameters(hp, 'mistral-vocab'),
      ...ggufLlamaHfVocab(tj, { bosToken: '<s>', eosToken: '</s>', unkToken: '<unk>', addBos: true, addEos: false }),
    },
    tensors: [],
  });
}
