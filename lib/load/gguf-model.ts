/**
 * A GGUF file's model: llama.cpp's `llama` architecture hyper-parameters mapped onto the normalized config,
 * and its tensor names turned into the native weight layout (views into the file; nothing is copied).
 * This is the one place that knows llama.cpp's tensor names. Three layouts load:
 *   - Mixtral as llama.cpp writes it since 2024: `llama.expert_count > 0`, router `blk.N.ffn_gate_inp`,
 *     experts stacked in `blk.N.ffn_{gate,up,down}_exps` (ne [D, I, E] / [I, D, E]: expert e is the e-th
 *     contiguous [I, D] / [D, I] slab);
 *   - Mixtral as the 2023 converters wrote it: one tensor per expert, `blk.N.ffn_{gate,down,up}.E.weight`;
 *   - dense llama / mistral (no experts): run as one expert chosen with weight exactly 1 (softmax over one
 *     router logit is exp(0) / exp(0) = 1, and 1 * y = y), the router being any [1, D] row (ffn_norm's).
 * GGUF matrices are stored [rows, cols] row-major with ne = [cols, rows]. The converter permutes the rows
 * of attn_q / attn_k within each head for RoPE on adjacent pairs; the layout asks native for that RoPE mode
 * (`ropePairs`) instead of un-permuting: attention scores are unchanged since q and k share the permutation.
 * Weights of every computable ggml type are passed by type name (F32, F16, BF16, Q8_0, Q4_K, ...).
 */
import { ModelLoadError } from '../errors.js';
import type { NativeLayer, NativeTensor } from '../native.js';
import type { MixtralConfig } from './config.js';
import { LLAMA_FILE_TYPES, ggmlRowBytes } from './ggml-types.js';
import { GgufMetadata, type GgufFile, type GgufTensorInfo } from './gguf.js';
import type { WeightLayout } from './mixtral-weights.js';

export type GgufExpertLayout = 'stacked' | 'per-expert' | 'dense';

export interface GgufModel {
  config: MixtralConfig;
  layout: WeightLayout;
  expertLayout: GgufExpertLayout;
  /** general.file_type's name (e.g. 'Q4_K_M'), or null. */
  fileType: string | null;
}

/** Architectures whose hyper-parameters and tensors are llama's (llama.cpp writes Mixtral as `llama`). */
const ARCHITECTURES = new Set(['llama']);

