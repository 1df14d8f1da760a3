/**
 * What `smoe info` says about a GGUF file beyond the config: the tensor types per tensor kind (a Q4_K_M
 * file mixes several), their shapes and sizes, and the memory a model needs (mapped weights plus the
 * KV cache at a context length).
 */
import type { MixtralConfig } from './config.js';
import type { GgufExpertLayout } from './gguf-model.js';
import type { GgufFile } from './gguf.js';

export interface GgufTensorKind {
  /** The tensor name without block and expert numbers, e.g. 'blk.N.ffn_down_exps.weight'. */
  kind: string;
  count: number;
  /** ggml ne of the first tensor of this kind (innermost first). */
  dims: number[];
  /** Tensors per ggml type, e.g. { Q6_K: 16, Q4_K: 16 }. */
  types: Record<string, number>;
  bytes: number;
}

export interface GgufSummary {
  version: number;
  alignment: number;
  /** general.file_type's name, e.g. 'Q4_K_M'. */
  fileType: string | null;
  expertLayout: GgufExpertLayout;
  kinds: GgufTensorKind[];
  tensorBytes: number;
}

/** Tensor kinds in file order. */
export function ggufSummary(g: GgufFile, fileType: string | null, expertLayout: GgufExpertLayout): GgufSummary {
  const kinds = new Map<string, GgufTensorKind>();
  for (const t of g.tensors) {
    const kind = t.name.replace(/^blk\.\d+\./, 'blk.N.').replace(/^(blk\.N\.ffn_(?:gate|up|down))\.\d+\./, '$1.E.');
    let k = kinds.get(kind);
    if (!k) kinds.set(kind, (k = { kind, count: 0, dims: t.dims, types: {}, bytes: 0 }));
    k.count++;
    k.types[t.type.name] = (k.types[t.type.name] ?? 0) + 1;
    k.bytes += t.bytes;
  }
  return {
    version: g.version, alignment: g.alignment, fileType, expertLayout, kinds: [...kinds.values()],
    tensorBytes: g.tensors.reduce((a, t) => a + t.bytes, 0),
  };
}

/**
 * Bytes of one sequence's KV cache holding `positions` tokens on the CPU backend: K and V per layer,
 * [capacity, kvHeads * headDim] fp32, the capacity grown by doubling from 64 (native/model/kv_cache.h).
 */
export function kvCacheBytes(c: MixtralConfig, positions: number): number {
  let cap = 64;
  while (cap < positions) cap *= 2;
  return 2 * c.numLayers * cap * c.numKvHeads * c.headDim * 4;
}
