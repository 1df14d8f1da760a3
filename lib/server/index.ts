/**
 * smoe's OpenAI-compatible HTTP server over one loaded Model (node:http only). `createServer(model, options)`
 * gives a `handler(req, res)` to mount in node:http, express or fastify, and `listen()` / `close()` for a
 * server of its own. Requests share the model through continuous batching: `parallel` sequence slots with a
 * fixed context each, KV memory budgeted up front, and a bounded queue for requests waiting for a slot.
 */
import { statSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { freemem } from 'node:os';
import { basename, dirname } from 'node:path';
import { timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';

import { InvalidArgumentError, SmoeError } from '../errors.js';
import type { KvCacheType, Model } from '../model.js';
import { native } from '../native.js';
import { DEFAULT_MAX_BODY_BYTES, readJsonBody } from './body.js';
import { runCompletion, type CompletionContext } from './completions.js';
import { HttpError, sendError, sendJson } from './http-error.js';
import { Metrics } from './metrics.js';
import { parseCompletionRequest, type Endpoint } from './request.js';
import { SlotPool } from './slots.js';

export interface ServerOptions {
  /** The id clients name in `model` (default: the model folder's name). */
  modelName?: string;
  /** Sequences generated at once (default 4). */
  parallel?: number;
  /** Context of each sequence, prompt + completion (default: min(max_position_embeddings, 4096)). */
  contextSize?: number;
  /** KV cache storage (default 'f16', half the memory of 'f32', on the CPU; 'f32' on CUDA, which has no f16 attention yet). */
  kvCache?: KvCacheType;
  /**
   * Bytes the KV caches may take (default: 90% of the memory free now on the CPU, 90% of the GPU's memory
   * less the weights on CUDA). parallel x contextSize must fit or createServer throws KV_BUDGET.
   */
  kvMemory?: number;
  /** Requests that may wait for a slot before new ones get 429 (default 4 x parallel). */
  queueSize?: number;
  /** Required as `Authorization: Bearer KEY` on every endpoint but /health (default: none). */
  apiKey?: string;
  /** Largest request body accepted (default 4 MiB); larger ones get 413. */
  maxBodyBytes?: number;
}

export interface ListenOptions {
  port?: number;
  /** Default 127.0.0.1 (loopback only). */
  host?: string;
}

/** Memory the KV caches of `parallel` sequences of `contextSize` need, and what is there for them. */
export interface KvBudget {
  bytesPerToken: number;
  need: number;
  available: number;
  source: string;
}

const GiB = 1024 ** 3;
const fmt = (b: number): string => (b >= GiB ? `${(b / GiB).toFixed(2)} GiB` : `${(b / 1024 ** 2).toFixed(1)} MiB`);

/** The KV budget of a configuration (what createServer checks). */
export function kvBudget(model: Model, parallel: number, contextSize: number, kvCache: KvCacheType, kvMemory?: number): KvBudget {
  const bytesPerToken = model.kvBytesPerToken(kvCache);
  const need = parallel * contextSize * bytesPerToken;
  if (kvMemory !== undefined) return { bytesPerToken, need, available: kvMemory, source: 'kvMemory / --kv-memory' };
  if (model.info.device.startsWith('cuda')) {
    const index = Number(model.info.device.slice(5));
    const dev = native().backends().cuda.devices.find((d) => d.index === index);
    const weights = model.info.files.reduce((s, f) => s + statSync(f).size, 0);
    const total = dev?.memory ?? 0;
    return { bytesPerToken, need, available: Math.max(0, 0.9 * total - weights), source: `90% of ${model.info.device}'s ${fmt(total)} less ${fmt(weights)} of weights` };
  }
  const free = freemem();
  return { bytesPerToken, need, available: 0.9 * free, source: `90% of the ${fmt(free)} of memory free now` };
}

function positiveInt(v: unknown, name: string, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max)
    throw new InvalidArgumentError('INVALID_OPTION', `option '${name}' must be an integer in [1, ${max}] (got ${JSON.stringify(v)})`, { field: name });
  return v;
}

export class SmoeServer {
  readonly model: Model;
  readonly modelName: string;
  readonly parallel: number;
  readonly contextSize: number;
  readonly kvCache: KvCacheType;
  readonly budget: KvBudget;
  readonly metrics: Metrics;
  /** The request handler, for node:http, express (`app.use(server.handler)`) or fastify (request.raw, reply.raw). */
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
  #pool: SlotPool;
  #apiKey: Buffer | undefined;
  #maxBody: number;
  #http: Server | undefined;
  #draining = false;
  #running = new Map<Promise<void>, AbortController>();
  #created = Math.floor(Date.now() / 1000);

  constructor(model: Model, options: ServerOptions = {}) {
    if (model.closed) throw new SmoeError('MODEL_CLOSED', 'the model is closed');
    this.model = model;
    this.modelName = options.modelName ?? (model.info.files[0] ? basename(dirname(model.info.files[0])) : 'smoe');
    this.parallel = positiveInt(options.parallel ?? 4, 'parallel', 4096);
    this.contextSize = positiveInt(options.contextSize ?? Math.min(model.config.maxPositions, 4096), 'contextSize', model.config.maxPositions);
    const kv = options.kvCache ?? (model.info.device === 'cpu' ? 'f16' : 'f32'); // f16 attention: CPU only so far
    if (kv !== 'f16' && kv !== 'f32') throw new InvalidArgumentError('INVALID_OPTION', `option 'kvCache' must be 'f16' or 'f32'`, { field: 'kvCache' });
    this.kvCache = kv;
    this.budget = kvBudget(model, this.parallel, this.contextSize, kv, options.kvMemory);
    if (this.budget.need > this.budget.available)
      throw new SmoeError('KV_BUDGET',
        `the KV cache does not fit: parallel ${this.parallel} x context ${this.contextSize} x ${this.budget.bytesPerToken} bytes per token (${kv}) = ` +
        `${fmt(this.budget.need)}, but ${fmt(this.budget.available)} is available (${this.budget.source}); lower --parallel or --ctx-size` +
        (kv === 'f32' ? ', or use the f16 KV cache' : ''), { field: 'parallel' });
    const queueSize = options.queueSize ?? 4 * this.parallel;
    if (!Number.isInteger(queueSize) || queueSize < 0)
      throw new InvalidArgumentError('INVALID_OPTION', `option 'queueSize' must be an integer >= 0`, { field: 'queueSize' });
    this.#apiKey = options.apiKey ? Buffer.from(options.apiKey) : undefined;
    this.#maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    const pool: SlotPool = (this.#pool = new SlotPool(model, {
      parallel: this.parallel, contextSize: this.contextSize, kvCache: kv, queueSize,
      retryAfter: (): number => this.metrics.meanDuration() * Math.ceil((pool.queued + 1) / this.parallel),
    }));
    model.countExpertUsage(true);
    const start = model.expertUsage();
    this.metrics = new Metrics({
      active: () => pool.active, queued: () => pool.queued, kvBytes: () => pool.kvBytes, parallel: this.parallel,
      batch: () => model.batchStats,
      expertUsage: () => model.expertUsage().map((layer, l) => layer.map((v, e) => v - start[l]![e]!)),
    });
    this.handler = (req, res) => this.#handle(req, res);
  }

  /** Sequences generating now, and requests waiting for one. */
  get active(): number {
    return this.#pool.active;
  }
  get queued(): number {
    return this.#pool.queued;
  }

  /** Starts a node:http server on host:port (default 127.0.0.1:8080; port 0 picks a free one). */
  listen(options: ListenOptions = {}): Promise<{ host: string; port: number; url: string }> {
    if (this.#http) throw new SmoeError('INVALID_ARGUMENT', 'the server is already listening');
    const http = (this.#http = createHttpServer(this.handler));
    const host = options.host ?? '127.0.0.1';
    return new Promise((resolve, reject) => {
      http.once('error', reject);
      http.listen(options.port ?? 8080, host, () => {
        http.off('error', reject);
        const a = http.address() as AddressInfo;
        const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
        resolve({ host: a.address, port: a.port, url: `http://${h}:${a.port}` });
      });
    });
  }

  /**
   * Graceful stop: stops accepting connections and requests (503), lets running requests finish for up to
   * `timeoutMs` (default 30 s), then aborts what is left, closes the connections and frees the slots.
   * The model stays open (close it after).
   */
  async close(timeoutMs = 30_000): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    const http = this.#http;
    const closed = http ? new Promise<void>((r) => http.close(() => r())) : Promise.resolve();
    http?.closeIdleConnections();
    this.#pool.close(new HttpError(503, 'the server is shutting down', 'server_error', 'shutting_down'));
    const all = Promise.allSettled([...this.#running.keys()]);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([all.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeoutMs)))]);
    clearTimeout(timer);
    if (timedOut) {
      for (const ac of this.#running.values()) ac.abort(new HttpError(503, 'the server is shutting down', 'server_error', 'shutting_down'));
      await all;
    }
    http?.closeAllConnections();
    await closed;
    this.#pool.disposeAll();
    this.model.countExpertUsage(false);
  }

  #authorized(req: IncomingMessage): boolean {
    if (!this.#apiKey) return true;
    const h = req.headers['authorization'];
    const m = typeof h === 'string' ? /^Bearer\s+(.+)$/i.exec(h.trim()) : null;
    const got = Buffer.from(m ? m[1]! : '');
    return got.length === this.#apiKey.length && timingSafeEqual(got, this.#apiKey);
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const t0 = performance.now();
    const path = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '') || '/';
    const endpoint = path.replace(/^\/v1(?=\/)/, '');
    const ac = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) ac.abort(new HttpError(499, 'the client closed the connection'));
    });
    const done = (async () => {
      let status = 500;
      try {
        status = await this.#route(endpoint, req, res, ac.signal, t0);
      } catch (e) {
        if (ac.signal.aborted) status = 499; // the client is gone: nobody to answer
        else {
          sendError(res, e);
          status = res.statusCode;
        }
      } finally {
        this.metrics.request(endpoint, status);
        // Completed generations set the Retry-After estimate.
        if (status === 200 && (endpoint === '/chat/completions' || endpoint === '/completions'))
          this.metrics.finished((performance.now() - t0) / 1000);
      }
    })();
    const tracked = done.finally(() => this.#running.delete(tracked));
    this.#running.set(tracked, ac);
  }

  async #route(endpoint: string, req: IncomingMessage, res: ServerResponse, signal: AbortSignal, t0: number): Promise<number> {
    const method = req.method ?? 'GET';
    if (endpoint === '/health' && method === 'GET') {
      const status = this.#draining ? 503 : 200;
      sendJson(res, status, { status: this.#draining ? 'shutting down' : 'ok', active: this.#pool.active, queued: this.#pool.queued });
      return status;
    }
    if (!this.#authorized(req))
      throw new HttpError(401, 'Incorrect API key provided: send it as "Authorization: Bearer KEY".', 'invalid_request_error', 'invalid_api_key');
    if (this.#draining)
      throw new HttpError(503, 'the server is shutting down', 'server_error', 'shutting_down', null, { Connection: 'close' });
    const model = { id: this.modelName, object: 'model', created: this.#created, owned_by: 'smoe' };
    if (method === 'GET' && endpoint === '/models') {
      sendJson(res, 200, { object: 'list', data: [model] });
      return 200;
    }
    if (method === 'GET' && endpoint.startsWith('/models/')) {
      const id = decodeURIComponent(endpoint.slice('/models/'.length));
      if (id !== this.modelName) throw this.#unknownModel(id);
      sendJson(res, 200, model);
      return 200;
    }
    if (method === 'GET' && endpoint === '/metrics') {
      const text = this.metrics.render();
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
      return 200;
    }
    const kinds: Record<string, Endpoint> = { '/chat/completions': 'chat', '/completions': 'completion' };
    const kind = kinds[endpoint];
    if (kind === undefined) {
      if (['/models', '/metrics', '/health'].includes(endpoint) || endpoint.startsWith('/models/'))
        throw new HttpError(405, `${method} is not allowed on ${endpoint}`, 'invalid_request_error', 'method_not_allowed', null, { Allow: 'GET' });
      throw new HttpError(404, `no such endpoint: ${method} ${req.url ?? ''}`, 'invalid_request_error', 'not_found');
    }
    if (method !== 'POST')
      throw new HttpError(405, `${method} is not allowed on ${endpoint}`, 'invalid_request_error', 'method_not_allowed', null, { Allow: 'POST' });
    const body = await readJsonBody(req, this.#maxBody);
    const r = parseCompletionRequest(kind, body, this.parallel);
    if (r.model !== undefined && r.model !== this.modelName) throw this.#unknownModel(r.model);
    const ctx: CompletionContext = { model: this.model, modelName: this.modelName, pool: this.#pool, metrics: this.metrics };
    return runCompletion(ctx, r, res, signal, t0);
  }

  #unknownModel(id: string): HttpError {
    return new HttpError(404, `The model '${id}' does not exist: this server serves '${this.modelName}'.`, 'invalid_request_error', 'model_not_found', 'model');
  }
}

/**
 * An OpenAI-compatible server over `model`.
 *
 * @example
 * const server = createServer(model, { parallel: 8, contextSize: 4096 });
 * const { url } = await server.listen({ port: 8080 });       // or: http.createServer(server.handler)
 * process.once('SIGTERM', () => server.close().then(() => model.close()));
 * @throws SmoeError KV_BUDGET with the figures when parallel x contextSize does not fit; InvalidArgumentError INVALID_OPTION
 */
export function createServer(model: Model, options?: ServerOptions): SmoeServer {
  return new SmoeServer(model, options);
}
