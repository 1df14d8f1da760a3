/**
 * Runs one chat or text completion request through the model's sequence slots and answers it in OpenAI's
 * shape: a JSON body, or server-sent events (`data: {chunk}` ... `data: [DONE]`) when `stream` is set.
 * A client that goes away aborts its generations within one token and frees their slots.
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';

import { checkVocabRanges, validateGenerateOptions, type GenerateOptions } from '../generate-options.js';
import { generateIds } from '../generate.js';
import type { GenerationPiece, GenerationResult } from '../generation.js';
import type { TokenLogprob } from '../logprobs.js';
import type { Model, RouterStep, Sequence } from '../model.js';
import { toIds } from '../options.js';
import { badField, HttpError, sendJson, toHttpError } from './http-error.js';
import type { Metrics } from './metrics.js';
import { COMPLETIONS_DEFAULT_MAX_TOKENS, type CompletionRequest } from './request.js';
import type { SlotPool } from './slots.js';

export interface CompletionContext {
  model: Model;
  modelName: string;
  pool: SlotPool;
  metrics: Metrics;
}

type Finish = 'stop' | 'length';

/** One choice's running state. */
interface Choice {
  index: number;
  text: string;
  logprobs: TokenLogprob[];
  router: RouterStep[];
  result?: GenerationResult;
}

const now = (): number => Math.floor(Date.now() / 1000);

/** The prompt's token ids: the chat template rendered and encoded, or the completion prompt. */
function promptIds(model: Model, r: CompletionRequest): number[] {
  if (r.endpoint === 'chat') {
    const text = model.applyChatTemplate(r.messages!, { addGenerationPrompt: true });
    return model.tokenizer.encode(text, { addSpecialTokens: false });
  }
  if (typeof r.prompt === 'string') return model.tokenizer.encode(r.prompt);
  try {
    return Array.from(toIds(r.prompt!, model.config.vocabSize));
  } catch (e) {
    throw badField('prompt', (e as Error).message);
  }
}

/** max_tokens after defaults, or a 400 with the figures when prompt + completion do not fit the context. */
function completionBudget(r: CompletionRequest, prompt: number, context: number): number {
  const param = r.endpoint === 'chat' ? 'messages' : 'prompt';
  if (r.maxTokens !== undefined && prompt + r.maxTokens > context)
    throw new HttpError(400, `This model's maximum context length is ${context} tokens. However, you requested ${prompt + r.maxTokens} tokens ` +
      `(${prompt} in the ${param}, ${r.maxTokens} in the completion). Please reduce the length of the ${param} or completion.`,
      'invalid_request_error', 'context_length_exceeded', param);
  if (prompt >= context)
    throw new HttpError(400, `This model's maximum context length is ${context} tokens. However, your ${param} has ${prompt} tokens ` +
      '(one more is needed to generate). Please reduce the length of the ' + param + '.', 'invalid_request_error', 'context_length_exceeded', param);
  const room = context - prompt;
  return r.maxTokens ?? (r.endpoint === 'chat' ? room : Math.min(COMPLETIONS_DEFAULT_MAX_TOKENS, room));
}

/**
 * A generated token's text and UTF-8 bytes as they read in the output: decode() drops the space of a
 * SentencePiece word start, which the output keeps except at its very start; a byte-fallback token
 * (<0xNN>) is its one byte (its text alone is U+FFFD when the byte is part of a longer character).
 */
function tokenPiece(model: Model, id: number, atStart: boolean): { token: string; bytes: number[] } {
  const piece = model.tokenizer.idToToken(id) ?? '';
  const byte = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
  let s = model.tokenizer.decode([id]);
  if (!atStart && piece.startsWith('\u2581') && !s.startsWith(' ')) s = ' ' + s;
  return { token: s, bytes: byte ? [parseInt(byte[1]!, 16)] : [...Buffer.from(s, 'utf8')] };
}

/** `first`: the index in the generation of lps[0] (0 = the first generated token). */
function chatLogprobs(model: Model, lps: TokenLogprob[], first: number): unknown {
  return {
    content: lps.map((l, i) => ({
      ...tokenPiece(model, l.token, first + i === 0), logprob: l.logprob,
      top_logprobs: l.top.map((t) => ({ ...tokenPiece(model, t.token, first + i === 0), logprob: t.logprob })),
    })),
    refusal: null,
  };
}

function completionLogprobs(model: Model, lps: TokenLogprob[], first: number, offset: number): unknown {
  const tokens = lps.map((l, i) => tokenPiece(model, l.token, first + i === 0).token);
  const text_offset: number[] = [];
  let at = offset;
  for (const t of tokens) {
    text_offset.push(at);
    at += t.length;
  }
  return {
    tokens,
    token_logprobs: lps.map((l) => l.logprob),
    top_logprobs: lps.map((l, i) => Object.fromEntries(l.top.map((t) => [tokenPiece(model, t.token, first + i === 0).token, t.logprob]))),
    text_offset,
  };
}

/**
 * Answers `r` on `res`. `signal` aborts when the client disconnects or the server stops for good.
 * Resolves to the HTTP status sent once the answer is complete (or the client is gone).
 */
