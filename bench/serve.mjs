#!/usr/bin/env node
// Serving benchmark: N concurrent streaming clients against a loopback `smoe serve` (a child process) for
// T seconds each, with random prompt and output lengths and a share of clients that disconnect mid-stream.
// Reports per client count: aggregate generated tokens/s (tokens received inside the window; requests still
// running at its end are stopped there, their tokens so far counted), time to first token and inter-token latency
// (p50 / p99), requests done and disconnected, unexpected errors (must be 0), and the server's RSS at the
// start and end of the run. With --gguf, the same load against llama.cpp's llama-server -np <max clients>
// on that GGUF, in the same run, for comparison.
//   node bench/serve.mjs [--model DIR] [--clients 1,4,8,16] [--seconds 30] [--threads N] [--ctx-size 1024]
//        [--prompt 16-256] [--output 16-128] [--disconnect 0.1] [--seed 1] [--json FILE]
//        [--gguf FILE [--llama-server /tmp/llama/src/build/bin/llama-server]]
// Default model: bench/data/mixtral-1024 when `npm run bench` has written it, else the tiny-mixtral fixture.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { Rng } from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    model: { type: 'string' }, clients: { type: 'string', default: '1,4,8,16' }, seconds: { type: 'string', default: '30' },
    threads: { type: 'string', default: String(availableParallelism()) }, 'ctx-size': { type: 'string', default: '1024' },
    prompt: { type: 'string', default: '16-256' }, output: { type: 'string', default: '16-128' },
    disconnect: { type: 'string', default: '0.1' }, seed: { type: 'string', default: '1' }, json: { type: 'string' },
    gguf: { type: 'string' }, 'llama-server': { type: 'string', default: '/tmp/llama/src/build/bin/llama-server' },
  },
});
const bench1024 = join(here, 'data', 'mixtral-1024');
const modelDir = values.model ?? (existsSync(join(bench1024, 'config.json')) ? bench1024 : join(here, '..', 'test', 'fixtures', 'tiny-mixtral'));
const clientCounts = values.clients.split(',').map(Number);
const maxClients = Math.max(...clientCounts);
const seconds = Number(values.seconds), threads = Number(values.threads), ctx = Number(values['ctx-size']);
const range = (s) => s.split('-').map(Number);
const [pMin, pMax] = range(values.prompt), [oMin, oMax] = range(values.output);
const disconnectShare = Number(values.disconnect);
if (pMax + oMax > ctx) throw new Error(`--prompt max + --output max (${pMax + oMax}) must fit --ctx-size ${ctx}`);
const vocab = JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')).vocab_size;

