/**
 * A HF Mixtral folder as llama.cpp's converter (convert_hf_to_gguf.py, LlamaModel) lays it out in a GGUF of
 * the `llama` architecture: tensor names, stacked experts (`blk.N.ffn_{gate,up}_exps` [D, I, E] from the
 * E tensors w1 / w3 [I, D], `ffn_down_exps` [I, D, E] from w2 [D, I]), the rows of q_proj and k_proj
 * permuted for llama.cpp's RoPE (within each head, row 2i + j takes row j * headDim / 2 + i: interleaved
 * pairs instead of halves), and the converter's metadata keys in its order.
 * 1-d tensors, norms and the router are written F32 (the converter's rule), the rest in their stored type.
 */
import { basename } from 'node:path';

import { readConfig, type MixtralConfig } from '../load/config.js';
import { gguf } from '../load/gguf-write.js';
import type { GgufValue } from '../load/gguf.js';
import { isObject, readJsonFile } from '../load/json-file.js';
import { readTensorIndex, requireComputeDType, type TensorEntry } from '../load/safetensors.js';
import { ModelLoadError } from '../errors.js';
import { hfVocabMetadata } from './hf-vocab.js';
import { FileReader, plainTypeBytes, storedTensor, type PlainType, type SourceTensor } from './source-tensor.js';

export interface ModelSource {
  /** Metadata before the quantizer's general.quantization_version / general.file_type. */
  metadata: Map<string, GgufValue>;
  tensors: SourceTensor[];
  config: MixtralConfig;
  close(): Promise<void>;
}

/** Rows [r0, r1) of a head-permuted tensor (r0, r1 multiples of headDim): row h*hd + 2i + j <- h*hd + j*hd/2 + i. */
function permuteHeads(src: Uint8Array, rows: number, rowBytes: number, headDim: number): Uint8Array {
  const out = new Uint8Array(new ArrayBuffer(src.length));
  const half = headDim / 2;
  for (let r = 0; r < rows; r++) {
    const h = Math.floor(r / headDim), w = r % headDim, i = w >> 1, j = w & 1;
    const from = h * headDim + j * half + i;
    out.set(src.subarray(from * rowBytes, (from + 1) * rowBytes), r * rowBytes);
  }
  return out;
}

/**
 * gguf-py's Metadata.id_to_title, for a folder name (the converter's fallback general.name): dashes to spaces,
 * lower-case words title-cased unless they are versions (v0.1) or start with a digit. The converter's other
 * naming heuristics (model card, finetune / version / basename keys) are not reproduced.
 */
function idToTitle(id: string): string {
  return id.trim().replace(/-/g, ' ').split(/\s+/).filter(Boolean)
    .map((w) => (w === w.toLowerCase() && w !== w.toUpperCase() && !/^(v\d+(?:\.\d+)*|\d.*)$/.test(w)
      ? w.toLowerCase().replace(/(^|[^a-z])([a-z])/g, (_m, a: string, b: string) => a + b.toUpperCase()) : w))
    .join(' ');
}

/** gguf-py's size_label: '<experts>x<params of one expert path>' rounded to at least two digits ('8x7.2B'). */
function sizeLabel(tensors: SourceTensor[], experts: number): string {
  let shared = 0, expert = 0;
  for (const t of tensors) {
    const n = t.dims.reduce((a, d) => a * d, 1);
    if (t.name.includes('_exps.') && t.dims.length >= 3) expert += n / t.dims[2]!;
    else shared += n;
  }
  const count = experts > 0 ? shared + expert : shared;
  const [scale, suffix] = count > 1e12 ? [1e-12, 'T'] : count > 1e9 ? [1e-9, 'B'] : count > 1e6 ? [1e-6, 'M'] : [1e-3, 'K'];
  const v = count * scale;
  const fix = Math.max(2 - String(Math.round(v)).replace(/^0+/, '').length, 0);
  return `${experts > 0 ? `${experts}x` : ''}${v.toFixed(fix)}${suffix}`;
}

