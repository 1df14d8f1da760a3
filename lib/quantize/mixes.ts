/**
 * llama-quantize's mixes: which ggml type each tensor of a `llama`-architecture model gets for a file type
 * (`--type q4_k_m` ...), reproducing llama.cpp's llama_tensor_get_type (src/llama-quant.cpp) for the mixes
 * smoe writes: the default type of the mix, the per-category rules (attn_v / ffn_down get more bits in some
 * layers, attn_k / attn_v Q8_0 and attn_output Q5_K for 8-expert models, output.weight Q6_K), the fall-backs
 * for rows that are not a multiple of the block size, and the tensors that stay as they are (1-d tensors,
 * norms, the router `ffn_gate_inp`).
 */

/** A mix smoe can write: llama.cpp's `general.file_type` id and the default ggml type of its tensors. */
export interface QuantMix {
  /** The name users type (`q4_k_m`). */
  name: string;
  /** llama.h `enum llama_ftype` value, written as general.file_type. */
  fileType: number;
  /** ggml type name of the tensors no rule moves. */
  defaultType: string;
}

const MIXES: QuantMix[] = [
  { name: 'f32', fileType: 0, defaultType: 'F32' },
  { name: 'f16', fileType: 1, defaultType: 'F16' },
  { name: 'bf16', fileType: 32, defaultType: 'BF16' },
  { name: 'q8_0', fileType: 7, defaultType: 'Q8_0' },
  { name: 'q4_0', fileType: 2, defaultType: 'Q4_0' },
  { name: 'q4_1', fileType: 3, defaultType: 'Q4_1' },
  { name: 'q5_0', fileType: 8, defaultType: 'Q5_0' },
  { name: 'q5_1', fileType: 9, defaultType: 'Q5_1' },
  { name: 'q2_k', fileType: 10, defaultType: 'Q2_K' },
  { name: 'q3_k_s', fileType: 11, defaultType: 'Q3_K' },
  { name: 'q3_k_m', fileType: 12, defaultType: 'Q3_K' },
  { name: 'q3_k_l', fileType: 13, defaultType: 'Q3_K' },
  { name: 'q4_k_s', fileType: 14, defaultType: 'Q4_K' },
  { name: 'q4_k_m', fileType: 15, defaultType: 'Q4_K' },
  { name: 'q5_k_s', fileType: 16, defaultType: 'Q5_K' },
  { name: 'q5_k_m', fileType: 17, defaultType: 'Q5_K' },
  { name: 'q6_k', fileType: 18, defaultType: 'Q6_K' },
];

/** Names of the mixes, in the order above. */
export const QUANT_MIX_NAMES: readonly string[] = MIXES.map((m) => m.name);

/** The mix called `name` (case-insensitive), or undefined. */
export function quantMix(name: string): QuantMix | undefined {
  return MIXES.find((m) => m.name === name.toLowerCase());
}

/** One tensor as the planner sees it: its GGUF name, ggml dims (ne, innermost first) and stored type. */
export interface PlanTensor {
  name: string;
  dims: number[];
  type: string;
}

/** The model facts the rules depend on. */
export interface PlanModel {
  nLayer: number;
  /** llama.expert_count (0 for dense models). */
  nExpert: number;
  /** head_count / head_count_kv. */
  nGqa: number;
  /** llama.cpp's LLM_TYPE_70B (dense llama with 80 layers): attn_v gets Q5_K instead of Q3_K / Q4_K. */
  is70B: boolean;
}

const BLOCK: Record<string, number> = {
  F32: 1, F16: 1, BF16: 1, Q4_0: 32, Q4_1: 32, Q5_0: 32, Q5_1: 32, Q8_0: 32,
  Q2_K: 256, Q3_K: 256, Q4_K: 256, Q5_K: 256, Q6_K: 256,
};
const isQuantized = (t: string): boolean => (BLOCK[t] ?? 1) > 1;

type Category =
  | 'output' | 'token_embd' | 'attn_qkv' | 'attn_kv_b' | 'attn_v' | 'attn_k' | 'attn_q' | 'attn_output'
  | 'ffn_up' | 'ffn_gate' | 'ffn_down' | 'other';

