/**
 * The server's sequence slots: `parallel` sequences made up front with a fixed context (their KV cache is
 * allocated when the server starts, so what was budgeted is what is used), handed to requests and reset
 * for the next one; a request that finds none free waits in a bounded queue (full: 429 with Retry-After).
 */
import type { KvCacheType, Model, Sequence } from '../model.js';
import { HttpError } from './http-error.js';

interface Waiter {
  resolve: (s: Sequence) => void;
  reject: (e: unknown) => void;
}

export class SlotPool {
  readonly parallel: number;
  readonly contextSize: number;
  readonly queueSize: number;
  #free: Sequence[] = [];
  #all: Sequence[] = [];
  #waiting: Waiter[] = [];
  #retryAfter: () => number;

  /** @param retryAfter seconds a client turned away should wait (an estimate from recent requests) */
  constructor(model: Model, o: { parallel: number; contextSize: number; kvCache: KvCacheType; queueSize: number; retryAfter: () => number }) {
    this.parallel = o.parallel;
    this.contextSize = o.contextSize;
    this.queueSize = o.queueSize;
    this.#retryAfter = o.retryAfter;
    for (let i = 0; i < o.parallel; i++) this.#all.push(model.createSequence({ kvCache: o.kvCache, contextSize: o.contextSize }));
    this.#free = [...this.#all];
  }

  /** Slots generating now. */
  get active(): number {
    return this.#all.length - this.#free.length;
  }

  /** Requests waiting for a slot. */
  get queued(): number {
    return this.#waiting.length;
  }

  /** KV cache bytes held by all slots. */
  get kvBytes(): number {
    return this.#all.reduce((s, q) => s + q.kvBytes, 0);
  }

  /**
   * A free slot, now or when one is released. Aborting `signal` leaves the queue.
   * @throws HttpError 429 (with Retry-After) when the queue is full
   */
  acquire(signal: AbortSignal): Promise<Sequence> {
    const s = this.#free.pop();
    if (s) return Promise.resolve(s);
    if (this.#waiting.length >= this.queueSize) {
      const after = Math.max(1, Math.ceil(this.#retryAfter()));
      return Promise.reject(new HttpError(429, `all ${this.parallel} sequence slots are busy and ${this.queueSize} requests are already waiting; retry later`,
        'rate_limit_error', 'queue_full', null, { 'Retry-After': String(after) }));
    }
    return new Promise<Sequence>((resolve, reject) => {
      const w: Waiter = { resolve, reject };
      const onAbort = (): void => {
        const i = this.#waiting.indexOf(w);
        if (i >= 0) this.#waiting.splice(i, 1);
        reject(signal.reason);
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      w.resolve = (seq) => {
        signal.removeEventListener('abort', onAbort);
        resolve(seq);
      };
      this.#waiting.push(w);
    });
  }

  /** Returns a slot (its generation has finished): emptied and given to the first waiter, if any. */
  async release(seq: Sequence): Promise<void> {
    await seq.reset();
    seq.setRouterTrace(false);
    const w = this.#waiting.shift();
    if (w) w.resolve(seq);
    else this.#free.push(seq);
  }

  /** Turns every waiter away (shutdown) and frees the slots' caches once no request holds them. */
  close(reason: unknown): void {
    for (const w of this.#waiting.splice(0)) w.reject(reason);
    for (const s of this.#free) s.dispose();
  }

  /** Frees what close() left to running requests (call once they have ended). */
  disposeAll(): void {
    for (const s of this.#all) s.dispose();
  }
}