// smoe's seeded PRNG, so runs draw the same request mix.
const rng = new Rng(Number(values.seed));
const rand = () => rng.next();
const between = (a, b) => a + Math.floor(rand() * (b - a + 1));
const pct = (xs, p) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] : NaN);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function rssMiB(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Starts a server process; resolves once GET /health answers 200. */
async function startServer(name, cmd, args, port) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => (log = (log + d).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  const end = Date.now() + 600_000;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode}):\n${log}`);
    try {
      if ((await fetch(`${url}/health`)).status === 200) return { child, url, name };
    } catch { /* not up yet */ }
    await sleep(200);
  }
  child.kill('SIGKILL');
  throw new Error(`${name} did not become healthy:\n${log}`);
}

async function stopServer(s) {
  const exited = new Promise((r) => s.child.on('exit', r));
  s.child.kill('SIGTERM');
  const t = setTimeout(() => s.child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(t);
}

/** One streaming request; records TTFT, inter-token gaps and tokens into `st`. */
async function oneRequest(url, st, deadline) {
  const promptLen = between(pMin, pMax), outLen = between(oMin, oMax);
  const prompt = Array.from({ length: promptLen }, () => between(100, vocab - 1));
  const cutAt = rand() < disconnectShare ? between(1, Math.max(1, outLen - 1)) : -1;
  const ac = new AbortController();
  const errorsBefore = st.errors.length;
  const t0 = performance.now();
  let last = 0, chunks = 0, usage, disconnected = false, finished = false, cut = false;
  // The window ends for requests in flight too: they stop at the deadline, their tokens so far counted.
  const timer = Number.isFinite(deadline) ? setTimeout(() => { cut = true; ac.abort(); }, Math.max(0, deadline - t0)) : undefined;
  try {
    const res = await fetch(`${url}/v1/completions`, {
      method: 'POST', signal: ac.signal, headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ prompt, max_tokens: outLen, temperature: 0, ignore_eos: true, stream: true, stream_options: { include_usage: true } }),
    });
    if (res.status !== 200) {
      st.errors.push(`HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`);
      return;
    }
    const decoder = new TextDecoder();
    let buf = '';
    for await (const bytes of res.body) {
      buf += decoder.decode(bytes, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const event = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (event === 'data: [DONE]') finished = true;
        if (!event.startsWith('data: ') || event === 'data: [DONE]') continue;
        const data = JSON.parse(event.slice(6));
        if (data.error) throw new Error(`stream error: ${JSON.stringify(data.error)}`);
        if (data.usage) usage = data.usage;
        const text = data.choices?.[0]?.text ?? data.content;
        if (typeof text === 'string' && text.length > 0) {
          const now = performance.now();
          if (chunks === 0) st.ttft.push(now - t0);
          else st.gaps.push(now - last);
          last = now;
          chunks++;
        }
        if (cutAt >= 0 && chunks >= cutAt) {
          disconnected = true;
          ac.abort();
          break;
        }
      }
      if (disconnected) break;
    }
  } catch (e) {
    if (!disconnected && !cut) st.errors.push(String(e?.message ?? e));
  } finally {
    clearTimeout(timer);
  }
  // Tokens received inside the window: usage when the request finished in it and the server sent usage (smoe
  // does, with include_usage), else the text chunks seen before the deadline (one token each, but for a
  // character split across byte tokens: the same small undercount for both servers).
  st.tokens += finished && usage && !cut ? usage.completion_tokens : chunks;
  if (cut && !finished) return; // stopped by the window's end: neither done nor disconnected
  if (disconnected) st.disconnected++;
  else if (finished) st.done++;
  else if (st.errors.length === errorsBefore) st.errors.push('the stream ended without data: [DONE]');
}

async function runLoad(server, clients) {
  const st = { ttft: [], gaps: [], tokens: 0, done: 0, disconnected: 0, errors: [] };
  await oneRequest(server.url, { ...st, ttft: [], gaps: [], errors: [] }, Infinity); // warm-up, not counted
  const rss0 = rssMiB(server.child.pid);
  const t0 = performance.now(), deadline = t0 + seconds * 1000;
  await Promise.all(Array.from({ length: clients }, async () => {
    while (performance.now() < deadline) await oneRequest(server.url, st, deadline);
  }));
  const wall = Math.max(seconds, (performance.now() - t0) / 1000);
  return {
    server: server.name, clients, seconds: wall, tokensPerSecond: st.tokens / wall, requests: st.done, disconnected: st.disconnected,
    ttftP50: pct(st.ttft, 50), ttftP99: pct(st.ttft, 99), itlP50: pct(st.gaps, 50), itlP99: pct(st.gaps, 99),
    errors: st.errors.length, firstErrors: st.errors.slice(0, 3), rssStartMiB: rss0, rssEndMiB: rssMiB(server.child.pid),
  };
}

const results = [];
const targets = [{
  name: 'smoe', port: 18080,
  start: (port) => startServer('smoe', process.execPath, [join(here, '..', 'dist', 'cli', 'main.js'), 'serve', '--model', modelDir,
    '--port', String(port), '--parallel', String(maxClients), '--ctx-size', String(ctx), '--threads', String(threads),
    '--queue', String(4 * maxClients)], port),
}];
if (values.gguf) {
  if (!existsSync(values['llama-server'])) throw new Error(`--gguf given but no llama-server at ${values['llama-server']}`);
  targets.push({
    name: `llama-server -np ${maxClients}`, port: 18081,
    start: (port) => startServer(`llama-server -np ${maxClients}`, values['llama-server'], ['-m', values.gguf, '-np', String(maxClients),
      '-c', String(ctx * maxClients), '-t', String(threads), '--host', '127.0.0.1', '--port', String(port)], port),
  });
}
for (const t of targets) {
  const server = await t.start(t.port);
  try {
    for (const n of clientCounts) {
      const r = await runLoad(server, n);
      results.push(r);
      process.stderr.write(`${r.server}, ${n} clients: ${r.tokensPerSecond.toFixed(1)} tok/s, ${r.errors} errors\n`);
      for (const e of r.firstErrors) process.stderr.write(`  error: ${e}\n`);
    }
  } finally {
    await stopServer(server);
  }
}

const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');
console.log(`serve benchmark: ${modelDir}, ${cpus()[0]?.model ?? 'cpu'} (${availableParallelism()} cores), ${threads} threads, ` +
  `${seconds} s per run, prompt ${values.prompt} tokens, output ${values.output} tokens, ${disconnectShare * 100}% disconnect, ctx ${ctx}, ${new Date().toISOString()}\n`);
console.log('| server | clients | tok/s | x 1 client | TTFT p50 / p99 ms | inter-token p50 / p99 ms | requests (disconnected) | unexpected errors | RSS start -> end MiB |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of results) {
  const one = results.find((x) => x.server === r.server && x.clients === 1);
  console.log(`| ${r.server} | ${r.clients} | ${f(r.tokensPerSecond)} | ${one ? f(r.tokensPerSecond / one.tokensPerSecond, 2) : '-'} | ` +
    `${f(r.ttftP50, 0)} / ${f(r.ttftP99, 0)} | ${f(r.itlP50)} / ${f(r.itlP99)} | ${r.requests} (${r.disconnected}) | ${r.errors} | ${f(r.rssStartMiB, 0)} -> ${f(r.rssEndMiB, 0)} |`);
}
if (values.json) writeFileSync(values.json, JSON.stringify(results, null, 2));
if (results.some((r) => r.errors > 0)) process.exitCode = 1;
