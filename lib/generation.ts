/**
 * The handle returned by model.generate() / model.chat(): an async iterable of text pieces plus a promise
 * of the final result. Generation starts at once and runs to its end whether or not anyone iterates;
 * breaking out of a `for await` stops it (finishReason 'abort').
 */
import type { TokenLogprob } from './logprobs.js';
import type { RouterStep } from './model-types.js';
import { SmoeError } from './errors.js';

/** One streamed piece: newly final text and the token ids sampled since the previous piece. */
export interface GenerationPiece {
  /** Text released by these tokens (never splits a character; may be '' for the last piece). */
  text: string;
  tokens: number[];
  /** With `routerTrace: true`: each token's router choices per layer, aligned with `tokens`. */
  router?: RouterStep[];
  /** With `logprobs` set: each token's log-probability and the most likely alternatives, aligned with `tokens`. */
  logprobs?: TokenLogprob[];
}

export type FinishReason = 'stop' | 'length' | 'abort';

export interface StopReason {
  type: 'eos' | 'token' | 'string';
  /** The token id (eos, token) or the stop string. */
  value: number | string;
}

export interface GenerationResult {
  /** The generated text (without a stop string or anything after it). */
  text: string;
  /** The generated token ids, without the EOS / stop token that ended the generation. */
  tokens: number[];
  finishReason: FinishReason;
  /** Set when finishReason is 'stop'. */
  stopReason?: StopReason;
  promptTokens: number;
  /** Tokens sampled, including a final EOS / stop token (which `tokens` leaves out). */
  generatedTokens: number;
  prefillTokensPerSecond: number;
  /** Tokens per second after the first one: (generatedTokens - 1) over the time from the first to the last. */
  decodeTokensPerSecond: number;
}

/** What the producer gets: `emit` queues a piece, `cancelled()` is true once the consumer stopped early. */
export type Producer = (emit: (piece: GenerationPiece) => void, cancelled: () => boolean) => Promise<GenerationResult>;

/**
 * @example
 * const gen = model.generate('The capital of France is', { maxTokens: 20 });
 * for await (const piece of gen) process.stdout.write(piece.text);
 * const { finishReason, decodeTokensPerSecond } = await gen.result;
 */
export class Generation implements AsyncIterable<GenerationPiece> {
  /** Resolves when the generation ends (rejects on an engine error). */
  readonly result: Promise<GenerationResult>;
  #queue: GenerationPiece[] = [];
  #head = 0;
  #wake: (() => void) | null = null;
  #finished = false;
  #error: unknown = undefined;
  #cancelled = false;
  #iterated = false;

  /** @internal use model.generate() or model.chat() */
  constructor(produce: Producer) {
    const emit = (p: GenerationPiece): void => {
      this.#queue.push(p);
      this.#notify();
    };
    this.result = produce(emit, () => this.#cancelled).then(
      (r) => {
        this.#finished = true;
        this.#notify();
        return r;
      },
      (e: unknown) => {
        this.#finished = true;
        this.#error = e;
        this.#notify();
        throw e;
      },
    );
    // Errors reach whoever iterates or awaits `result`; an unobserved one is not an unhandled rejection.
    this.result.catch(() => undefined);
  }

  /** The whole generated text (awaits `result`). */
  async text(): Promise<string> {
    return (await this.result).text;
  }

  /** Pieces as they are generated; one iteration per Generation. */
  [Symbol.asyncIterator](): AsyncIterator<GenerationPiece> {
    if (this.#iterated) throw new SmoeError('INVALID_ARGUMENT', 'a Generation can only be iterated once');
    this.#iterated = true;
    return {
      next: async (): Promise<IteratorResult<GenerationPiece>> => {
        for (;;) {
          if (this.#head < this.#queue.length) {
            const value = this.#queue[this.#head]!;
            this.#queue[this.#head++] = undefined as unknown as GenerationPiece;
            if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
              this.#queue = this.#queue.slice(this.#head);
              this.#head = 0;
            }
            return { value, done: false };
          }
          if (this.#finished) {
            if (this.#error !== undefined) {
              const e = this.#error;
              this.#error = undefined;
              throw e;
            }
            return { value: undefined, done: true };
          }
          await new Promise<void>((r) => (this.#wake = r));
        }
      },
      return: async (): Promise<IteratorResult<GenerationPiece>> => {
        this.#cancelled = true;
        await this.result.catch(() => undefined);
        return { value: undefined, done: true };
      },
    };
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }
}
