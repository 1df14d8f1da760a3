/** Reading a request's JSON body with a size limit (413 past it); a body an app's middleware already parsed is used as it is. */
import type { IncomingMessage } from 'node:http';

import { HttpError } from './http-error.js';

/** Default limit of a request body: 4 MiB (a long chat history fits; a runaway upload does not). */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

function tooLarge(limit: number): HttpError {
  return new HttpError(413, `the request body is larger than ${limit} bytes`, 'invalid_request_error', 'request_too_large', null,
    { Connection: 'close' });
}

/**
 * The parsed JSON object of the request. With express.json() or fastify's parser in front, `req.body` is
 * already an object (or a string / Buffer) and is used instead of the stream.
 * @throws HttpError 413 past `limit` bytes, 400 for a body that is not a JSON object
 */
export async function readJsonBody(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const pre = (req as IncomingMessage & { body?: unknown }).body;
  let text: string;
  if (pre !== undefined && pre !== null && !(typeof pre === 'string' || Buffer.isBuffer(pre))) {
    return asObject(pre);
  } else if (typeof pre === 'string' || Buffer.isBuffer(pre)) {
    if (Buffer.byteLength(pre) > limit) throw tooLarge(limit);
    text = pre.toString();
  } else {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw tooLarge(limit);
      chunks.push(chunk);
    }
    text = Buffer.concat(chunks).toString('utf8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new HttpError(400, `the request body is not valid JSON: ${(e as Error).message}`, 'invalid_request_error', 'invalid_json');
  }
  return asObject(value);
}

function asObject(v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new HttpError(400, 'the request body must be a JSON object', 'invalid_request_error', 'invalid_json');
  return v as Record<string, unknown>;
}