export function ggufConfig(g: GgufFile): { config: MixtralConfig; fileType: string | null } {
  const m = new GgufMetadata(g);
  const file = g.file;
  const arch = m.str('general.architecture');
  if (!ARCHITECTURES.has(arch))
    throw new ModelLoadError('UNSUPPORTED_MODEL', `${file}: architecture '${arch}' is not supported (smoe runs 'llama' GGUFs: Mixtral, Llama, Mistral)`, {
      file,
      field: 'general.architecture',
    });
  const p = `${arch}.`;
  const bad = (key: string, why: string): never => {
    throw new ModelLoadError('CONFIG_INVALID', `${file}: metadata key '${key}' ${why}`, { file, field: key });
  };
  const unsupported = (key: string, why: string): never => {
    throw new ModelLoadError('UNSUPPORTED_MODEL', `${file}: ${why}`, { file, field: key });
  };
  const positive = (key: string, v: number): number =>
    (Number.isSafeInteger(v) && v >= 1 && v <= 0x7fffffff ? v : bad(key, `must be in [1, 2^31) (got ${v})`));
  const numLayers = positive(`${p}block_count`, m.int(`${p}block_count`));
  const hiddenSize = positive(`${p}embedding_length`, m.int(`${p}embedding_length`));
  const ffKey = m.has(`${p}expert_feed_forward_length`) ? `${p}expert_feed_forward_length` : `${p}feed_forward_length`;
  const intermediateSize = positive(ffKey, m.int(ffKey));
  const numHeads = positive(`${p}attention.head_count`, m.int(`${p}attention.head_count`));
  const numKvHeads = positive(`${p}attention.head_count_kv`, m.int(`${p}attention.head_count_kv`, numHeads)!);
  if (numHeads % numKvHeads !== 0) bad(`${p}attention.head_count_kv`, `(${numKvHeads}) must divide the head count (${numHeads})`);
  const headDim = m.int(`${p}attention.key_length`, null) ?? hiddenSize / numHeads;
  if (!Number.isInteger(headDim) || headDim < 2 || headDim % 2 !== 0) bad(`${p}attention.key_length`, `gives an odd or fractional head size ${headDim}`);
  const valueLength = m.int(`${p}attention.value_length`, null);
  if (valueLength !== null && valueLength !== headDim)
    unsupported(`${p}attention.value_length`, `value heads of ${valueLength} differ from key heads of ${headDim}`);
  const rot = m.int(`${p}rope.dimension_count`, null);
  if (rot !== null && rot !== headDim) unsupported(`${p}rope.dimension_count`, `partial RoPE (${rot} of ${headDim} dims) is not supported`);
  const scaling = m.str(`${p}rope.scaling.type`, null);
  if (scaling !== null && scaling !== 'none') unsupported(`${p}rope.scaling.type`, `RoPE scaling '${scaling}' is not supported`);
  const factor = m.num(`${p}rope.scale_linear`, null);
  if (factor !== null && factor !== 1) unsupported(`${p}rope.scale_linear`, `linear RoPE scaling ${factor} is not supported`);
  const experts = m.int(`${p}expert_count`, 0)!;
  if (experts < 0 || experts > 0x7fffffff) bad(`${p}expert_count`, `must be in [0, 2^31) (got ${experts})`);
  let numExperts = 1, topK = 1;
  if (experts > 0) {
    numExperts = experts;
    topK = m.int(`${p}expert_used_count`);
    if (topK < 1 || topK > experts) bad(`${p}expert_used_count`, `must be in [1, ${experts}] (got ${topK})`);
  }
  const eps = m.num(`${p}attention.layer_norm_rms_epsilon`, 1e-5)!;
  if (!(eps > 0) || !Number.isFinite(eps)) bad(`${p}attention.layer_norm_rms_epsilon`, `must be a positive number (got ${eps})`);
  const theta = m.num(`${p}rope.freq_base`, 10000)!;
  if (!(theta > 0) || !Number.isFinite(theta)) bad(`${p}rope.freq_base`, `must be a positive number (got ${theta})`);
  const maxPositions = positive(`${p}context_length`, m.int(`${p}context_length`));

  const embd = g.tensorsByName.get('token_embd.weight');
  if (!embd) throw new ModelLoadError('TENSOR_MISSING', `${file}: the model has no tensor token_embd.weight`, { file, tensor: 'token_embd.weight' });
  if (embd.dims.length !== 2)
    throw new ModelLoadError('TENSOR_SHAPE', `${file}: token_embd.weight has dims [${embd.dims.join(', ')}], expected [${hiddenSize}, vocab]`, {
      file,
      tensor: 'token_embd.weight',
    });
  const vocabSize = positive('token_embd.weight', embd.dims[1]!);
  const declared = m.int(`${p}vocab_size`, null);
  if (declared !== null && declared !== vocabSize) bad(`${p}vocab_size`, `(${declared}) differs from token_embd.weight's ${vocabSize} rows`);
  const ft = m.int('general.file_type', null);
  const fileType = ft === null ? null : (LLAMA_FILE_TYPES[ft] ?? `file type ${ft}`);
  const bos = m.int('tokenizer.ggml.bos_token_id', null);
  const eos = m.int('tokenizer.ggml.eos_token_id', null);
  return {
    config: {
      modelType: experts > 0 ? 'mixtral' : 'llama',
      vocabSize, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads, headDim, numExperts, topK, maxPositions,
      slidingWindow: null, // llama.cpp's llama architecture attends to the whole context
      rmsNormEps: eps,
      ropeTheta: theta,
      tieWordEmbeddings: !g.tensorsByName.has('output.weight'),
      bosTokenId: bos,
      eosTokenId: eos,
      dtype: fileType,
    },
    fileType,
  };
}

/**
 * The config and weight layout of a GGUF file read by readGguf().
 * @throws ModelLoadError UNSUPPORTED_MODEL, CONFIG_INVALID (key named), TENSOR_MISSING, TENSOR_SHAPE,
 *   UNSUPPORTED_QUANT (tensor and type named)
 */
