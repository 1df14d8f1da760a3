/**
 * Continuous batching for one model: every sequence's pending evaluation joins the next native step, one
 * forward pass over the next token of each decoding sequence plus a chunk of any new prompt (each sequence
 * at its own positions through its own KV cache; the experts read once per step for the whole batch).
 *
 * A step starts on the macrotask after the previous one ends (setImmediate), so every caller that got its
 * logits from one step (and sampled its next token synchronously after the await) is in the next one.
 * A step that fails is re-run item by item, so one bad evaluation rejects alone.
 */
import type { NativeEvalResult, NativeModel, NativeSequence, NativeStepItem } from '../native.js';

/** Prompt tokens a step takes in all (decode tokens count against it first); longer prompts are chunked. */
export const DEFAULT_STEP_TOKENS = 256;
/**
 * Prompt tokens a step takes while some sequence is decoding: a prompt chunk makes every decoding sequence
 * wait for it, so it is kept near the cost of the decode tokens themselves (on 2 cores, 16 decode tokens plus
 * a 256-token chunk made one step ~1 s, the inter-token p99 of 16 clients; bench/RESULTS.md). Prompts still
 * progress every step; with nothing decoding a prompt takes the whole DEFAULT_STEP_TOKENS.
 */
export const PROMPT_TOKENS_WHILE_DECODING = 16;

/** PROMPT_TOKENS_WHILE_DECODING, or SMOE_PROMPT_TOKENS_WHILE_DECODING (an integer 1..4096) when set. */
export function promptTokensWhileDecoding(): number {
  const v = Number(process.env['SMOE_PROMPT_TOKENS_WHILE_DECODING']);
  return Number.isInteger(v) && v >= 1 && v <= 4096 ? v : PROMPT_TOKENS_WHILE_DECODING;
}

interface Job {
  seq: NativeSequence;
  ids: Int32Array;
  all: boolean;
  trace: boolean;
  topK: number;
  done: number;  // tokens already evaluated
  solo: boolean; // run alone (after a failed shared step)
  logits: Float32Array[];
  experts: Int32Array[];
  weights: Float32Array[];
  resolve: (r: NativeEvalResult) => void;
  reject: (e: unknown) => void;
}

/** Counters of what the scheduler has run (for metrics and tests). */
export interface SchedulerStats {
  steps: number;
  /** Tokens evaluated over all steps. */
  tokens: number;
  /** Items (sequences) over all steps: items / steps is the mean batch size. */
  items: number;
  /** The most sequences one step held. */
  maxBatch: number;
}

export class BatchScheduler {
  readonly stats: SchedulerStats = { steps: 0, tokens: 0, items: 0, maxBatch: 0 };
  #handle: NativeModel;
  #stepTokens: number;
  #promptTokensWhileDecoding: number;
  #pending: Job[] = [];
  #running = false;
  #scheduled = false;
  #inFlight = new Set<Job>();

  constructor(handle: NativeModel, stepTokens = DEFAULT_STEP_TOKENS, whileDecoding = promptTokensWhileDecoding()) {
    this.#handle = handle;
    this.#stepTokens = stepTokens;
    this.#promptTokensWhileDecoding = whileDecoding;
  }

  /** Sequences waiting for or inside a step. */
  get pending(): number {
    return this.#pending.length;
  }

  /**
   * Appends `ids` to `seq` in the coming steps; resolves once all are evaluated with the last position's
   * logits (every position's when `all`) and, with `trace`, the router choices [n, layers, topK].
   * One evaluation per sequence at a time (Sequence queues its calls).
   */
  eval(seq: NativeSequence, ids: Int32Array, all: boolean, trace: boolean, topK: number): Promise<NativeEvalResult> {
    return new Promise<NativeEvalResult>((resolve, reject) => {
      this.#pending.push({ seq, ids, all, trace, topK, done: 0, solo: false, logits: [], experts: [], weights: [], resolve, reject });
      this.#kick();
    });
  }