export async function runCompletion(ctx: CompletionContext, r: CompletionRequest, res: ServerResponse, signal: AbortSignal, t0: number): Promise<number> {
  const { model, pool, metrics } = ctx;
  const ids = promptIds(model, r);
  if (ids.length === 0) throw badField(r.endpoint === 'chat' ? 'messages' : 'prompt', 'the prompt encodes to no tokens');
  const maxTokens = completionBudget(r, ids.length, pool.contextSize);
  const base: GenerateOptions = validateGenerateOptions({ ...r.options, maxTokens, signal });
  checkVocabRanges(base, model.config.vocabSize);
  if (base.expertsPerToken !== undefined && base.expertsPerToken > model.config.numExperts)
    throw badField('experts_per_token', `'experts_per_token' must be in [1, ${model.config.numExperts}] (got ${base.expertsPerToken})`);

  const slots: Sequence[] = [];
  try {
    for (let i = 0; i < r.n; i++) slots.push(await pool.acquire(signal));
  } catch (e) {
    for (const s of slots) void pool.release(s);
    throw e;
  }
  metrics.promptTokens += ids.length;
  const choices: Choice[] = slots.map((_, index) => ({ index, text: '', logprobs: [], router: [] }));
  let started = 0;  // slots handed to a generation, which releases them when it ends
  let gens;
  try {
    gens = slots.map((slot, i) => {
      const opts = base.seed !== undefined && i > 0 ? { ...base, seed: base.seed + i } : base; // n choices, n seeds
      const g = generateIds(model, ids, opts, (trace) => {
        slot.setRouterTrace(trace);
        return { sequence: slot, release: () => void pool.release(slot) };
      });
      started++;
      return g;
    });
  } catch (e) {
    for (const s of slots.slice(started)) void pool.release(s);
    throw e;
  }

  const id = (r.endpoint === 'chat' ? 'chatcmpl-' : 'cmpl-') + randomBytes(12).toString('hex');
  const created = now();
  const object = r.endpoint === 'chat' ? (r.stream ? 'chat.completion.chunk' : 'chat.completion') : 'text_completion';
  let firstToken = false;
  const onPiece = (c: Choice, p: GenerationPiece): void => {
    if (p.tokens.length > 0) {
      metrics.tokens(p.tokens.length);
      if (!firstToken) {
        firstToken = true;
        metrics.firstToken((performance.now() - t0) / 1000);
      }
    }
    c.text += p.text;
    if (p.logprobs) c.logprobs.push(...p.logprobs);
    if (p.router) c.router.push(...p.router);
  };
  const finishOf = (g: GenerationResult): Finish => (g.finishReason === 'length' ? 'length' : 'stop');
  const usage = (): { prompt_tokens: number; completion_tokens: number; total_tokens: number } => {
    const completion = choices.reduce((s, c) => s + (c.result?.generatedTokens ?? 0), 0);
    return { prompt_tokens: ids.length, completion_tokens: completion, total_tokens: ids.length + completion };
  };
  const settle = async (c: Choice, i: number): Promise<void> => {
    c.result = await gens[i]!.result;
    metrics.tokens(c.result.generatedTokens - c.result.tokens.length); // the EOS / stop token, not in a piece
  };

  if (!r.stream) {
    await Promise.all(choices.map(async (c, i) => {
      for await (const p of gens[i]!) onPiece(c, p);
      await settle(c, i);
    }));
    if (signal.aborted) return 499;
    const body = {
      id, object, created, model: ctx.modelName,
      choices: choices.map((c) => {
        const finish_reason = finishOf(c.result!);
        const extra = r.routerTrace ? { router_trace: c.router } : {};
        if (r.endpoint === 'chat')
          return {
            index: c.index, message: { role: 'assistant', content: c.text, refusal: null },
            logprobs: r.logprobs === undefined ? null : chatLogprobs(model, c.logprobs, 0), finish_reason, ...extra,
          };
        return { index: c.index, text: c.text, logprobs: r.logprobs === undefined ? null : completionLogprobs(model, c.logprobs, 0, 0), finish_reason, ...extra };
      }),
      usage: usage(),
    };
    sendJson(res, 200, body);
    return 200;
  }

  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
  res.flushHeaders();
  const send = (data: unknown): void => {
    if (!res.writableEnded && !res.destroyed) res.write(`data: ${JSON.stringify(data)}\n\n`);
  };
  const chunk = (choiceList: unknown[], extra: Record<string, unknown> = {}): void =>
    send({ id, object, created, model: ctx.modelName, choices: choiceList, ...(r.includeUsage ? { usage: null } : {}), ...extra });
  const delta = (c: Choice, p: GenerationPiece | null, finish: Finish | null, offset: number): unknown => {
    const extra = r.routerTrace && p?.router ? { router_trace: p.router } : {};
    const lps = p?.logprobs ?? [];
    const first = c.logprobs.length - lps.length; // onPiece has added this piece's entries
    if (r.endpoint === 'chat')
      return {
        index: c.index, delta: p ? { content: p.text } : {},
        logprobs: r.logprobs === undefined || !p ? null : chatLogprobs(model, lps, first), finish_reason: finish, ...extra,
      };
    return { index: c.index, text: p ? p.text : '', logprobs: r.logprobs === undefined || !p ? null : completionLogprobs(model, lps, first, offset), finish_reason: finish, ...extra };
  };
  if (r.endpoint === 'chat')
    chunk(choices.map((c) => ({ index: c.index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null })));
  try {
    await Promise.all(choices.map(async (c, i) => {
      for await (const p of gens[i]!) {
        const offset = c.text.length;
        onPiece(c, p);
        if (p.text !== '' || (p.logprobs?.length ?? 0) > 0 || (r.routerTrace && p.tokens.length > 0)) chunk([delta(c, p, null, offset)]);
      }
      await settle(c, i);
      if (!signal.aborted) chunk([delta(c, null, finishOf(c.result!), c.text.length)]);
    }));
  } catch (e) {
    send(toHttpError(e).body);
    res.end();
    return 500;
  }
  if (signal.aborted) {
    res.end();
    return 499;
  }
  if (r.includeUsage) send({ id, object, created, model: ctx.modelName, choices: [], usage: usage() });
  res.end('data: [DONE]\n\n');
  return 200;
}
