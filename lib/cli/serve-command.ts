/** `smoe serve`: the OpenAI-compatible HTTP server (lib/server/) over one model, stopped gracefully by SIGTERM / SIGINT. */
import { createServer } from '../server/index.js';
import { intFlag, MODEL_FLAGS, MODEL_FLAGS_HELP, parse } from './args.js';
import { UsageError } from './errors.js';
import { loadFromFlags } from './load.js';

export const SERVE_HELP = `Usage: smoe serve --model DIR [options]

Serves the model over an OpenAI-compatible HTTP API (POST /v1/chat/completions, /v1/completions,
GET /v1/models, /health, /metrics). Concurrent requests are batched: each step is one forward pass over
the next token of every running sequence.

Options:
  -m, --model DIR              model folder (default: the packaged demo model)
      --host HOST              address to listen on (default 127.0.0.1: this machine only)
      --port PORT              port (default 8080; 0 picks a free one)
      --parallel N             sequences generated at once (default 4)
      --ctx-size C             context of each sequence, prompt + completion (default: min(model's, 4096))
      --kv-cache T             f16 (default on the CPU) or f32 (default on CUDA: no f16 attention there yet)
      --kv-memory MB           memory the KV caches may take (default: 90% of free memory / of the GPU's)
      --queue N                requests that may wait for a free sequence before 429 (default 4 x parallel)
      --api-key K              require "Authorization: Bearer K" (also SMOE_API_KEY)
      --model-name NAME        the model id clients send (default: the folder's name)
      --shutdown-timeout S     seconds running requests get to finish on SIGTERM (default 30)
${MODEL_FLAGS_HELP}`;

const FLAGS = {
  ...MODEL_FLAGS,
  host: { type: 'string' },
  port: { type: 'string' },
  parallel: { type: 'string' },
  'ctx-size': { type: 'string' },
  'kv-cache': { type: 'string' },
  'kv-memory': { type: 'string' },
  queue: { type: 'string' },
  'api-key': { type: 'string' },
  'model-name': { type: 'string' },
  'shutdown-timeout': { type: 'string' },
} as const;

/** Runs `smoe serve` until SIGTERM / SIGINT; resolves to the exit code. */
export async function serveCommand(argv: string[]): Promise<number> {
  const v = parse(argv, FLAGS, 'serve');
  if (v['help']) {
    process.stdout.write(SERVE_HELP);
    return 0;
  }
  const port = intFlag(v, 'port') ?? 8080;
  if (port < 0 || port > 65535) throw new UsageError(`--port must be in [0, 65535] (got ${port})`);
  const kvCache = v['kv-cache'];
  if (kvCache !== undefined && kvCache !== 'f16' && kvCache !== 'f32') throw new UsageError(`--kv-cache must be f16 or f32 (got ${String(kvCache)})`);
  const parallel = intFlag(v, 'parallel'), contextSize = intFlag(v, 'ctx-size'), queue = intFlag(v, 'queue');
  const kvMemory = intFlag(v, 'kv-memory'), timeout = intFlag(v, 'shutdown-timeout') ?? 30;
  const apiKey = (v['api-key'] as string | undefined) ?? process.env['SMOE_API_KEY'];
  const model = await loadFromFlags(v, 'serve');
  let server;
  try {
    server = createServer(model, {
      ...(kvCache !== undefined ? { kvCache } : {}),
      ...(parallel !== undefined ? { parallel } : {}),
      ...(contextSize !== undefined ? { contextSize } : {}),
      ...(queue !== undefined ? { queueSize: queue } : {}),
      ...(kvMemory !== undefined ? { kvMemory: kvMemory * 1024 * 1024 } : {}),
      ...(apiKey ? { apiKey } : {}),
      ...(typeof v['model-name'] === 'string' ? { modelName: v['model-name'] } : {}),
    });
  } catch (e) {
    await model.close();
    throw e;
  }
  const { url } = await server.listen({ port, host: (v['host'] as string | undefined) ?? '127.0.0.1' });
  const b = server.budget;
  process.stderr.write(`smoe: serving '${server.modelName}' at ${url}/v1 | ${server.parallel} sequences x ${server.contextSize} tokens, ` +
    `${server.kvCache} KV cache ${(b.need / 1024 ** 2).toFixed(1)} MiB\n`);
  await new Promise<void>((resolve) => {
    const stop = (sig: string): void => {
      process.stderr.write(`smoe: ${sig}: finishing ${server.active} running request(s) (up to ${timeout} s), then exiting\n`);
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      void server.close(timeout * 1000).then(resolve);
    };
    const onTerm = (): void => stop('SIGTERM');
    const onInt = (): void => stop('SIGINT');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  });
  await model.close();
  process.stderr.write('smoe: stopped\n');
  return 0;
}
