/**
 * A HF Mixtral folder as llama.cpp's converter (convert_hf_to_gguf.py, LlamaModel) lays it out in a GGUF of
 * the `llama` architecture: tensor names, stacked experts (`blk.N.ffn_{gate,up}_exps` [D, I, E] from the
 * E tensors w1 / w3 [I, D], `ffn_down_exps` [I, D, E] from w2 [D, I]), the rows of q_proj and k_proj
 * permuted for llama.cpp's RoPE (within each head, row 2i + j takes row j * headDim / 2 + i: interleaved
 * pairs instead of halves), and the converter's metadata keys in its order.
 * 1-d tensors, norms and the router are written F32 (the converter's rule), the rest in their stored type.
 */
import { stat } from 'node:fs/promises';
import { basename, join } from 'node:path';

import { readConfig, type MixtralConfig } from '../load/config.js';
import type { GgufValue } from '../load/gguf.js';
import { isObject, readJsonFile } from '../load/json-file.js';
import { readTensorIndex, requireComputeDType, type TensorEntry } from '../load/safetensors.js';
import { ModelLoadError } from '../errors.js';
import { ggufHyperParameters, ggufLlamaHfVocab, ggufTensorPlan, permuteQkRows, type GgufTensorPlan } from '../load/hf-to-gguf.js';
import { FileReader, plainTypeBytes, type PlainType, type SourceTensor } from './source-tensor.js';

export interface ModelSource {
  /** Metadata before the quantizer's general.quantization_version / general.file_type. */
  metadata: Map<string, GgufValue>;
  tensors: SourceTensor[];
  config: MixtralConfig;
  close(): Promise<void>;
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
  /** The GGUF tensor of plan entry p: one HF tensor (q / k rows permuted) or E expert tensors stacked. */
  const tensorOf = (p: GgufTensorPlan): SourceTensor => {
    const parts = p.sources.map((n) => entry(n, p.sources.length > 1 ? [p.dims[1]!, p.dims[0]!] : [...p.dims].reverse()));
    const type = parts[0]!.dtype;
    for (const q of parts)
      if (q.dtype !== type)
        throw new ModelLoadError('UNSUPPORTED_DTYPE', `tensor ${q.name} is ${q.dtype} but ${parts[0]!.name} is ${type}; the experts of a layer must share a dtype`,
          { file: q.file, tensor: q.name });
    const cols = p.dims[0]!, rowsPer = p.dims[1] ?? 1, rowBytes = cols * plainTypeBytes(type);
    const readRows = async (r0: number, r1: number): Promise<Uint8Array> => {
      const out = new Uint8Array(new ArrayBuffer((r1 - r0) * rowBytes));
      for (let r = r0; r < r1;) {
        const e = Math.floor(r / rowsPer), end = Math.min(r1, (e + 1) * rowsPer), q = parts[e]!;
        out.set(await reader.read(q.file, q.offset + (r - e * rowsPer) * rowBytes, (end - r) * rowBytes, q.name), (r - r0) * rowBytes);
        r = end;
      }
      return out;
    };
    const t: SourceTensor = { name: p.name, dims: p.dims, type, rows: rowsPer * parts.length, cols, rowAlign: 1, read: readRows };
    if (p.permuteHeads) {
      // Whole heads at a time: the permutation moves rows within a head.
      t.rowAlign = rowsPer / p.permuteHeads;
      t.read = async (r0, r1) => permuteQkRows(await readRows(r0, r1), r1 - r0, rowBytes, (r1 - r0) / t.rowAlign);
    }
    // The converter writes 1-d tensors, norms and the router as F32 (they stay so in every mix).
    if (p.vector || p.name.endsWith('_norm.weight') || p.name.endsWith('ffn_gate_inp.weight')) t.keepAs = 'F32';
    return t;
  };
  const list = ggufTensorPlan(c).map(tensorOf);

  const raw = await readJson(join(dir, 'config.json'), 'model config');
  const m = new Map<string, GgufValue>(Object.entries(ggufHyperParameters(c, idToTitle(basename(dir)), {
    sizeLabel: sizeLabel(list, c.numExperts), headDimKeys: typeof raw?.['head_dim'] === 'number',
  })));
  const tjFile = join(dir, 'tokenizer.json');
  const tj = await readJson(tjFile, 'tokenizer');
  if (tj) {
    const vocab = ggufLlamaHfVocab(tj, await readJson(join(dir, 'tokenizer_config.json'), 'tokenizer config'), raw ?? {}, tjFile);
    for (const [k, v] of Object.entries(vocab)) m.set(k, v);
  }
  return { metadata: m, tensors: list, config: c, close: () => reader.close() };
}

/** A JSON object file, or null when there is none. */
async function readJson(file: string, what: string): Promise<Record<string, unknown> | null> {
  if (!(await stat(file).then(() => true, () => false))) return null;
  const v = await readJsonFile(file, what);
  if (!isObject(v)) throw new ModelLoadError('CONFIG_INVALID', `${file} must hold a JSON object`, { file });
  return v;
}