export function ggufModel(g: GgufFile): GgufModel {
  const { config: c, fileType } = ggufConfig(g);
  const file = g.file;
  const dtypes = new Set<string>();
  let total = 0;
  const find = (name: string): GgufTensorInfo => {
    const t = g.tensorsByName.get(name);
    if (!t) throw new ModelLoadError('TENSOR_MISSING', `${file}: the model has no tensor ${name}`, { file, tensor: name });
    if (!t.type.computable)
      throw new ModelLoadError('UNSUPPORTED_QUANT', `${file}: tensor ${name} has type ${t.type.name}, which smoe does not compute with`, {
        file,
        tensor: name,
      });
    return t;
  };
  const shapeError = (t: GgufTensorInfo, want: number[]): never => {
    throw new ModelLoadError('TENSOR_SHAPE', `${file}: tensor ${t.name} has dims [${t.dims.join(', ')}], expected [${want.join(', ')}] from the metadata`, {
      file,
      tensor: t.name,
    });
  };
  const view = (t: GgufTensorInfo, offset: number, rows: number, cols: number): NativeTensor => {
    dtypes.add(t.type.name);
    total += rows * cols;
    return { name: t.name, file: 0, offset, dtype: t.type.name, rows, cols };
  };
  /** A [rows, cols] matrix (ne [cols, rows]). */
  const take = (name: string, rows: number, cols: number): NativeTensor => {
    const t = find(name);
    const want = [cols, rows];
    if (t.dims.length !== want.length || t.dims.some((d, i) => d !== want[i])) shapeError(t, want);
    return view(t, t.offset, rows, cols);
  };
  /** A vector of `cols` (ne [cols]), passed as one row. */
  const vec = (name: string, cols: number): NativeTensor => {
    const t = find(name);
    if (t.dims.length !== 1 || t.dims[0] !== cols) shapeError(t, [cols]);
    return view(t, t.offset, 1, cols);
  };
  /** Expert e's [rows, cols] slab of a stacked ne [cols, rows, E] tensor. */
  const stacked = (name: string, rows: number, cols: number): NativeTensor[] => {
    const t = find(name);
    const want = [cols, rows, c.numExperts];
    if (t.dims.length !== 3 || t.dims.some((d, i) => d !== want[i])) shapeError(t, want);
    const slab = rows * ggmlRowBytes(t.type, cols);
    return Array.from({ length: c.numExperts }, (_, e) => view(t, t.offset + e * slab, rows, cols));
  };

  const D = c.hiddenSize, I = c.intermediateSize, Q = c.numHeads * c.headDim, KV = c.numKvHeads * c.headDim, E = c.numExperts;
  const embed = take('token_embd.weight', c.vocabSize, D);
  const lmHead = c.tieWordEmbeddings ? embed : take('output.weight', c.vocabSize, D);
  const norm = vec('output_norm.weight', D);
  const dense = c.modelType === 'llama';
  let expertLayout: GgufExpertLayout = dense ? 'dense' : 'stacked';
  const layers: NativeLayer[] = [];
  for (let l = 0; l < c.numLayers; l++) {
    const b = `blk.${l}.`;
    const layer = {
      attnNorm: vec(`${b}attn_norm.weight`, D),
      wq: take(`${b}attn_q.weight`, Q, D),
      wk: take(`${b}attn_k.weight`, KV, D),
      wv: take(`${b}attn_v.weight`, KV, D),
      wo: take(`${b}attn_output.weight`, D, Q),
      ffnNorm: vec(`${b}ffn_norm.weight`, D),
    };
    let gate: NativeTensor, w1: NativeTensor[], w2: NativeTensor[], w3: NativeTensor[];
    if (dense) {
      const before = total;
      gate = view(find(`${b}ffn_norm.weight`), layer.ffnNorm.offset, 1, D); // the one expert's router row (see top)
      total = before;
      w1 = [take(`${b}ffn_gate.weight`, I, D)];
      w2 = [take(`${b}ffn_down.weight`, D, I)];
      w3 = [take(`${b}ffn_up.weight`, I, D)];
    } else {
      gate = take(`${b}ffn_gate_inp.weight`, E, D);
      if (g.tensorsByName.has(`${b}ffn_gate_exps.weight`) || !g.tensorsByName.has(`${b}ffn_gate.0.weight`)) {
        w1 = stacked(`${b}ffn_gate_exps.weight`, I, D);
        w2 = stacked(`${b}ffn_down_exps.weight`, D, I);
        w3 = stacked(`${b}ffn_up_exps.weight`, I, D);
      } else {
        expertLayout = 'per-expert';
        const ids = [...Array(E).keys()];
        w1 = ids.map((e) => take(`${b}ffn_gate.${e}.weight`, I, D));
        w2 = ids.map((e) => take(`${b}ffn_down.${e}.weight`, D, I));
        w3 = ids.map((e) => take(`${b}ffn_up.${e}.weight`, I, D));
      }
    }
    layers.push({ ...layer, gate, w1, w2, w3 });
  }
  const perExpert = 3 * D * I;
  return {
    config: c,
    layout: {
      weights: { embed, norm, lmHead, layers },
      totalParams: total,
      activeParams: total - c.numLayers * (E - c.topK) * perExpert,
      dtypes: [...dtypes],
    },
    expertLayout,
    fileType,
  };
}