/** tensor_get_category: broad categories by name, first match wins. */
function category(name: string): Category {
  if (name === 'output.weight') return 'output';
  if (name === 'token_embd.weight' || name === 'per_layer_token_embd.weight') return 'token_embd';
  const parts: Array<[string, Category]> = [
    ['attn_qkv.weight', 'attn_qkv'], ['attn_kv_b.weight', 'attn_kv_b'], ['attn_v.weight', 'attn_v'],
    ['attn_k.weight', 'attn_k'], ['attn_q.weight', 'attn_q'], ['attn_output.weight', 'attn_output'],
    ['ffn_up', 'ffn_up'], ['ffn_gate', 'ffn_gate'], ['ffn_down', 'ffn_down'],
  ];
  for (const [s, c] of parts) if (name.includes(s)) return c;
  return 'other';
}
const isAttnV = (c: Category): boolean => c === 'attn_v' || c === 'attn_qkv' || c === 'attn_kv_b';

/** Names that never get quantized (tensor_allows_quantization's list, all architectures). */
const KEEP_SUBSTRINGS = [
  '_norm.weight', 'ffn_gate_inp.weight', 'ffn_gate_tid2eid.weight', 'altup', 'laurel', 'per_layer_model_proj',
  'ssm_conv1d', 'shortconv.conv.weight', 'indexer.k_proj.weight', 'indexer.q_proj.weight',
  'time_mix_first.weight', 'time_mix_w0.weight', 'time_mix_w1.weight', 'time_mix_w2.weight', 'time_mix_v0.weight',
  'time_mix_v1.weight', 'time_mix_v2.weight', 'time_mix_a0.weight', 'time_mix_a1.weight', 'time_mix_a2.weight',
  'time_mix_g1.weight', 'time_mix_g2.weight', 'time_mix_decay_w1.weight', 'time_mix_decay_w2.weight',
  'time_mix_lerp_fused.weight', 'attn_rel_b.weight', '.position_embd', 'sam.pos_embd', 'sam.neck.', 'sam.net_',
  '.rel_pos', '.patch_embd', '.patch_merger', 'a.rvq.codebook', 'mm.a.code_embd',
];

/** ggml_n_dims: dimensions up to the last that is not 1. */
function nDims(dims: number[]): number {
  let n = dims.length;
  while (n > 1 && dims[n - 1] === 1) n--;
  return n;
}

/** tensor_allows_quantization: 2-d and 3-d `*weight` tensors that are not norms, routers or the like. */
export function allowsQuantization(t: PlanTensor): boolean {
  if (nDims(t.dims) < 2) return false;
  if (!t.name.endsWith('weight')) return false;
  if (KEEP_SUBSTRINGS.some((s) => t.name.includes(s))) return false;
  return t.name !== 'position_embd.weight' && t.name !== 'token_types.weight';
}

