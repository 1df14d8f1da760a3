/**
 * The Mixtral tensor names of a HF checkpoint and their expected shapes, checked against the config and
 * turned into the native weight layout. This is the one place that knows the checkpoint's names.
 */
import { ModelLoadError, showValue } from '../errors.js';
import type { NativeLayer, NativeSpec, NativeTensor } from '../native.js';
import type { MixtralConfig } from './config.js';
import { requireComputeDType, type TensorEntry } from './safetensors.js';

export interface WeightLayout {
  weights: NativeSpec['weights'];
  /** Parameters of the tensors used (the embedding counted once when tied). */
  totalParams: number;
  /** Parameters a token touches: everything but the experts it is not routed to. */
  activeParams: number;
  /** The dtypes of the stored weights, e.g. ['BF16']. */
  dtypes: string[];
}

export function mixtralWeights(c: MixtralConfig, files: string[], tensors: Map<string, TensorEntry>): WeightLayout {
  const fileIndex = new Map(files.map((f, i) => [f, i]));
  const dtypes = new Set<string>();
  let total = 0;
  const take = (name: string, shape: number[]): NativeTensor => {
    const t = tensors.get(name);
    if (!t) throw new ModelLoadError('TENSOR_MISSING', `the checkpoint has no tensor ${name}`, { tensor: name });
    const dtype = requireComputeDType(t);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))
      throw new ModelLoadError(
        'TENSOR_SHAPE',
        `tensor ${name} in ${t.file} has shape ${showValue(t.shape)}, expected ${showValue(shape)} from config.json`,
        { file: t.file, tensor: name },
      );
    dtypes.add(dtype);
    total += shape.reduce((a, d) => a * d, 1);
    const rows = shape.length === 2 ? shape[0]! : 1;
    const cols = shape.length === 2 ? shape[1]! : shape[0]!;
    return { name, file: fileIndex.get(t.file)!, offset: t.offset, dtype, rows, cols };
  };
  const D = c.hiddenSize, I = c.intermediateSize, Q = c.numHeads * c.headDim, KV = c.numKvHeads * c.headDim;
  const embed = take('model.embed_tokens.weight', [c.vocabSize, D]);
  const lmHead = c.tieWordEmbeddings && !tensors.has('lm_head.weight') ? embed : take('lm_head.weight', [c.vocabSize, D]);
  const norm = take('model.norm.weight', [D]);
  const layers: NativeLayer[] = [];
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}.`;
    const moe = `${p}block_sparse_moe.`;
    // One expert at a time, so that a config asking for 10^9 experts (or layers) stops at the first missing
    // tensor instead of building the whole list.
    const experts = (w: string, shape: number[]): NativeTensor[] => {
      const out: NativeTensor[] = [];
      for (let e = 0; e < c.numExperts; e++) out.push(take(`${moe}experts.${e}.${w}.weight`, shape));
      return out;
    };
    layers.push({
      attnNorm: take(`${p}input_layernorm.weight`, [D]),
      wq: take(`${p}self_attn.q_proj.weight`, [Q, D]),
      wk: take(`${p}self_attn.k_proj.weight`, [KV, D]),
      wv: take(`${p}self_attn.v_proj.weight`, [KV, D]),
      wo: take(`${p}self_attn.o_proj.weight`, [D, Q]),
      ffnNorm: take(`${p}post_attention_layernorm.weight`, [D]),
      gate: take(`${moe}gate.weight`, [c.numExperts, D]),
      w1: experts('w1', [I, D]),
      w2: experts('w2', [D, I]),
      w3: experts('w3', [I, D]),
    });
  }
  const perExpert = 3 * D * I;
  return {
    weights: { embed, norm, lmHead, layers },
    totalParams: total,
    activeParams: total - c.numLayers * (c.numExperts - c.topK) * perExpert,
    dtypes: [...dtypes],
  };
}
