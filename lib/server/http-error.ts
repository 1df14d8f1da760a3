/** Errors of the HTTP API in OpenAI's shape: `{ error: { message, type, param, code } }` with a status. */
import type { ServerResponse } from 'node:http';

import { SmoeError } from '../errors.js';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string = status >= 500 ? 'server_error' : 'invalid_request_error',
    readonly code: string | null = null,
    readonly param: string | null = null,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }

  get body(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** A 400 naming the request field at fault. */
export function badField(param: string, message: string, code = 'invalid_value'): HttpError {
  return new HttpError(400, message, 'invalid_request_error', code, param);
}

/** smoe's option names back to the request fields they came from. */
const FIELD_NAMES: Record<string, string> = {
  maxTokens: 'max_tokens', topK: 'top_k', topP: 'top_p', minP: 'min_p', repeatPenalty: 'repetition_penalty',
  frequencyPenalty: 'frequency_penalty', presencePenalty: 'presence_penalty', logitBias: 'logit_bias',
  expertsPerToken: 'experts_per_token', stopTokens: 'stop', ignoreEos: 'ignore_eos', routerTrace: 'router_trace',
  logprobs: 'top_logprobs',
};

/** Any error to the HttpError it is answered with: argument errors are 400s, the rest 500s (503 when closed). */
export function toHttpError(e: unknown): HttpError {
  if (e instanceof HttpError) return e;
  if (e instanceof SmoeError) {
    const field = e.field ? FIELD_NAMES[e.field] ?? e.field : null;
    switch (e.code) {
      case 'INVALID_OPTION': case 'INVALID_ARGUMENT': case 'EMPTY_INPUT': case 'TOKEN_OUT_OF_RANGE':
      case 'CHAT_TEMPLATE':
        return new HttpError(400, e.message, 'invalid_request_error', e.code.toLowerCase(), field);
      case 'CONTEXT_OVERFLOW':
        return new HttpError(400, e.message, 'invalid_request_error', 'context_length_exceeded', field);
      case 'CHAT_TEMPLATE_MISSING': case 'TOKENIZER_MISSING':
        return new HttpError(400, e.message, 'invalid_request_error', e.code.toLowerCase(), null);
      case 'MODEL_CLOSED':
        return new HttpError(503, 'the server is shutting down', 'server_error', 'shutting_down');
      default:
        return new HttpError(500, `${e.code}: ${e.message}`, 'server_error', e.code.toLowerCase());
    }
  }
  return new HttpError(500, `internal error: ${(e as Error)?.message ?? String(e)}`, 'server_error', 'internal');
}

/** Writes `body` as JSON with `status` (and extra headers). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Answers with an error in OpenAI's shape (unless the response already started). */
export function sendError(res: ServerResponse, e: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const h = toHttpError(e);
  sendJson(res, h.status, h.body, h.headers);
}
