/**
 * loadModel(dir, { quantize }): the weights of a HF folder quantized while loading, into native memory
 * (allocWeights), with the types llama-quantize would give the same tensors: a llama-quantize type name
 * ('q4_k_m', 'q8_0', 'q6_k', 'q2_k', ...) is its mix, with its rules; 'q3_k', 'q4_k', 'q5_k' (no mix of that
 * name) put that type on every matrix (llama-quantize --pure; fall-backs for rows the block does not divide). Norms and the router stay as stored. q / k rows keep the HF order (the
 * HF graph's RoPE); each row's blocks are the bytes llama-quantize writes for that row.
 */
import { InvalidArgumentError, fromNative } from '../errors.js';
import type { MixtralConfig } from '../load/config.js';
import { ggmlRowBytes, ggmlTypeByName } from '../load/ggml-types.js';
import type { WeightLayout } from '../load/mixtral-weights.js';
import { native, type NativeTensor } from '../native.js';
import { QUANT_MIX_NAMES, llamaTensorOrder, planTensorTypes, quantMix, type PlanTensor } from './mixes.js';
import { FileReader } from './source-tensor.js';

/** Base types accepted by `quantize` besides the mix names, and the mix whose --pure run gives them. */
const PURE: Record<string, string> = { q3_k: 'q3_k_s', q4_k: 'q4_k_s', q5_k: 'q5_k_s' };
export const LOAD_QUANTIZE_NAMES: readonly string[] = [...QUANT_MIX_NAMES, ...Object.keys(PURE)];
const SLAB_BYTES = 32 << 20;
const ALIGN = 64;

/** One native weight under its GGUF name (stacked experts: the E tensors of one GGUF tensor). */
interface Group {
  plan: PlanTensor;
  members: NativeTensor[];
}

function groups(c: MixtralConfig, layout: WeightLayout): Group[] {
  const w = layout.weights;
  const g = (name: string, members: NativeTensor[]): Group => {
    const t = members[0]!;
    const dims = t.rows === 1 && members.length === 1 ? [t.cols] : members.length > 1 ? [t.cols, t.rows, members.length] : [t.cols, t.rows];
    return { plan: { name, dims, type: t.dtype }, members };
  };
  const out = [g('token_embd.weight', [w.embed]), g('output_norm.weight', [w.norm])];
  if (w.lmHead !== w.embed) out.push(g('output.weight', [w.lmHead]));
  w.layers.forEach((l, i) => {
    const b = `blk.${i}.`;
    out.push(g(`${b}attn_norm.weight`, [l.attnNorm]), g(`${b}attn_q.weight`, [l.wq]), g(`${b}attn_k.weight`, [l.wk]),
      g(`${b}attn_v.weight`, [l.wv]), g(`${b}attn_output.weight`, [l.wo]), g(`${b}ffn_norm.weight`, [l.ffnNorm]),
      g(`${b}ffn_gate_inp.weight`, [l.gate]), g(`${b}ffn_gate_exps.weight`, l.w1), g(`${b}ffn_down_exps.weight`, l.w2),
      g(`${b}ffn_up_exps.weight`, l.w3));
  });
  void c;
  return out;
}

/**
 * Quantizes `layout`'s weights as `quantize` says; returns the files (the shards plus one native weights
 * buffer) and the layout pointing the quantized tensors into that buffer.
 */
export async function quantizeOnLoad(c: MixtralConfig, files: string[], layout: WeightLayout, quantize: string, threads: number):
  Promise<{ files: Array<string | object>; layout: WeightLayout }> {
  const name = String(quantize).toLowerCase();
  const mix = quantMix(PURE[name] ?? name);
  if (!mix)
    throw new InvalidArgumentError('INVALID_OPTION', `option 'quantize' must be one of ${LOAD_QUANTIZE_NAMES.join(', ')} (got ${JSON.stringify(quantize)})`,
      { field: 'quantize' });
  const all = groups(c, layout).sort((a, b) => llamaTensorOrder(a.plan.name, b.plan.name));
  const types = planTensorTypes(all.map((g) => g.plan), mix, {
    nLayer: c.numLayers, nExpert: c.numExperts, nGqa: c.numHeads / c.numKvHeads,
    is70B: c.numExperts !== 8 && c.numLayers === 80 && c.numHeads !== c.numKvHeads,
  }, name in PURE);

  // Offsets in one buffer for every tensor that changes type.
  const jobs: Array<{ t: NativeTensor; type: string; offset: number }> = [];
  let size = 0;
  all.forEach((g, i) => {
    const type = types[i]!;
    if (type === g.plan.type) return;
    for (const t of g.members) {
      jobs.push({ t, type, offset: size });
      size += Math.ceil((t.rows * ggmlRowBytes(ggmlTypeByName(type)!, t.cols)) / ALIGN) * ALIGN;
    }
  });
  const addon = native();
  let buffer: object;
  try {
    buffer = addon.allocWeights(size);
  } catch (e) {
    throw fromNative(e);
  }
  const bufferIndex = files.length;
  const reader = new FileReader();
  const moved = new Map<NativeTensor, NativeTensor>();
  try {
    for (const { t, type, offset } of jobs) {
      const srcRow = ggmlRowBytes(ggmlTypeByName(t.dtype)!, t.cols), dstRow = ggmlRowBytes(ggmlTypeByName(type)!, t.cols);
      const step = Math.max(1, Math.floor(SLAB_BYTES / srcRow));
      for (let r = 0; r < t.rows; r += step) {
        const n = Math.min(step, t.rows - r);
        const src = await reader.read(files[t.file]!, t.offset + r * srcRow, n * srcRow, t.name);
        const view = t.dtype === 'F32' ? new Float32Array(src.buffer) : new Uint16Array(src.buffer);
        try {
          await addon.quantizeRows(type, view, t.dtype as 'F32' | 'F16' | 'BF16', n, t.cols, threads, buffer, offset + r * dstRow);
        } catch (e) {
          throw fromNative(e);
        }
      }
      moved.set(t, { ...t, file: bufferIndex, offset, dtype: type });
    }
  } finally {
    await reader.close();
  }
  const m = (t: NativeTensor): NativeTensor => moved.get(t) ?? t;
  const w = layout.weights;
  const weights = {
    embed: m(w.embed), norm: m(w.norm), lmHead: m(w.lmHead),
    layers: w.layers.map((l) => ({
      attnNorm: m(l.attnNorm), wq: m(l.wq), wk: m(l.wk), wv: m(l.wv), wo: m(l.wo), ffnNorm: m(l.ffnNorm), gate: m(l.gate),
      w1: l.w1.map(m), w2: l.w2.map(m), w3: l.w3.map(m),
    })),
  };
  const dtypes = new Set<string>();
  const note = (t: NativeTensor) => dtypes.add(t.dtype);
  note(weights.embed); note(weights.norm); note(weights.lmHead);
  for (const l of weights.layers) [l.attnNorm, l.wq, l.wk, l.wv, l.wo, l.ffnNorm, l.gate, ...l.w1, ...l.w2, ...l.w3].forEach(note);
  return { files: [...files, buffer], layout: { ...layout, weights, dtypes: [...dtypes] } };
}