  /** Rejects a sequence's evaluation that has not started yet (its sequence is being disposed). */
  cancel(seq: NativeSequence, error: unknown): void {
    const job = this.#pending.find((j) => j.seq === seq && j.done === 0 && !this.#inFlight.has(j));
    if (job) this.#fail(job, error);
  }

  #kick(): void {
    if (this.#running || this.#scheduled || this.#pending.length === 0) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      void this.#step();
    });
  }

  /** The next step's jobs and how many tokens each contributes. */
  #plan(): Array<{ job: Job; n: number }> {
    const first = this.#pending[0]!;
    if (first.solo) return [{ job: first, n: Math.min(first.ids.length - first.done, this.#stepTokens) }];
    const mates = this.#pending.filter((j) => !j.solo && j.topK === first.topK);
    const plan: Array<{ job: Job; n: number }> = [];
    let budget = this.#stepTokens;
    for (const job of mates)
      if (job.ids.length - job.done === 1) {
        plan.push({ job, n: 1 });
        budget--;
      }
    if (plan.length > 0) budget = Math.min(budget, this.#promptTokensWhileDecoding);
    let prompts = 0;
    for (const job of mates) {
      const left = job.ids.length - job.done;
      if (left === 1) continue;
      const n = Math.min(left, prompts === 0 ? Math.max(budget, 1) : budget);
      if (n <= 0) break;
      plan.push({ job, n });
      budget -= n;
      prompts++;
    }
    return plan;
  }

  async #step(): Promise<void> {
    this.#running = true;
    const plan = this.#plan();
    const items: NativeStepItem[] = plan.map(({ job, n }) => {
      const last = job.done + n === job.ids.length;
      return { sequence: job.seq, ids: job.ids.subarray(job.done, job.done + n), logits: job.all ? 2 : last ? 1 : 0, trace: job.trace };
    });
    for (const { job } of plan) this.#inFlight.add(job);
    try {
      const results = await this.#handle.step(items, plan[0]!.job.topK);
      this.stats.steps++;
      this.stats.items += plan.length;
      this.stats.maxBatch = Math.max(this.stats.maxBatch, plan.length);
      plan.forEach(({ job, n }, i) => {
        const r = results[i]!;
        this.stats.tokens += n;
        job.done += n;
        if (r.logits) job.logits.push(r.logits);
        if (r.experts && r.weights) {
          job.experts.push(r.experts);
          job.weights.push(r.weights);
        }
        if (job.done === job.ids.length) this.#finish(job);
      });
    } catch (e) {
      if (plan.length === 1) this.#fail(plan[0]!.job, e);
      else for (const { job } of plan) job.solo = true; // find the one at fault
    } finally {
      this.#inFlight.clear();
      this.#running = false;
      this.#kick();
    }
  }

  #finish(job: Job): void {
    this.#remove(job);
    const r: NativeEvalResult = { logits: concat(job.logits, Float32Array) };
    if (job.trace) {
      r.experts = concat(job.experts, Int32Array);
      r.weights = concat(job.weights, Float32Array);
    }
    job.resolve(r);
  }

  #fail(job: Job, e: unknown): void {
    this.#remove(job);
    // The failed step was rolled back natively; chunks evaluated before it are dropped here, so a failed
    // evaluation leaves the sequence as it was.
    if (job.done > 0) job.seq.reset(job.seq.length - job.done);
    job.reject(e);
  }

  #remove(job: Job): void {
    const i = this.#pending.indexOf(job);
    if (i >= 0) this.#pending.splice(i, 1);
  }
}

function concat<T extends Float32Array | Int32Array>(parts: T[], Ctor: { new (n: number): T }): T {
  if (parts.length === 1) return parts[0]!;
  const out = new Ctor(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p as never, o);
    o += p.length;
  }
  return out;
}
