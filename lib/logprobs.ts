/**
 * Log-probabilities of sampled tokens (OpenAI `logprobs` / `top_logprobs`): log-softmax of the model's raw
 * logits row (before penalties, bias and temperature, as vLLM reports them), and the most likely ids.
 */

export interface TopLogprob {
  token: number;
  logprob: number;
}

export interface TokenLogprob {
  /** The sampled token and its log-probability under the model. */
  token: number;
  logprob: number;
  /** The `logprobs` most likely tokens at this position, most likely first (ties: lower id). */
  top: TopLogprob[];
}

/** Most alternatives a position may report (OpenAI's limit for top_logprobs). */
export const MAX_TOP_LOGPROBS = 20;

/**
 * Reads what is needed from a raw logits row before sampling changes it; `pick(token)` then gives the
 * sampled token's entry.
 *
 * @example
 * const lp = logprobsOf(logits, vocab, 2);   // before sampler.sample(logits)
 * const entry = lp.pick(sampler.sample(logits));
 */
export function logprobsOf(row: Float32Array, n: number, top: number): { pick(token: number): TokenLogprob } {
  let mx = -Infinity;
  for (let i = 0; i < n; i++) if (row[i]! > mx) mx = row[i]!;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(row[i]! - mx);
  const lse = mx + Math.log(sum);
  const best: number[] = [];  // ids of the `top` largest, descending, by insertion (top <= 20)
  for (let i = 0; i < n && top > 0; i++) {
    const v = row[i]!;
    if (best.length === top) {
      if (v <= row[best[top - 1]!]!) continue;
      best.pop();
    }
    let j = best.length;
    best.push(i);
    while (j > 0 && row[best[j - 1]!]! < v) {
      best[j] = best[j - 1]!;
      j--;
    }
    best[j] = i;
  }
  const tops = best.map((t) => ({ token: t, logprob: row[t]! - lse }));
  const raw = row.slice(0, n);
  return { pick: (token) => ({ token, logprob: raw[token]! - lse, top: tops }) };
}
