/**
 * The types shared by the model and the code that drives it (generate, route): the public option and trace
 * types, and the narrow views of a model and a sequence that generate() and route() need. They live here so
 * that imports flow one way: model.ts -> generate.ts / route.ts -> model-types.ts, never back.
 */
import type { ChatMessage, ChatTemplateOptions } from './chat.js';
import type { GenerationDefaults } from './generation-config.js';
import type { MixtralConfig } from './load/config.js';
import type { Tokenizer } from './tokenizer/index.js';

/** One evaluated token's router choices: per layer, the chosen experts (by descending score) and weights. */
export interface RouterStep {
  position: number;
  token: number;
  layers: Array<{ experts: number[]; weights: number[] }>;
}

export type KvCacheType = 'f32' | 'f16';

export interface SequenceOptions {
  /** Record each evaluated token's router choices in `sequence.routerTrace` (default false). */
  routerTrace?: boolean;
  /**
   * How the KV cache stores keys and values: 'f32' (default, exact) or 'f16' (half the memory; keys and
   * values rounded to IEEE half as they are written, attention still computed in fp32; CPU backend only).
   */
  kvCache?: KvCacheType;
  /**
   * Positions the sequence can hold (default: the model's context, max_position_embeddings). When set, the
   * cache for all of them is allocated at once and never grows; evaluating past it throws CONTEXT_OVERFLOW.
   */
  contextSize?: number;
}

export interface EvalOptions {
  /** Return every position's logits ([n * vocab]) instead of only the last position's (default false). */
  allLogits?: boolean;
  /** Experts per token for this call (default: the model's, see LoadOptions.expertsPerToken). */
  expertsPerToken?: number;
}

/** What generate() and route() use of a sequence (implemented by Sequence in model.ts). */
export interface SequenceLike {
  readonly routerTrace: RouterStep[];
  readonly length: number;
  /** Positions the sequence can hold. */
  readonly contextSize: number;
  eval(ids: ArrayLike<number>, options?: EvalOptions): Promise<Float32Array>;
  idle(): Promise<void>;
  dispose(): void;
}

/** What generate() and route() use of a model (implemented by Model in model.ts). */
export interface ModelLike {
  readonly config: Readonly<MixtralConfig>;
  readonly info: Readonly<{ expertsPerToken: number }>;
  readonly generationDefaults: Readonly<GenerationDefaults>;
  readonly hasTokenizer: boolean;
  readonly tokenizer: Tokenizer;
  applyChatTemplate(messages: readonly ChatMessage[], options?: ChatTemplateOptions): string;
  createSequence(options?: SequenceOptions): SequenceLike;
}
