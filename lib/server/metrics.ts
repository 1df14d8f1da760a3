/**
 * The server's counters and their Prometheus text exposition (GET /metrics): requests by endpoint and
 * status, prompt and generated tokens, active and queued sequences, recent tokens/s, time to first token,
 * batching (steps, mean sequences per step), KV cache bytes, and the expert usage per layer.
 */

/** Time-to-first-token histogram bounds, seconds. */
const TTFT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Tokens/s is measured over this trailing window. */
const RATE_WINDOW_MS = 10_000;

export interface MetricsSources {
  active(): number;
  queued(): number;
  kvBytes(): number;
  parallel: number;
  batch(): { steps: number; items: number; tokens: number };
  /** [layer][expert] tokens routed while the server ran. */
  expertUsage(): number[][];
}

export class Metrics {
  #requests = new Map<string, number>();
  promptTokens = 0;
  generatedTokens = 0;
  #ttftCounts = new Array<number>(TTFT_BUCKETS.length + 1).fill(0);
  #ttftSum = 0;
  #ttftCount = 0;
  #recent: Array<[number, number]> = [];  // (time ms, tokens) of generated tokens, trailing window
  #durations: number[] = [];              // seconds of the last completed requests
  #src: MetricsSources;

  constructor(src: MetricsSources) {
    this.#src = src;
  }

  request(endpoint: string, status: number): void {
    const k = `${endpoint}\u0000${status}`;
    this.#requests.set(k, (this.#requests.get(k) ?? 0) + 1);
  }

  tokens(n: number): void {
    this.generatedTokens += n;
    const now = Date.now();
    this.#recent.push([now, n]);
    while (this.#recent.length > 0 && this.#recent[0]![0] < now - RATE_WINDOW_MS) this.#recent.shift();
  }

  firstToken(seconds: number): void {
    this.#ttftSum += seconds;
    this.#ttftCount++;
    const i = TTFT_BUCKETS.findIndex((b) => seconds <= b);
    this.#ttftCounts[i < 0 ? TTFT_BUCKETS.length : i]!++;
  }

  finished(seconds: number): void {
    this.#durations.push(seconds);
    if (this.#durations.length > 32) this.#durations.shift();
  }

  /** Mean duration of recent requests, seconds (1 before any finished). */
  meanDuration(): number {
    return this.#durations.length ? this.#durations.reduce((a, b) => a + b, 0) / this.#durations.length : 1;
  }

  tokensPerSecond(): number {
    const now = Date.now();
    let n = 0;
    for (const [t, c] of this.#recent) if (t >= now - RATE_WINDOW_MS) n += c;
    return n / (RATE_WINDOW_MS / 1000);
  }

  render(): string {
    const out: string[] = [];
    const metric = (name: string, type: string, help: string, lines: string[]): void => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines);
    };
    const reqLines = [...this.#requests].map(([k, v]) => {
      const [endpoint, status] = k.split('\u0000');
      return `smoe_requests_total{endpoint="${endpoint}",status="${status}"} ${v}`;
    });
    metric('smoe_requests_total', 'counter', 'HTTP requests answered, by endpoint and status.', reqLines);
    metric('smoe_prompt_tokens_total', 'counter', 'Prompt tokens evaluated.', [`smoe_prompt_tokens_total ${this.promptTokens}`]);
    metric('smoe_generation_tokens_total', 'counter', 'Tokens generated.', [`smoe_generation_tokens_total ${this.generatedTokens}`]);
    metric('smoe_sequences_active', 'gauge', 'Sequences generating now.', [`smoe_sequences_active ${this.#src.active()}`]);
    metric('smoe_sequences_queued', 'gauge', 'Requests waiting for a sequence slot.', [`smoe_sequences_queued ${this.#src.queued()}`]);
    metric('smoe_sequences_slots', 'gauge', 'Sequence slots (--parallel).', [`smoe_sequences_slots ${this.#src.parallel}`]);
    metric('smoe_tokens_per_second', 'gauge', `Tokens generated per second over the last ${RATE_WINDOW_MS / 1000} s.`,
      [`smoe_tokens_per_second ${this.tokensPerSecond()}`]);
    let cum = 0;
    const ttft = TTFT_BUCKETS.map((b, i) => `smoe_time_to_first_token_seconds_bucket{le="${b}"} ${(cum += this.#ttftCounts[i]!)}`);
    ttft.push(`smoe_time_to_first_token_seconds_bucket{le="+Inf"} ${this.#ttftCount}`,
      `smoe_time_to_first_token_seconds_sum ${this.#ttftSum}`, `smoe_time_to_first_token_seconds_count ${this.#ttftCount}`);
    metric('smoe_time_to_first_token_seconds', 'histogram', 'Time from a request to its first generated token.', ttft);
    const b = this.#src.batch();
    metric('smoe_batch_steps_total', 'counter', 'Batched forward steps run.', [`smoe_batch_steps_total ${b.steps}`]);
    metric('smoe_batch_sequences_total', 'counter', 'Sequences summed over steps (divided by steps: the mean batch).',
      [`smoe_batch_sequences_total ${b.items}`]);
    metric('smoe_batch_tokens_total', 'counter', 'Tokens evaluated by the steps (prompt and generated).', [`smoe_batch_tokens_total ${b.tokens}`]);
    metric('smoe_kv_cache_bytes', 'gauge', 'KV cache memory held by the sequence slots.', [`smoe_kv_cache_bytes ${this.#src.kvBytes()}`]);
    const usage = this.#src.expertUsage().flatMap((layer, l) =>
      layer.map((v, e) => `smoe_expert_tokens_total{layer="${l}",expert="${e}"} ${v}`));
    metric('smoe_expert_tokens_total', 'counter', 'Tokens the router sent to each expert, per layer.', usage);
    return out.join('\n') + '\n';
  }
}