/** The ordering of llama.cpp's weights map (weight_name_comparer): by layer (non-layer tensors first), then name. */
export function llamaTensorOrder(a: string, b: string): number {
  const layer = (s: string): number => {
    const m = /^blk\.(-?\d+)\./.exec(s);
    return m ? Number(m[1]) : -1;
  };
  const la = layer(a), lb = layer(b);
  if (la !== lb) return la < lb ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Counters llama.cpp keeps while it walks the tensors in weights-map order. */
interface State {
  nAttentionWv: number;
  iAttentionWv: number;
  iFfnDown: number;
  iFfnGate: number;
  iFfnUp: number;
  tiedEmbeddings: boolean;
}

const useMoreBits = (i: number, n: number): boolean =>
  i < Math.trunc(n / 8) || i >= Math.trunc((7 * n) / 8) || (i - Math.trunc(n / 8)) % 3 === 2;

/** The layer a per-layer rule applies to: from the name for MoE models (experts interleave), else the counter. */
function layerOf(name: string, counter: number, m: PlanModel): number {
  if (m.nExpert <= 1) return counter;
  const r = /^blk\.(\d+)\./.exec(name);
  if (!r) throw new Error(`Failed to determine layer for tensor ${name}`);
  return Number(r[1]);
}

/** llama_tensor_get_type_impl for the mixes above (llama architecture; no imatrix, no overrides). */
function ruleType(s: State, newType: string, t: PlanTensor, mix: string, cat: Category, m: PlanModel): string {
  const ff = mix.toUpperCase();
  if (cat === 'output' || (s.tiedEmbeddings && cat === 'token_embd')) {
    const nx = t.dims[0]!;
    if (nx % (BLOCK[newType] ?? 1) !== 0) return 'Q8_0';
    return newType !== 'Q8_0' ? 'Q6_K' : newType;
  }
  if (cat === 'token_embd') return newType;
  if (isAttnV(cat)) {
    if (ff === 'Q2_K') newType = m.nGqa >= 4 ? 'Q4_K' : 'Q3_K';
    else if (ff === 'Q3_K_M') newType = s.iAttentionWv < 2 ? 'Q5_K' : 'Q4_K';
    else if (ff === 'Q3_K_L') newType = 'Q5_K';
    else if ((ff === 'Q4_K_M' || ff === 'Q5_K_M') && useMoreBits(s.iAttentionWv, s.nAttentionWv)) newType = 'Q6_K';
    else if (ff === 'Q4_K_S' && s.iAttentionWv < 4) newType = 'Q5_K';
    if (m.is70B && (newType === 'Q3_K' || newType === 'Q4_K')) newType = 'Q5_K';
    if (m.nExpert === 8) newType = 'Q8_0';
    s.iAttentionWv++;
    return newType;
  }
  if (cat === 'attn_k') return m.nExpert === 8 ? 'Q8_0' : newType;
  if (cat === 'ffn_down') {
    const i = layerOf(t.name, s.iFfnDown, m), n = m.nLayer;
    if (ff === 'Q2_K') newType = 'Q3_K';
    else if (ff === 'Q3_K_M') newType = i < Math.trunc(n / 16) ? 'Q5_K' : 'Q4_K';
    else if (ff === 'Q3_K_L') newType = 'Q5_K';
    else if (ff === 'Q4_K_M') { if (useMoreBits(i, n)) newType = 'Q6_K'; }
    else if (ff === 'Q5_K_M' && useMoreBits(i, n)) newType = 'Q6_K';
    else if (ff === 'Q4_K_S' && i < Math.trunc(n / 8)) newType = 'Q5_K';
    s.iFfnDown++;
    return newType;
  }
  if (cat === 'attn_output') {
    if (m.nExpert === 8) {
      if (['Q2_K', 'Q3_K_S', 'Q3_K_M', 'Q4_K_S', 'Q4_K_M'].includes(ff)) newType = 'Q5_K';
    } else if (ff === 'Q2_K') newType = 'Q3_K';
    else if (ff === 'Q3_K_M') newType = 'Q4_K';
    else if (ff === 'Q3_K_L') newType = 'Q5_K';
    return newType;
  }
  if (cat === 'ffn_gate') { layerOf(t.name, s.iFfnGate, m); s.iFfnGate++; }
  if (cat === 'ffn_up') { layerOf(t.name, s.iFfnUp, m); s.iFfnUp++; }
  return newType;
}

/** tensor_type_fallback: a type whose block does not divide the row length falls back to a 32-block type, then F16. */
function fallback(t: PlanTensor, target: string): string {
  const cols = t.dims[0]!;
  if (cols % BLOCK[target]! === 0) return target;
  const to: Record<string, string> = { Q2_K: 'Q4_0', Q3_K: 'Q4_0', Q4_K: 'Q5_0', Q5_K: 'Q5_1', Q6_K: 'Q8_0' };
  const r = to[target] ?? target;
  return cols % BLOCK[r]! === 0 ? r : 'F16';
}

/**
 * The ggml type of every tensor for `mix`, in the order given (which must be llamaTensorOrder's, as the
 * counters of the rules run in that order). Tensors that are not quantized keep their type. `pure`
 * (llama-quantize --pure) gives every quantized tensor the mix's default type, fall-backs aside.
 */
export function planTensorTypes(tensors: readonly PlanTensor[], mix: QuantMix, model: PlanModel, pure = false): string[] {
  const s: State = {
    nAttentionWv: tensors.filter((t) => isAttnV(category(t.name))).length,
    iAttentionWv: 0, iFfnDown: 0, iFfnGate: 0, iFfnUp: 0,
    tiedEmbeddings: !tensors.some((t) => t.name === 'output.weight'),
  };
  return tensors.map((t) => {
    if (!allowsQuantization(t)) return t.type;
    if (!isQuantized(mix.defaultType)) return mix.defaultType;
    return fallback(t, pure ? mix.defaultType : ruleType(s, mix.defaultType, t, mix.name, category(t.name), model));
  });
}
