/** Loads the compiled addon (a prebuilt binary when one matches, else the local build) and types its surface. */
import { createRequire } from 'node:module';
import { join } from 'node:path';

import { SmoeError } from './errors.js';
import { packageRoot } from './package-root.js';

export interface NativeTensor {
  name: string;
  file: number;
  /** Byte offset of the first row in files[file]; rows are contiguous, each cols / block * blockBytes bytes. */
  offset: number;
  /**
   * The stored element type by name: 'F32' | 'F16' | 'BF16' (safetensors and GGUF), or a ggml block type
   * of a GGUF file ('Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K'), whose
   * rows are `cols / blockSize` ggml blocks each (see lib/load/ggml-types.ts).
   */
  dtype: string;
  rows: number;
  cols: number;
}

export interface NativeLayer {
  attnNorm: NativeTensor; wq: NativeTensor; wk: NativeTensor; wv: NativeTensor; wo: NativeTensor;
  ffnNorm: NativeTensor; gate: NativeTensor; w1: NativeTensor[]; w2: NativeTensor[]; w3: NativeTensor[];
}

export interface NativeSpec {
  config: {
    vocabSize: number; hiddenSize: number; intermediateSize: number; numLayers: number; numHeads: number;
    numKvHeads: number; headDim: number; numExperts: number; topK: number; maxPositions: number;
    slidingWindow: number; rmsNormEps: number; ropeTheta: number;
    /** RoPE on adjacent pairs (q/k rows as GGUF files store them) instead of halves (default false). */
    ropePairs?: boolean;
  };
  threads: number;
  simd: string;
  /** 'cpu' or 'cuda:N'. */
  device?: string;
  /** CUDA activations: 'fp32', or 'bf16' with fp32 accumulation (the CPU computes in fp32 either way). */
  precision?: 'fp32' | 'bf16';
  files: string[];
  weights: { embed: NativeTensor; norm: NativeTensor; lmHead: NativeTensor; layers: NativeLayer[] };
}

export interface NativeEvalResult {
  logits: Float32Array;
  experts?: Int32Array;
  weights?: Float32Array;
}

export interface NativeSequence {
  /** topK: experts per token for this call, 0 = the model's. */
  eval(ids: Int32Array, allLogits: boolean, trace: boolean, topK: number): Promise<NativeEvalResult>;
  readonly length: number;
  /** Bytes of KV cache allocated now. */
  readonly kvBytes: number;
  /** Keeps the first `keep` positions (default 0: empty). */
  reset(keep?: number): void;
  dispose(): void;
}

/** One sequence's part of a batched step. logits: 0 none, 1 the last position's, 2 every position's. */
export interface NativeStepItem {
  sequence: NativeSequence;
  ids: Int32Array;
  logits: 0 | 1 | 2;
  trace: boolean;
}

export interface NativeSequenceOptions {
  kvCache?: 'f32' | 'f16';
  /** Positions allocated at once; the cache then never grows past them. */
  contextSize?: number;
}

export interface NativeModel {
  createSequence(options?: NativeSequenceOptions): NativeSequence;
  /** One forward pass over every item (distinct sequences); topK 0 = the model's experts per token. */
  step(items: NativeStepItem[], topK: number): Promise<Array<{ logits?: Float32Array; experts?: Int32Array; weights?: Float32Array }>>;
  /** Tokens routed to each expert while counting was on, [layers * experts]. */
  expertCounts(): Float64Array;
  countExperts(on: boolean): void;
  close(): Promise<void>;
  info(): { backend: string; threads: number; simd: string; device: string; deviceName?: string; precision?: string };
}

export interface NativeBackends {
  cpu: { compiled: true; simd: string; simdLevels: string[]; cores: number };
  cuda: { compiled: boolean; reason?: string; devices: Array<{ index: number; name: string; memory: number; computeCapability: string }> };
}

export interface NativeAddon {
  openModel(spec: NativeSpec): Promise<NativeModel>;
  backends(): NativeBackends;
}

let addon: NativeAddon | undefined;

/** The addon, loaded once. Throws SmoeError NATIVE_LOAD with what was tried and what to do. */
export function native(): NativeAddon {
  if (addon) return addon;
  const root = packageRoot;
  const require = createRequire(join(root, 'package.json'));
  try {
    const load = require('node-gyp-build') as (dir: string) => unknown;
    addon = load(root) as NativeAddon;
  } catch (e) {
    throw new SmoeError(
      'NATIVE_LOAD',
      `could not load the smoe native addon from ${root} (looked in prebuilds/${process.platform}-${process.arch}/ ` +
        `and build/Release/): ${(e as Error).message}. Possible solutions: reinstall with ` +
        '`npm install smoe` on a supported platform (linux-x64), or build from source with `npm run build:native` ' +
        '(needs cmake and a C++17 compiler).',
      { cause: e },
    );
  }
  return addon;
}
