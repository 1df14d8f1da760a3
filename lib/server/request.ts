/**
 * The fields of POST /v1/chat/completions and /v1/completions, checked and turned into generate() options.
 * OpenAI's fields, plus smoe's documented extensions (top_k, min_p, repetition_penalty, ignore_eos as
 * llama.cpp and vLLM spell them; experts_per_token, router_trace). Other unknown fields are ignored, as
 * llama.cpp's server does; fields smoe cannot honour yet (response_format other than text, tools) are a
 * 400 naming them, never silently ignored.
 */
import type { ChatMessage } from '../chat.js';
import type { GenerateOptions } from '../generate-options.js';
import { MAX_TOP_LOGPROBS } from '../logprobs.js';
import { badField } from './http-error.js';

export type Endpoint = 'chat' | 'completion';

/** A checked request: what to generate and how to answer. */
export interface CompletionRequest {
  endpoint: Endpoint;
  model: string | undefined;
  /** Chat: the messages (rendered by the model's template); completions: the prompt text or ids. */
  messages?: ChatMessage[];
  prompt?: string | number[];
  options: GenerateOptions;
  /** max_tokens / max_completion_tokens as sent (undefined: up to the context, or 16 for completions). */
  maxTokens: number | undefined;
  n: number;
  stream: boolean;
  includeUsage: boolean;
  /** Alternatives per token when log-probabilities were asked for (0 = only the sampled token's). */
  logprobs: number | undefined;
  routerTrace: boolean;
}

/** OpenAI's default max_tokens of the legacy completions endpoint. */
export const COMPLETIONS_DEFAULT_MAX_TOKENS = 16;
const MAX_STOP = 4;

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function num(body: Record<string, unknown>, key: string, min: number, max: number, exclusiveMin = false): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (!isNum(v) || v < min || v > max || (exclusiveMin && v === min))
    throw badField(key, `'${key}' must be a number in ${exclusiveMin ? '(' : '['}${min}, ${max}] (got ${JSON.stringify(v)})`);
  return v;
}

function int(body: Record<string, unknown>, key: string, min: number, max: number): number | undefined {
  const v = num(body, key, min, max);
  if (v !== undefined && !Number.isInteger(v)) throw badField(key, `'${key}' must be an integer (got ${v})`);
  return v;
}

function bool(body: Record<string, unknown>, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw badField(key, `'${key}' must be a boolean (got ${JSON.stringify(v)})`);
  return v;
}

/** Fields that change what the output must be; silently ignoring them would give a wrong answer. */
function rejectUnsupported(body: Record<string, unknown>): void {
  const rf = body['response_format'];
  if (rf !== undefined && rf !== null) {
    const type = typeof rf === 'object' && !Array.isArray(rf) ? (rf as Record<string, unknown>)['type'] : undefined;
    if (type !== 'text')
      throw badField('response_format', `'response_format' ${type === undefined ? 'must be an object' : `of type '${String(type)}'`} is not supported by smoe yet ` +
        '(no constrained decoding: a JSON object or schema would not be guaranteed); only { "type": "text" } is accepted', 'unsupported_parameter');
  }
  for (const key of ['tools', 'functions']) {
    const v = body[key];
    if (v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0))
      throw badField(key, `'${key}' (function calling) is not supported by smoe yet`, 'unsupported_parameter');
  }
  for (const key of ['tool_choice', 'function_call']) {
    const v = body[key];
    if (v !== undefined && v !== null && v !== 'none' && v !== 'auto')
      throw badField(key, `'${key}' (function calling) is not supported by smoe yet`, 'unsupported_parameter');
  }
  if (body['echo'] === true) throw badField('echo', "'echo' is not supported by smoe yet", 'unsupported_parameter');
  if (body['suffix'] !== undefined && body['suffix'] !== null && body['suffix'] !== '')
    throw badField('suffix', "'suffix' (insertion) is not supported by smoe yet", 'unsupported_parameter');
  const bestOf = body['best_of'];
  if (bestOf !== undefined && bestOf !== null && bestOf !== 1 && bestOf !== body['n'])
    throw badField('best_of', "'best_of' other than n is not supported by smoe yet", 'unsupported_parameter');
}

function messagesOf(v: unknown): ChatMessage[] {
  if (!Array.isArray(v) || v.length === 0) throw badField('messages', "'messages' must be a non-empty array");
  return v.map((m, i) => {
    if (typeof m !== 'object' || m === null) throw badField('messages', `messages[${i}] must be an object`);
    const { role, content } = m as Record<string, unknown>;
    if (typeof role !== 'string') throw badField('messages', `messages[${i}].role must be a string`);
    let text: string;
    if (typeof content === 'string') text = content;
    else if (content === null || content === undefined) text = '';
    else if (Array.isArray(content)) {
      text = content.map((p, j) => {
        const part = p as Record<string, unknown> | null;
        if (part?.['type'] !== 'text' || typeof part['text'] !== 'string')
          throw badField('messages', `messages[${i}].content[${j}]: only text parts are supported (got type ${JSON.stringify(part?.['type'])})`,
            'unsupported_parameter');
        return part['text'];
      }).join('');
    } else throw badField('messages', `messages[${i}].content must be a string or an array of text parts`);
    return { role: role === 'developer' ? 'system' : role, content: text };
  });
}

