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
  /** Paths of the weight files, or allocWeights handles (weights quantized while loading). */
  files: Array<string | object>;
  /** Read the files into huge-page memory instead of mapping them (default false). */
  resident?: boolean;
  /** CPU: rewrite the Q8_0 / Q4_K matmul weights in place into the kernels' interleaved layout (default true). */
  interleave?: boolean;
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
  info(): { backend: string; threads: number; simd: string; device: string; mmap: boolean; interleavedBytes: number; deviceName?: string; precision?: string };
}

export interface NativeBackends {
  cpu: { compiled: true; simd: string; simdLevels: string[]; cores: number };
  /** emulated: the SIMT emulation build (tests only), whose one device runs the CUDA kernels on the CPU. */
  cuda: {
    compiled: boolean;
    emulated?: boolean;
    reason?: string;
    devices: Array<{ index: number; name: string; memory: number; computeCapability: string; emulated?: boolean }>;
  };
}

export interface NativeAddon {
  openModel(spec: NativeSpec): Promise<NativeModel>;
  backends(): NativeBackends;
  /**
   * Rows x cols values (F32 as a Float32Array, F16 / BF16 as a Uint16Array of raw bits) as `type`: ggml
   * blocks ('Q8_0', 'Q4_K', ...) byte for byte as llama-quantize writes them, or F32 / F16 / BF16.
   */
  quantizeRows(type: string, data: Float32Array | Uint16Array, dtype: 'F32' | 'F16' | 'BF16', rows: number, cols: number,
    threads: number): Promise<Uint8Array>;
  /** The same, written at byte `offset` of an allocWeights handle. */
  quantizeRows(type: string, data: Float32Array | Uint16Array, dtype: 'F32' | 'F16' | 'BF16', rows: number, cols: number,
    threads: number, dest: object, offset: number): Promise<undefined>;
  /** `bytes` of native memory for weights quantized while loading; stands in `files` of a spec for a path. */
  allocWeights(bytes: number): object;
  /** A copy of `bytes` bytes at `offset` of an allocWeights handle (tests, debugging). */
  readWeights(handle: object, offset: number, bytes: number): Uint8Array;
}

let addon: NativeAddon | undefined;

/** Where the SIMT emulation build of the addon lives (`npm run build:emulate`; a test build, never shipped). */
export const EMULATED_ADDON = join(packageRoot, 'build-emu', 'Release', 'smoe.node');

/**
 * The addon, loaded once. Throws SmoeError NATIVE_LOAD with what was tried and what to do. With the
 * environment variable SMOE_CUDA_EMULATE=1 (set by the tests) it is the SIMT emulation build, whose CUDA
 * device is the emulator.
 */
export function native(): NativeAddon {
  if (addon) return addon;
  const root = packageRoot;
  const require = createRequire(join(root, 'package.json'));
  if (process.env.SMOE_CUDA_EMULATE === '1') {
    try {
      addon = require(EMULATED_ADDON) as NativeAddon;
      return addon;
    } catch (e) {
      throw new SmoeError('NATIVE_LOAD', `SMOE_CUDA_EMULATE=1 but the SIMT emulation build ${EMULATED_ADDON} does not load ` +
        `(build it with \`npm run build:emulate\`): ${(e as Error).message}`, { cause: e });
    }
  }
  // SMOE_ADDON=path/to/smoe.node loads that build instead (the sanitizer build of scripts/asan-test.sh).
  const override = process.env['SMOE_ADDON'];
  try {
    if (override) addon = require(override) as NativeAddon;
    else {
      const load = require('node-gyp-build') as (dir: string) => unknown;
      addon = load(root) as NativeAddon;
    }
  } catch (e) {
    throw new SmoeError(
      'NATIVE_LOAD',
      `could not load the smoe native addon ${override ? `SMOE_ADDON=${override}` : `from ${root} (looked in prebuilds/${process.platform}-${process.arch}/ ` +
        'and build/Release/)'}: ${(e as Error).message}. Possible solutions: reinstall with ` +
        '`npm install smoe` on a supported platform (linux-x64), or build from source with `npm run build:native` ' +
        '(needs cmake and a C++17 compiler).',
      { cause: e },
    );
  }
  return addon;
}
