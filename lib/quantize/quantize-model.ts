/**
 * quantizeModel: an HF Mixtral folder or a `llama` GGUF -> a GGUF of one llama-quantize mix, streamed
 * (a slab of rows at a time is read, quantized off the event loop and written; the model is never in
 * memory). The output is what llama.cpp's convert_hf_to_gguf.py + llama-quantize write for the same
 * weights: tensors in llama-quantize's order, each of the type its rules pick, the same bytes, and the
 * source's metadata with general.quantization_version and general.file_type set last.
 *
 * @example
 * await quantizeModel('./Mixtral-8x7B-Instruct-v0.1', './mixtral-q4_k_m.gguf', {
 *   type: 'q4_k_m', onProgress: (p) => console.error(`${p.index + 1}/${p.count} ${p.tensor}`),
 * });
 */
import { availableParallelism } from 'node:os';

import { InvalidArgumentError, ModelLoadError, fromNative } from '../errors.js';
import { ggmlBytes, ggmlRowBytes, ggmlTypeByName } from '../load/ggml-types.js';
import { gguf, writeGguf } from '../load/gguf-write.js';
import { resolveModelSource } from '../load/model-source.js';
import type { GgufValue } from '../load/gguf.js';
import { native } from '../native.js';
import { openGgufSource } from './gguf-source.js';
import { openHfSource } from './hf-source.js';
import { QUANT_MIX_NAMES, llamaTensorOrder, planTensorTypes, quantMix, type PlanModel } from './mixes.js';
import type { PlainType, SourceTensor } from './source-tensor.js';

export interface QuantizeProgress {
  /** The tensor being written and its position in the file. */
  tensor: string;
  index: number;
  count: number;
  /** Its ggml type in the output. */
  type: string;
  /** Output bytes written so far and in all. */
  doneBytes: number;
  totalBytes: number;
}

export interface QuantizeOptions {
  /** The mix: 'q8_0', 'q4_0', 'q4_k_m', 'q5_k_m', 'q6_k', 'q3_k_m', 'q2_k', 'f16', 'bf16', ... (QUANT_MIX_NAMES). */
  type: string;
  /** Every quantized tensor in the mix's default type, as llama-quantize --pure (fall-backs aside). */
  pure?: boolean;
  /** Quantizer threads (default: all cores). */
  threads?: number;
  onProgress?: (p: QuantizeProgress) => void;
}

export interface QuantizeResult {
  file: string;
  bytes: number;
  /** Every tensor's name and output type, in file order. */
  tensors: Array<{ name: string; type: string }>;
}

/** Source bytes per slab: bounds the memory a conversion holds at once. */
const SLAB_BYTES = 32 << 20;
const PLAIN = new Set(['F32', 'F16', 'BF16']);

/** Rows of `t` converted to `target` (quantized or F32 / F16 / BF16), off the event loop. */
async function convertRows(src: Uint8Array, t: SourceTensor, rows: number, target: string, threads: number): Promise<Uint8Array> {
  if (target === t.type) return src;
  if (!PLAIN.has(t.type))
    throw new ModelLoadError('UNSUPPORTED_QUANT', `tensor ${t.name} is ${t.type}; smoe quantizes from F32, F16 or BF16 (requantizing is not supported)`,
      { tensor: t.name });
  const view = t.type === 'F32' ? new Float32Array(src.buffer, src.byteOffset, src.byteLength / 4)
    : new Uint16Array(src.buffer, src.byteOffset, src.byteLength / 2);
  try {
    return await native().quantizeRows(target, view, t.type as PlainType, rows, t.cols, threads);
  } catch (e) {
    throw fromNative(e);
  }
}

/** Converts `input` (HF folder or GGUF file) into the GGUF `output` of mix `options.type`. */
export async function quantizeModel(input: string, output: string, options: QuantizeOptions): Promise<QuantizeResult> {
  const mix = quantMix(String(options.type));
  if (!mix)
    throw new InvalidArgumentError('INVALID_OPTION', `unknown quantization type '${options.type}' (one of ${QUANT_MIX_NAMES.join(', ')})`,
      { field: 'type' });
  const threads = Math.max(1, Math.min(256, Math.trunc(options.threads ?? availableParallelism())));
  const source = await resolveModelSource(input);
  let metadata: Map<string, GgufValue>, tensors: SourceTensor[], model: PlanModel, close: () => Promise<void>;
  if (source.kind === 'hf') {
    const s = await openHfSource(source.dir);
    const c = s.config;
    ({ metadata, tensors, close } = s);
    model = { nLayer: c.numLayers, nExpert: c.numExperts, nGqa: c.numHeads / c.numKvHeads,
      is70B: c.numExperts !== 8 && c.numLayers === 80 && c.numHeads !== c.numKvHeads };
  } else {
    ({ metadata, tensors, model, close } = await openGgufSource(source.file));
  }
  try {
    tensors = [...tensors].sort((a, b) => llamaTensorOrder(a.name, b.name));
    const types = planTensorTypes(tensors.map((t) => ({ name: t.name, dims: t.dims, type: t.keepAs ?? t.type })), mix, model,
      options.pure === true);

    // llama-quantize copies the metadata, then sets these two (remove + append) and drops split keys.
    const meta = new Map(metadata);
    for (const k of ['general.quantization_version', 'general.file_type', 'split.no', 'split.count', 'split.tensors.count']) meta.delete(k);
    meta.set('general.quantization_version', gguf.u32(2));
    meta.set('general.file_type', gguf.u32(mix.fileType));

    const sizes = tensors.map((t, i) => Number(ggmlBytes(ggmlTypeByName(types[i]!)!, BigInt(t.rows) * BigInt(t.cols))));
    const totalBytes = sizes.reduce((a, b) => a + b, 0);
    let doneBytes = 0;
    const progress = (i: number) =>
      options.onProgress?.({ tensor: tensors[i]!.name, index: i, count: tensors.length, type: types[i]!, doneBytes, totalBytes });
    async function* slabs(i: number): AsyncGenerator<Uint8Array> {
      const t = tensors[i]!, target = types[i]!;
      const srcRow = ggmlRowBytes(ggmlTypeByName(t.type)!, t.cols);
      const step = Math.max(t.rowAlign, Math.floor(SLAB_BYTES / srcRow / t.rowAlign) * t.rowAlign);
      progress(i);
      for (let r = 0; r < t.rows; r += step) {
        const n = Math.min(step, t.rows - r);
        const out = await convertRows(await t.read(r, r + n), t, n, target, threads);
        doneBytes += out.length;
        yield out;
        progress(i);
      }
    }
    const bytes = await writeGguf(output, {
      metadata: meta,
      tensors: tensors.map((t, i) => ({ name: t.name, type: types[i]!, dims: t.dims, data: slabs(i) })),
    });
    return { file: output, bytes, tensors: tensors.map((t, i) => ({ name: t.name, type: types[i]! })) };
  } finally {
    await close();
  }
}
