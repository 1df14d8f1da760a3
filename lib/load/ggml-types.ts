/**
 * The ggml tensor types a GGUF file may name: id, name, block size (elements per block) and block bytes,
 * as ggml.h (`enum ggml_type`) and ggml-common.h (`block_q4_0` ... `block_q6_K`, QK_K = 256) define them
 * (same table as gguf-py's GGML_QUANT_SIZES). A row of `n` elements of a type takes
 * `n / blockSize * blockBytes` bytes and `n` must be a multiple of `blockSize`.
 *
 * `computable` marks the types smoe computes with (weights in that type are passed to native as they are,
 * by name); every other type is refused at load with UNSUPPORTED_QUANT.
 */

export interface GgmlType {
  id: number;
  /** ggml's name, e.g. 'Q4_K', 'F16' — also the dtype string handed to the native side. */
  name: string;
  blockSize: number;
  blockBytes: number;
  computable: boolean;
}

const QK_K = 256;

// [id, name, blockSize, blockBytes, computable]
const TABLE: Array<[number, string, number, number, boolean]> = [
  [0, 'F32', 1, 4, true],
  [1, 'F16', 1, 2, true],
  [2, 'Q4_0', 32, 2 + 16, true],
  [3, 'Q4_1', 32, 2 + 2 + 16, true],
  [6, 'Q5_0', 32, 2 + 4 + 16, true],
  [7, 'Q5_1', 32, 2 + 2 + 4 + 16, true],
  [8, 'Q8_0', 32, 2 + 32, true],
  [9, 'Q8_1', 32, 2 + 2 + 32, false],
  [10, 'Q2_K', QK_K, 2 + 2 + QK_K / 16 + QK_K / 4, true],
  [11, 'Q3_K', QK_K, 2 + QK_K / 4 + QK_K / 8 + 12, true],
  [12, 'Q4_K', QK_K, 2 + 2 + QK_K / 2 + 12, true],
  [13, 'Q5_K', QK_K, 2 + 2 + QK_K / 2 + QK_K / 8 + 12, true],
  [14, 'Q6_K', QK_K, 2 + QK_K / 2 + QK_K / 4 + QK_K / 16, true],
  [15, 'Q8_K', QK_K, 4 + QK_K + QK_K / 8, false],
  [16, 'IQ2_XXS', QK_K, 2 + QK_K / 4, false],
  [17, 'IQ2_XS', QK_K, 2 + QK_K / 4 + QK_K / 32, false],
  [18, 'IQ3_XXS', QK_K, 2 + QK_K / 4 + QK_K / 8, false],
  [19, 'IQ1_S', QK_K, 2 + QK_K / 8 + QK_K / 16, false],
  [20, 'IQ4_NL', 32, 2 + 16, false],
  [21, 'IQ3_S', QK_K, 2 + QK_K / 4 + QK_K / 8 + QK_K / 32 + 4, false],
  [22, 'IQ2_S', QK_K, 2 + QK_K / 4 + QK_K / 16, false],
  [23, 'IQ4_XS', QK_K, 2 + 2 + QK_K / 2 + QK_K / 64, false],
  [24, 'I8', 1, 1, false],
  [25, 'I16', 1, 2, false],
  [26, 'I32', 1, 4, false],
  [27, 'I64', 1, 8, false],
  [28, 'F64', 1, 8, false],
  [29, 'IQ1_M', QK_K, QK_K / 8 + QK_K / 16 + QK_K / 32, false],
  [30, 'BF16', 1, 2, true],
  [34, 'TQ1_0', QK_K, 2 + 4 * 13, false],
  [35, 'TQ2_0', QK_K, 2 + 64, false],
  [39, 'MXFP4', 32, 1 + 16, false],
  [40, 'NVFP4', 64, 4 + 32, false],
  [41, 'Q1_0', 128, 2 + 16, false],
  [42, 'Q2_0', 64, 2 + 16, false],
];

const BY_ID = new Map<number, GgmlType>();
const BY_NAME = new Map<string, GgmlType>();
for (const [id, name, blockSize, blockBytes, computable] of TABLE) {
  const t = Object.freeze({ id, name, blockSize, blockBytes, computable });
  BY_ID.set(id, t);
  BY_NAME.set(name, t);
}

/** The type with ggml id `id`, or undefined for an id ggml does not define. */
export function ggmlTypeById(id: number): GgmlType | undefined {
  return BY_ID.get(id);
}

/** The type named `name` ('Q4_K', 'F16', ...; case-insensitive), or undefined. */
export function ggmlTypeByName(name: string): GgmlType | undefined {
  return BY_NAME.get(name.toUpperCase());
}

/** Names of the types smoe computes with, in ggml id order. */
export const COMPUTABLE_GGML_TYPES: readonly string[] = TABLE.filter((t) => t[4]).map((t) => t[1]);

/**
 * Bytes of `elements` elements laid out as rows of `rowLength` (the innermost dimension); BigInt so that
 * no size can lose precision. The caller has checked that `rowLength % blockSize === 0`.
 */
export function ggmlBytes(t: GgmlType, elements: bigint): bigint {
  return (elements / BigInt(t.blockSize)) * BigInt(t.blockBytes);
}

/** Bytes of one row of `cols` elements. */
export function ggmlRowBytes(t: GgmlType, cols: number): number {
  return (cols / t.blockSize) * t.blockBytes;
}

/**
 * `general.file_type` values (llama.h `enum llama_ftype`): the name of a file's quantization mix, e.g.
 * 15 = 'Q4_K_M' (most tensors Q4_K, some Q5_K/Q6_K; 1-d tensors stay F32).
 */
export const LLAMA_FILE_TYPES: Readonly<Record<number, string>> = Object.freeze({
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 7: 'Q8_0', 8: 'Q5_0', 9: 'Q5_1', 10: 'Q2_K', 11: 'Q3_K_S',
  12: 'Q3_K_M', 13: 'Q3_K_L', 14: 'Q4_K_S', 15: 'Q4_K_M', 16: 'Q5_K_S', 17: 'Q5_K_M', 18: 'Q6_K',
  19: 'IQ2_XXS', 20: 'IQ2_XS', 21: 'Q2_K_S', 22: 'IQ3_XS', 23: 'IQ3_XXS', 24: 'IQ1_S', 25: 'IQ4_NL',
  26: 'IQ3_S', 27: 'IQ3_M', 28: 'IQ2_S', 29: 'IQ2_M', 30: 'IQ4_XS', 31: 'IQ1_M', 32: 'BF16', 36: 'TQ1_0',
  37: 'TQ2_0', 38: 'MXFP4_MOE', 39: 'NVFP4', 40: 'Q1_0', 41: 'Q2_0',
});
