/**
 * Choosing the next token from a row of logits: penalties and bias, then greedy argmax or
 * temperature / top-k / top-p / min-p sampling with a seeded PRNG. Works in place on the logits row and
 * reuses its buffers, so a token costs O(vocab) without sorting the vocabulary (top-k and top-p use a
 * partial selection).
 */
import { InvalidArgumentError } from './errors.js';
import { describeValue, optionalInt, optionalNumber } from './options.js';
import { Rng } from './rng.js';

/** How the next token is chosen. Every field is optional; see `resolveSampling` for the defaults. */
export interface SamplingOptions {
  /** Softmax temperature; 0 = greedy (argmax; the other sampling options are then unused). */
  temperature?: number;
  /** Keep only the k most likely tokens (0 = off). Ties at the k-th place go to the lower token id. */
  topK?: number;
  /** Nucleus sampling: keep the most likely tokens whose probabilities add up to at least topP, in (0, 1]. */
  topP?: number;
  /** Drop tokens whose probability is below minP times the top token's probability, in [0, 1] (0 = off). */
  minP?: number;
  /**
   * Repetition penalty as in transformers and llama.cpp: for every token present in the window, a positive
   * logit is divided by it and a negative one multiplied. The window is the whole context: the prompt and
   * every token generated so far (as transformers' RepetitionPenaltyLogitsProcessor). 1 = off.
   */
  repeatPenalty?: number;
  /**
   * OpenAI frequency penalty, in [-2, 2]: subtracts `count * frequencyPenalty` from the logit of every token
   * generated `count` times so far (generated tokens only, not the prompt). 0 = off.
   */
  frequencyPenalty?: number;
  /** OpenAI presence penalty, in [-2, 2]: subtracts it once from every token generated so far. 0 = off. */
  presencePenalty?: number;
  /** Added to the logits of the given token ids (after the penalties); -100 all but bans a token. */
  logitBias?: Record<number, number>;
  /** Seed of the PRNG: the same seed, model and input give the same tokens. Omitted: a random seed. */
  seed?: number;
}

/** Every sampling setting, after defaults. */
export interface ResolvedSampling {
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  repeatPenalty: number;
  frequencyPenalty: number;
  presencePenalty: number;
  logitBias: ReadonlyMap<number, number>;
  seed: number | undefined;
}

export const SAMPLING_KEYS = [
  'temperature', 'topK', 'topP', 'minP', 'repeatPenalty', 'frequencyPenalty', 'presencePenalty', 'logitBias', 'seed',
] as const;

/**
 * Checks the sampling fields of an options object (only the fields that are set).
 * @throws InvalidArgumentError INVALID_OPTION naming the option
 */
export function validateSamplingOptions(o: Record<string, unknown>): SamplingOptions {
  const out: SamplingOptions = {};
  const put = <K extends keyof SamplingOptions>(k: K, v: SamplingOptions[K] | undefined): void => {
    if (v !== undefined) out[k] = v;
  };
  put('temperature', optionalNumber(o, 'temperature', { min: 0 }));
  put('topK', optionalInt(o, 'topK', 0, 0x7fffffff));
  put('topP', optionalNumber(o, 'topP', { min: 0, minExclusive: true, max: 1 }));
  put('minP', optionalNumber(o, 'minP', { min: 0, max: 1 }));
  put('repeatPenalty', optionalNumber(o, 'repeatPenalty', { min: 0, minExclusive: true }));
  put('frequencyPenalty', optionalNumber(o, 'frequencyPenalty', { min: -2, max: 2 }));
  put('presencePenalty', optionalNumber(o, 'presencePenalty', { min: -2, max: 2 }));
  put('seed', optionalInt(o, 'seed', 0, Number.MAX_SAFE_INTEGER));
  const lb = o['logitBias'];
  if (lb !== undefined) {
    if (typeof lb !== 'object' || lb === null || Array.isArray(lb))
      throw new InvalidArgumentError('INVALID_OPTION', `option 'logitBias' must be an object mapping token ids to numbers (got ${describeValue(lb)})`, {
        field: 'logitBias',
      });
    for (const [k, v] of Object.entries(lb)) {
      if (!/^(0|[1-9]\d*)$/.test(k))
        throw new InvalidArgumentError('INVALID_OPTION', `option 'logitBias' has a key that is not a token id: ${JSON.stringify(k)}`, { field: 'logitBias' });
      if (typeof v !== 'number' || Number.isNaN(v) || v === Infinity)
        throw new InvalidArgumentError('INVALID_OPTION', `option 'logitBias' must map token ids to finite numbers or -Infinity (token ${k}: ${describeValue(v)})`, {
          field: 'logitBias',
        });
    }
    out.logitBias = lb as Record<number, number>;
  }
  return out;
}

