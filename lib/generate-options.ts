/** The options of model.generate() / model.chat(): their types, checks and defaults. */
import { InvalidArgumentError } from './errors.js';
import type { GenerationDefaults } from './generation-config.js';
import { describeValue, optionalBool, optionalInt, optionalObject, rejectUnknownKeys } from './options.js';
import { MAX_TOP_LOGPROBS } from './logprobs.js';
import { SAMPLING_KEYS, validateSamplingOptions, type SamplingOptions } from './sampling.js';

/** Options of `model.generate()` and `model.chat()`; every field is optional. */
export interface GenerateOptions extends SamplingOptions {
  /** Most tokens to generate (default: generation_config.json's max_new_tokens, else 256). */
  maxTokens?: number;
  /** Stop when the text contains one of these (matched across token boundaries; not part of the output). */
  stop?: string | string[];
  /** Stop when one of these token ids is sampled (in addition to EOS). */
  stopTokens?: number[];
  /** Keep going past EOS (default false): EOS from config.json, generation_config.json and the tokenizer. */
  ignoreEos?: boolean;
  /** Aborts the generation within one token: finishReason 'abort'. */
  signal?: AbortSignal;
  /** Attach each generated token's per-layer router choices to the yielded pieces (default false). */
  routerTrace?: boolean;
  /** Experts each token is routed to for this generation (default: the model's; see LoadOptions). */
  expertsPerToken?: number;
  /**
   * Attach each generated token's log-probability (log-softmax of the raw logits) and this many most likely
   * alternatives, 0..20, to the pieces (`piece.logprobs`). Default: none.
   */
  logprobs?: number;
}

export const GENERATE_KEYS: readonly string[] = [...SAMPLING_KEYS, 'maxTokens', 'stop', 'stopTokens', 'ignoreEos', 'signal', 'routerTrace', 'expertsPerToken', 'logprobs'];

/** Library default for maxTokens when neither the call nor generation_config.json sets one. */
export const DEFAULT_MAX_TOKENS = 256;

/**
 * Checks every field of generate()'s options without a model (vocabulary ranges are checked by generate()).
 *
 * @example
 * validateGenerateOptions({ maxTokens: -1 }); // throws InvalidArgumentError INVALID_OPTION, field 'maxTokens'
 * @throws InvalidArgumentError INVALID_OPTION naming the option
 */
export function validateGenerateOptions(options: unknown): GenerateOptions {
  const o = optionalObject(options, 'options');
  rejectUnknownKeys(o, GENERATE_KEYS);
  const out: GenerateOptions = validateSamplingOptions(o);
  const maxTokens = optionalInt(o, 'maxTokens', 1, 0x7fffffff);
  if (maxTokens !== undefined) out.maxTokens = maxTokens;
  const stop = o['stop'];
  if (stop !== undefined) {
    const list = typeof stop === 'string' ? [stop] : stop;
    if (!Array.isArray(list) || !list.every((s) => typeof s === 'string' && s.length > 0))
      throw new InvalidArgumentError('INVALID_OPTION', `option 'stop' must be a non-empty string or an array of them (got ${describeValue(stop)})`, {
        field: 'stop',
      });
    out.stop = list as string[];
  }
  const st = o['stopTokens'];
  if (st !== undefined) {
    if (!Array.isArray(st) || !st.every((t) => typeof t === 'number' && Number.isInteger(t) && t >= 0))
      throw new InvalidArgumentError('INVALID_OPTION', `option 'stopTokens' must be an array of token ids (got ${describeValue(st)})`, {
        field: 'stopTokens',
      });
    out.stopTokens = st as number[];
  }
  const ignoreEos = optionalBool(o, 'ignoreEos');
  if (ignoreEos !== undefined) out.ignoreEos = ignoreEos;
  const routerTrace = optionalBool(o, 'routerTrace');
  if (routerTrace !== undefined) out.routerTrace = routerTrace;
  const experts = optionalInt(o, 'expertsPerToken', 1, 0x7fffffff);
  if (experts !== undefined) out.expertsPerToken = experts;
  const logprobs = optionalInt(o, 'logprobs', 0, MAX_TOP_LOGPROBS);
  if (logprobs !== undefined) out.logprobs = logprobs;
  const signal = o['signal'];
  if (signal !== undefined) {
    if (!(signal instanceof AbortSignal))
      throw new InvalidArgumentError('INVALID_OPTION', `option 'signal' must be an AbortSignal (got ${describeValue(signal)})`, { field: 'signal' });
    out.signal = signal;
  }
  return out;
}

/** Token-id options checked against the vocabulary. */
export function checkVocabRanges(o: GenerateOptions, vocab: number): void {
  for (const t of o.stopTokens ?? [])
    if (t >= vocab)
      throw new InvalidArgumentError('INVALID_OPTION', `option 'stopTokens' has id ${t}, outside the vocabulary [0, ${vocab})`, { field: 'stopTokens' });
  for (const k of Object.keys(o.logitBias ?? {}))
    if (Number(k) >= vocab)
      throw new InvalidArgumentError('INVALID_OPTION', `option 'logitBias' has id ${k}, outside the vocabulary [0, ${vocab})`, { field: 'logitBias' });
}

/** The token ids that end a generation: stopTokens, plus every EOS id unless ignoreEos. */
export function stopTokenSet(o: GenerateOptions, eosIds: Iterable<number>): { eos: Set<number>; other: Set<number> } {
  const eos = new Set<number>(o.ignoreEos ? [] : eosIds);
  const other = new Set<number>((o.stopTokens ?? []).filter((t) => !eos.has(t)));
  return { eos, other };
}

/** maxTokens after defaults. */
export function resolveMaxTokens(o: GenerateOptions, d: GenerationDefaults): number {
  return o.maxTokens ?? d.maxTokens ?? DEFAULT_MAX_TOKENS;
}