function promptOf(v: unknown): string | number[] {
  const one = Array.isArray(v) && v.length === 1 && (typeof v[0] === 'string' || Array.isArray(v[0])) ? v[0] : v;
  if (typeof one === 'string') {
    if (one.length === 0) throw badField('prompt', "'prompt' must not be empty");
    return one;
  }
  if (Array.isArray(one) && one.length > 0 && one.every((t) => Number.isInteger(t) && t >= 0)) return one as number[];
  if (Array.isArray(one) && one.length > 1)
    throw badField('prompt', "'prompt' as a list of several prompts is not supported yet: send one request per prompt", 'unsupported_parameter');
  throw badField('prompt', "'prompt' must be a string or a non-empty array of token ids");
}

/**
 * Checks a request body for `endpoint`.
 * @throws HttpError 400 naming the field
 */
export function parseCompletionRequest(endpoint: Endpoint, body: Record<string, unknown>, maxParallel: number): CompletionRequest {
  rejectUnsupported(body);
  const model = body['model'];
  if (model !== undefined && model !== null && typeof model !== 'string') throw badField('model', "'model' must be a string");
  const options: GenerateOptions = {};
  const req: CompletionRequest = {
    endpoint, model: model ?? undefined, options, maxTokens: undefined, n: 1, stream: false, includeUsage: false,
    logprobs: undefined, routerTrace: false,
  };
  if (endpoint === 'chat') req.messages = messagesOf(body['messages']);
  else req.prompt = promptOf(body['prompt']);

  const maxTokens = int(body, 'max_completion_tokens', 1, 0x7fffffff) ?? int(body, 'max_tokens', 1, 0x7fffffff);
  req.maxTokens = maxTokens;
  const put = <K extends keyof GenerateOptions>(k: K, v: GenerateOptions[K] | undefined): void => {
    if (v !== undefined) options[k] = v;
  };
  put('temperature', num(body, 'temperature', 0, 2));
  put('topP', num(body, 'top_p', 0, 1, true));
  put('seed', int(body, 'seed', 0, Number.MAX_SAFE_INTEGER));
  put('presencePenalty', num(body, 'presence_penalty', -2, 2));
  put('frequencyPenalty', num(body, 'frequency_penalty', -2, 2));
  const topK = int(body, 'top_k', -1, 0x7fffffff);
  put('topK', topK === -1 ? 0 : topK); // vLLM's -1 = off
  put('minP', num(body, 'min_p', 0, 1));
  put('repeatPenalty', num(body, 'repetition_penalty', 0, Infinity, true));
  put('ignoreEos', bool(body, 'ignore_eos'));
  put('expertsPerToken', int(body, 'experts_per_token', 1, 0x7fffffff));
  req.routerTrace = bool(body, 'router_trace') ?? false;
  if (req.routerTrace) options.routerTrace = true;

  const stop = body['stop'];
  if (stop !== undefined && stop !== null) {
    const list = typeof stop === 'string' ? [stop] : stop;
    if (!Array.isArray(list) || list.length > MAX_STOP || !list.every((s) => typeof s === 'string'))
      throw badField('stop', `'stop' must be a string or an array of at most ${MAX_STOP} strings`);
    const kept = (list as string[]).filter((s) => s.length > 0);
    if (kept.length > 0) options.stop = kept;
  }
  const bias = body['logit_bias'];
  if (bias !== undefined && bias !== null) {
    if (typeof bias !== 'object' || Array.isArray(bias)) throw badField('logit_bias', "'logit_bias' must map token ids to numbers");
    const out: Record<number, number> = {};
    for (const [k, v] of Object.entries(bias)) {
      if (!/^(0|[1-9]\d*)$/.test(k) || !isNum(v) || v < -100 || v > 100)
        throw badField('logit_bias', `'logit_bias' must map token ids to numbers in [-100, 100] (entry ${JSON.stringify(k)})`);
      out[Number(k)] = v;
    }
    options.logitBias = out;
  }
  req.n = int(body, 'n', 1, 128) ?? 1;
  if (req.n > maxParallel) throw badField('n', `'n' is ${req.n} but this server runs at most ${maxParallel} sequences at once (--parallel)`);
  req.stream = bool(body, 'stream') ?? false;
  const so = body['stream_options'];
  if (so !== undefined && so !== null) {
    if (typeof so !== 'object' || Array.isArray(so)) throw badField('stream_options', "'stream_options' must be an object");
    req.includeUsage = bool(so as Record<string, unknown>, 'include_usage') ?? false;
  }
  if (endpoint === 'chat') {
    const want = bool(body, 'logprobs') ?? false;
    const top = int(body, 'top_logprobs', 0, MAX_TOP_LOGPROBS);
    if (top !== undefined && !want) throw badField('top_logprobs', "'top_logprobs' needs 'logprobs': true");
    if (want) req.logprobs = top ?? 0;
  } else {
    req.logprobs = int(body, 'logprobs', 0, MAX_TOP_LOGPROBS);
  }
  if (req.logprobs !== undefined) options.logprobs = req.logprobs;
  return req;
}