/** Library defaults (those of transformers' GenerationConfig, with sampling on). */
export const SAMPLING_DEFAULTS: Readonly<Omit<ResolvedSampling, 'logitBias' | 'seed'>> = Object.freeze({
  temperature: 1,
  topK: 50,
  topP: 1,
  minP: 0,
  repeatPenalty: 1,
  frequencyPenalty: 0,
  presencePenalty: 0,
});

/** Fills in defaults: `options` first, then `defaults` (e.g. from generation_config.json), then SAMPLING_DEFAULTS. */
export function resolveSampling(options: SamplingOptions, defaults: Partial<SamplingOptions> & { doSample?: boolean } = {}): ResolvedSampling {
  // do_sample: false in generation_config.json means greedy unless the call sets a temperature.
  const dflt = defaults.doSample === false ? 0 : defaults.temperature ?? SAMPLING_DEFAULTS.temperature;
  const bias = new Map<number, number>();
  for (const [k, v] of Object.entries(options.logitBias ?? {})) bias.set(Number(k), v);
  return {
    temperature: options.temperature ?? dflt,
    topK: options.topK ?? defaults.topK ?? SAMPLING_DEFAULTS.topK,
    topP: options.topP ?? defaults.topP ?? SAMPLING_DEFAULTS.topP,
    minP: options.minP ?? defaults.minP ?? SAMPLING_DEFAULTS.minP,
    repeatPenalty: options.repeatPenalty ?? defaults.repeatPenalty ?? SAMPLING_DEFAULTS.repeatPenalty,
    frequencyPenalty: options.frequencyPenalty ?? SAMPLING_DEFAULTS.frequencyPenalty,
    presencePenalty: options.presencePenalty ?? SAMPLING_DEFAULTS.presencePenalty,
    logitBias: bias,
    seed: options.seed,
  };
}

/**
 * Picks tokens from logits rows. Keep one Sampler per generation: it remembers the context for the
 * penalties and owns the PRNG state.
 *
 * Order of operations: repeatPenalty, frequency/presence penalties, logitBias; then either argmax
 * (temperature 0) or temperature -> topK -> topP -> minP -> a draw (the order of transformers' warpers).
 *
 * @example
 * const sampler = new Sampler({ temperature: 0.7, topP: 0.9, seed: 1 });
 * sampler.observe(promptIds, false);
 * let logits = await seq.eval(promptIds);
 * const next = sampler.sample(logits);   // modifies `logits` in place
 * sampler.observe([next]);
 */
export class Sampler {
  readonly settings: Readonly<ResolvedSampling>;
  #rng: Rng;
  #greedy: boolean;
  #limit: number;
  // Penalty state: the distinct tokens in the context, and generation counts.
  #inContext = new Set<number>();
  #generated = new Map<number, number>();
  // Scratch buffers, sized on first use.
  #w: Float64Array = new Float64Array(0);
  #idx: Int32Array = new Int32Array(0);

  /**
   * @param options checked like generate()'s options (INVALID_OPTION on a bad one)
   * @param vocabLimit only ids below it are ever chosen (default: the whole row)
   * @param defaults used for the fields `options` leaves out (e.g. `model.generationDefaults`)
   */
  constructor(options: SamplingOptions = {}, vocabLimit = Infinity, defaults: Partial<SamplingOptions> & { doSample?: boolean } = {}) {
    if (typeof options !== 'object' || options === null || Array.isArray(options))
      throw new InvalidArgumentError('INVALID_OPTION', 'sampling options must be an object', { field: 'options' });
    const s = resolveSampling(validateSamplingOptions(options as Record<string, unknown>), defaults);
    this.settings = Object.freeze({ ...s });
    this.#rng = new Rng(s.seed);
    this.#greedy = s.temperature === 0;
    this.#limit = vocabLimit;
  }