/** Opens a HF Mixtral folder as the converter's GGUF tensors (read lazily) and metadata. */
export async function openHfSource(dir: string): Promise<ModelSource> {
  const c = await readConfig(dir);
  const { tensors } = await readTensorIndex(dir);
  const reader = new FileReader();
  const D = c.hiddenSize, I = c.intermediateSize, E = c.numExperts, hd = c.headDim;
  const entry = (name: string, shape: number[]): TensorEntry & { dtype: PlainType } => {
    const t = tensors.get(name);
    if (!t) throw new ModelLoadError('TENSOR_MISSING', `the checkpoint has no tensor ${name}`, { tensor: name });
    requireComputeDType(t);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))
      throw new ModelLoadError('TENSOR_SHAPE', `tensor ${name} in ${t.file} has shape ${JSON.stringify(t.shape)}, expected ${JSON.stringify(shape)} from config.json`,
        { file: t.file, tensor: name });
    return t as TensorEntry & { dtype: PlainType };
  };
  /** A 2-d HF tensor [rows, cols] (or 1-d [cols]) under its GGUF name. */
  const plain = (gname: string, hname: string, shape: number[]): SourceTensor => {
    const t = entry(hname, shape);
    const cols = shape[shape.length - 1]!, rows = shape.length === 2 ? shape[0]! : 1;
    const st = storedTensor(reader, t.file, t.offset, { name: gname, dims: shape.length === 2 ? [cols, rows] : [cols], type: t.dtype, rows, cols }, hname);
    // The converter writes 1-d tensors, norms and the router as F32 (they stay so in every mix).
    if (shape.length === 1 || gname.endsWith('_norm.weight') || gname.endsWith('ffn_gate_inp.weight')) st.keepAs = 'F32';
    return st;
  };
  const permuted = (gname: string, hname: string, shape: number[]): SourceTensor => {
    const base = plain(gname, hname, shape);
    const rowBytes = base.cols * plainTypeBytes(base.type as PlainType);
    return { ...base, rowAlign: hd, read: async (r0, r1) => permuteHeads(await base.read(r0, r1), r1 - r0, rowBytes, hd) };
  };
  /** E expert tensors [rows, cols] stacked into one [cols, rows, E]. */
  const stacked = (gname: string, names: string[], shape: [number, number]): SourceTensor => {
    const parts = names.map((n) => entry(n, shape));
    const type = parts[0]!.dtype;
    for (const p of parts)
      if (p.dtype !== type)
        throw new ModelLoadError('UNSUPPORTED_DTYPE', `tensor ${p.name} is ${p.dtype} but ${parts[0]!.name} is ${type}; the experts of a layer must share a dtype`,
          { file: p.file, tensor: p.name });
    const [rows, cols] = shape;
    const rowBytes = cols * plainTypeBytes(type);
    return {
      name: gname, dims: [cols, rows, parts.length], type, rows: rows * parts.length, cols, rowAlign: 1,
      read: async (r0, r1) => {
        const out = new Uint8Array(new ArrayBuffer((r1 - r0) * rowBytes));
        for (let r = r0; r < r1;) {
          const e = Math.floor(r / rows), end = Math.min(r1, (e + 1) * rows), p = parts[e]!;
          const b = await reader.read(p.file, p.offset + (r - e * rows) * rowBytes, (end - r) * rowBytes, p.name);
          out.set(b, (r - r0) * rowBytes);
          r = end;
        }
        return out;
      },
    };
  };

  const list: SourceTensor[] = [];
  list.push(plain('token_embd.weight', 'model.embed_tokens.weight', [c.vocabSize, D]));
  if (!(c.tieWordEmbeddings && !tensors.has('lm_head.weight'))) list.push(plain('output.weight', 'lm_head.weight', [c.vocabSize, D]));
  list.push(plain('output_norm.weight', 'model.norm.weight', [D]));
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}.`, b = `blk.${l}.`, moe = `${p}block_sparse_moe.`;
    const experts = (w: string) => [...Array(E).keys()].map((e) => `${moe}experts.${e}.${w}.weight`);
    list.push(plain(`${b}attn_norm.weight`, `${p}input_layernorm.weight`, [D]));
    list.push(permuted(`${b}attn_q.weight`, `${p}self_attn.q_proj.weight`, [c.numHeads * hd, D]));
    list.push(permuted(`${b}attn_k.weight`, `${p}self_attn.k_proj.weight`, [c.numKvHeads * hd, D]));
    list.push(plain(`${b}attn_v.weight`, `${p}self_attn.v_proj.weight`, [c.numKvHeads * hd, D]));
    list.push(plain(`${b}attn_output.weight`, `${p}self_attn.o_proj.weight`, [D, c.numHeads * hd]));
    list.push(plain(`${b}ffn_norm.weight`, `${p}post_attention_layernorm.weight`, [D]));
    list.push(plain(`${b}ffn_gate_inp.weight`, `${moe}gate.weight`, [E, D]));
    list.push(stacked(`${b}ffn_gate_exps.weight`, experts('w1'), [I, D]));
    list.push(stacked(`${b}ffn_down_exps.weight`, experts('w2'), [D, I]));
    list.push(stacked(`${b}ffn_up_exps.weight`, experts('w3'), [I, D]));
  }

  const rawConfig = await readJsonFile(`${dir}/config.json`, 'model config');
  const raw = isObject(rawConfig) ? rawConfig : {};
  const m = new Map<string, GgufValue>();
  m.set('general.architecture', gguf.str('llama'));
  m.set('general.type', gguf.str('model'));
  m.set('general.name', gguf.str(idToTitle(basename(dir))));
  m.set('general.size_label', gguf.str(sizeLabel(list, E)));
  m.set('llama.block_count', gguf.u32(c.numLayers));
  m.set('llama.context_length', gguf.u32(c.maxPositions));
  m.set('llama.embedding_length', gguf.u32(D));
  m.set('llama.feed_forward_length', gguf.u32(I));
  m.set('llama.attention.head_count', gguf.u32(c.numHeads));
  m.set('llama.attention.head_count_kv', gguf.u32(c.numKvHeads));
  m.set('llama.rope.freq_base', gguf.f32(c.ropeTheta));
  m.set('llama.attention.layer_norm_rms_epsilon', gguf.f32(c.rmsNormEps));
  m.set('llama.expert_count', gguf.u32(E));
  m.set('llama.expert_used_count', gguf.u32(c.topK));
  if (typeof raw['head_dim'] === 'number') {
    m.set('llama.attention.key_length', gguf.u32(hd));
    m.set('llama.attention.value_length', gguf.u32(hd));
  }
  m.set('general.file_type', gguf.u32(0));
  m.set('llama.vocab_size', gguf.u32(c.vocabSize));
  m.set('llama.rope.dimension_count', gguf.u32(hd));
  m.set('general.quantization_version', gguf.u32(2));
  for (const [k, v] of await hfVocabMetadata(dir)) m.set(k, v);
  return { metadata: m, tensors: list, config: c, close: () => reader.close() };
}