  /**
   * Adds tokens to the context the penalties look at. `generated` (default true) tokens also count for
   * the frequency and presence penalties; prompt tokens (false) only for repeatPenalty.
   */
  observe(ids: ArrayLike<number>, generated = true): void {
    for (let i = 0; i < ids.length; i++) {
      const t = ids[i]!;
      this.#inContext.add(t);
      if (generated) this.#generated.set(t, (this.#generated.get(t) ?? 0) + 1);
    }
  }

  /** Chooses the next token from one row of logits (modified in place by penalties and bias). */
  sample(logits: Float32Array): number {
    const n = Math.min(logits.length, this.#limit);
    this.#adjust(logits, n);
    if (this.#greedy) return argmax(logits, n);
    return this.#draw(logits, n);
  }

  #adjust(l: Float32Array, n: number): void {
    const { repeatPenalty: rp, frequencyPenalty: fp, presencePenalty: pp, logitBias } = this.settings;
    if (rp !== 1)
      for (const t of this.#inContext) {
        if (t >= n) continue;
        const v = l[t]!;
        l[t] = v > 0 ? v / rp : v * rp;
      }
    if (fp !== 0 || pp !== 0)
      for (const [t, c] of this.#generated) if (t < n) l[t] = l[t]! - c * fp - pp;
    for (const [t, b] of logitBias) if (t < n) l[t] = l[t]! + b;
  }

  #draw(l: Float32Array, n: number): number {
    const { temperature, topK, topP, minP } = this.settings;
    if (this.#w.length < n) {
      this.#w = new Float64Array(n);
      this.#idx = new Int32Array(n);
    }
    const w = this.#w, idx = this.#idx;
    const m = l[argmax(l, n)]!;
    if (m === -Infinity || Number.isNaN(m)) return argmax(l, n);
    const invT = 1 / temperature;
    const k = topK > 0 && topK < n ? topK : n;
    if (k === n && topP < 1) {
      // Nucleus without top-k: weights by token id, then a weighted quickselect of the nucleus (O(vocab)).
      let mass = 0;
      for (let i = 0; i < n; i++) mass += w[i] = Math.exp((l[i]! - m) * invT);
      let count = nucleus(l, w, n, topP * mass, idx);
      if (minP > 0) {
        let kept = 0;
        for (let j = 0; j < count; j++) if (w[idx[j]!]! >= minP) idx[kept++] = idx[j]!;
        count = kept;
      }
      let total = 0;
      for (let j = 0; j < count; j++) total += w[idx[j]!]!;
      let r = this.#rng.next() * total;
      for (let j = 0; j < count; j++) {
        r -= w[idx[j]!]!;
        if (r < 0) return idx[j]!;
      }
      return idx[count - 1]!;
    }
    let count: number;
    if (k < n) {
      count = topIndices(l, n, k, idx);
    } else {
      // No truncation by rank: draw from the whole row (with the min-p floor), no ordering needed.
      let z = 0;
      for (let i = 0; i < n; i++) {
        const p = Math.exp((l[i]! - m) * invT);
        const q = p < minP ? 0 : p;
        w[i] = q;
        z += q;
      }
      let r = this.#rng.next() * z;
      let last = 0;
      for (let i = 0; i < n; i++) {
        const q = w[i]!;
        if (q === 0) continue;
        last = i;
        r -= q;
        if (r < 0) return i;
      }
      return last;
    }
    // idx[0..count) in descending order: weights, then the top-p and min-p cuts.
    let z = 0;
    for (let j = 0; j < count; j++) z += w[j] = Math.exp((l[idx[j]!]! - m) * invT);
    let keep = count;
    if (topP < 1) {
      const target = topP * z; // of the top-k set's mass, as transformers (top-k before top-p)
      let c = 0;
      for (let j = 0; j < count; j++) {
        c += w[j]!;
        if (c >= target) {
          keep = j + 1;
          break;
        }
      }
    }
    if (minP > 0) {
      // w[0] is the top token's weight (exp(0) = 1: the top token is never cut).
      const floor = minP * w[0]!;
      let j = 1;
      while (j < keep && w[j]! >= floor) j++;
      keep = j;
    }
    let total = 0;
    for (let j = 0; j < keep; j++) total += w[j]!;
    let r = this.#rng.next() * total;
    for (let j = 0; j < keep; j++) {
      r -= w[j]!;
      if (r < 0) return idx[j]!;
    }
    return idx[keep - 1]!;
  }
}

/**
 * Index of the largest of the first `n` values (the lowest such index on ties); allocates nothing.
 *
 * @example
 * argmax(Float32Array.of(1, 3, 3)); // 1
 */
export function argmax(row: Float32Array, n = row.length): number {
  let best = 0;
  let bv = row[0]!;
  for (let i = 1; i < n; i++) {
    const v = row[i]!;
    if (v > bv) {
      bv = v;
      best = i;
    }
  }
  return best;
}

/**
 * The nucleus: the fewest top-ranked ids (by value, then lower id) whose weights `w` (by id) add up to at
 * least `target`, written to out[0..count) in no particular order. A weighted quickselect: expected O(n).
 */
function nucleus(v: Float32Array, w: Float64Array, n: number, target: number, out: Int32Array): number {
  const better = (a: number, b: number): boolean => v[a]! > v[b]! || (v[a]! === v[b]! && a < b);
  for (let i = 0; i < n; i++) out[i] = i;
  // out[0..lo) is accepted; the answer's rest lies in out[lo..hi), whose mass is >= remaining.
  let lo = 0, hi = n, remaining = target;
  while (hi - lo > 1) {
    const p = out[(lo + hi) >> 1]!;
    let store = lo, mass = 0;
    for (let j = lo; j < hi; j++) {
      const t = out[j]!;
      if (better(t, p)) {
        out[j] = out[store]!;
        out[store++] = t;
        mass += w[t]!;
      }
    }
    if (mass >= remaining && store > lo) {
      hi = store;
      continue;
    }
    for (let j = store; j < hi; j++)
      if (out[j] === p) {
        out[j] = out[store]!;
        out[store] = p;
        break;
      }
    remaining -= mass + w[p]!;
    lo = store + 1;
    if (remaining <= 0) return lo;
  }
  return hi;
}

/**
 * Writes the indices of the `k` largest of the first `n` values into out[0..k), in descending order
 * (ties: lower index first), with a size-k min-heap: O(n log k). Returns k.
 */
function topIndices(v: Float32Array, n: number, k: number, out: Int32Array): number {
  // worse(a, b): a ranks below b.
  const worse = (a: number, b: number): boolean => v[a]! < v[b]! || (v[a]! === v[b]! && a > b);
  const heap = out; // heap[0] is the worst of the kept
  let size = 0;
  const siftDown = (i: number): void => {
    for (;;) {
      const a = 2 * i + 1, b = a + 1;
      let w = i;
      if (a < size && worse(heap[a]!, heap[w]!)) w = a;
      if (b < size && worse(heap[b]!, heap[w]!)) w = b;
      if (w === i) return;
      const t = heap[i]!;
      heap[i] = heap[w]!;
      heap[w] = t;
      i = w;
    }
  };
  for (let i = 0; i < n; i++) {
    if (size < k) {
      let j = size++;
      heap[j] = i;
      while (j > 0) {
        const p = (j - 1) >> 1;
        if (!worse(heap[j]!, heap[p]!)) break;
        const t = heap[j]!;
        heap[j] = heap[p]!;
        heap[p] = t;
        j = p;
      }
    } else if (worse(heap[0]!, i)) {
      heap[0] = i;
      siftDown(0);
    }
  }
  // Pop the worst to the back: heap sort gives descending order in place.
  for (let end = size - 1; end > 0; end--) {
    const t = heap[0]!;
    heap[0] = heap[end]!;
    heap[end] = t;
    size = end;
    siftDown(0);
  }
  return k;
}
