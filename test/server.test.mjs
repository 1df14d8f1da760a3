// smoe serve / createServer: the OpenAI-compatible API driven by the official `openai` client on loopback
// (chat and completions, streaming and not, against transformers' greedy references), 16 concurrent
// requests, every error case (400, 401, 404, 405, 413, 429 + Retry-After), a client disconnecting
// mid-stream, /metrics, a pre-parsed body (express-style), the KV budget refusal and SIGTERM shutdown.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer as httpServer } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import OpenAI from 'openai';

import { createServer, loadModel } from '../dist/index.js';
import { fixture, reference } from './helpers.mjs';

const MODEL = 'tiny-mixtral';
const CLI = join(fileURLToPath(new URL('..', import.meta.url)), 'dist', 'cli', 'main.js');
const GREEDY = { temperature: 0, ignore_eos: true };
const ref = reference(MODEL);
const promptCases = ref.cases.filter((c) => c.prompt !== undefined);
const chatCase = ref.cases.find((c) => c.chat !== undefined);

const client = (url, apiKey = 'none') => new OpenAI({ baseURL: `${url}/v1`, apiKey, maxRetries: 0 });
const post = (url, path, body, headers = {}) =>
  fetch(url + path, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
async function metric(url, name) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}
async function waitFor(check, ms = 5000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

describe('server over the openai client', () => {
  let model, server, url, openai;
  before(async () => {
    model = await loadModel(fixture(MODEL), { threads: 2 });
    server = createServer(model, { parallel: 16, contextSize: 512 });
    ({ url } = await server.listen({ port: 0 }));
    openai = client(url);
  });
  after(async () => {
    await server.close();
    await model.close();
  });

  test('listens on loopback; /health, /v1/models', async () => {
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.deepEqual(await (await fetch(`${url}/health`)).json(), { status: 'ok', active: 0, queued: 0 });
    const list = await openai.models.list();
    assert.deepEqual(list.data.map((m) => [m.id, m.object, m.owned_by]), [[MODEL, 'model', 'smoe']]);
    assert.equal((await openai.models.retrieve(MODEL)).id, MODEL);
  });

  test('completions: greedy continuations equal transformers, streamed and not, with usage', async () => {
    for (const c of promptCases) {
      const r = await openai.completions.create({ model: MODEL, prompt: c.ids, max_tokens: 16, ...GREEDY });
      assert.equal(r.object, 'text_completion');
      assert.equal(r.choices[0].text, model.tokenizer.decode(c.greedy_new_ids));
      assert.equal(r.choices[0].finish_reason, 'length');
      assert.deepEqual(r.usage, { prompt_tokens: c.ids.length, completion_tokens: 16, total_tokens: c.ids.length + 16 });
      const stream = await openai.completions.create({ model: MODEL, prompt: c.prompt, max_tokens: 16, stream: true, stream_options: { include_usage: true }, ...GREEDY });
      let text = '', finish, usage;
      for await (const chunk of stream) {
        if (chunk.usage) usage = chunk.usage;
        for (const ch of chunk.choices) {
          text += ch.text;
          finish = ch.finish_reason ?? finish;
        }
      }
      assert.equal(text, r.choices[0].text);
      assert.equal(finish, 'length');
      assert.equal(usage.completion_tokens, 16);
    }
  });

  test('chat: the model\'s template, greedy reply equal to transformers, streamed and not', async () => {
    const r = await openai.chat.completions.create({ model: MODEL, messages: chatCase.chat, max_tokens: 16, ...GREEDY });
    assert.equal(r.object, 'chat.completion');
    assert.match(r.id, /^chatcmpl-/);
    assert.equal(r.choices[0].message.role, 'assistant');
    assert.equal(r.choices[0].message.content, model.tokenizer.decode(chatCase.greedy_new_ids));
    assert.equal(r.usage.prompt_tokens, chatCase.ids.length);
    const stream = await openai.chat.completions.create({ model: MODEL, messages: chatCase.chat, max_completion_tokens: 16, stream: true, ...GREEDY });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.equal(chunks[0].choices[0].delta.role, 'assistant');
    assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === chunks[0].id));
    assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''), r.choices[0].message.content);
    assert.equal(chunks.at(-1).choices[0].finish_reason, 'length');
    assert.ok(chunks.slice(0, -1).every((c) => c.choices[0].finish_reason === null));
  });

  test('16 concurrent requests (mixed streaming) each give their lone greedy tokens', async () => {
    const prompts = Array.from({ length: 16 }, (_, i) => [1, ...Array.from({ length: 3 + i }, (_, j) => 200 + ((i * 131 + j * 17) % 30000))]);
    const lens = prompts.map((_, i) => 4 + (i % 4) * 3);
    const alone = [];
    for (let i = 0; i < 16; i++) alone.push((await model.generate(prompts[i], { temperature: 0, ignoreEos: true, maxTokens: lens[i] }).result).text);
    const steps0 = model.batchStats.steps;
    const got = await Promise.all(prompts.map(async (p, i) => {
      if (i % 2 === 0) return (await openai.completions.create({ model: MODEL, prompt: p, max_tokens: lens[i], ...GREEDY })).choices[0].text;
      let t = '';
      for await (const c of await openai.completions.create({ model: MODEL, prompt: p, max_tokens: lens[i], stream: true, ...GREEDY })) t += c.choices[0]?.text ?? '';
      return t;
    }));
    assert.deepEqual(got, alone);
    const steps = model.batchStats.steps - steps0;
    assert.ok(steps < lens.reduce((a, b) => a + b, 0) / 2, `${steps} steps: the requests were batched`);
  });

  test('stop strings, n with a seed, logprobs, the router_trace and experts_per_token extensions', async () => {
    const c = promptCases[0];
    const full = model.tokenizer.decode(c.greedy_new_ids);
    const stopAt = full.slice(3, 6);
    const r = await openai.completions.create({ model: MODEL, prompt: c.ids, max_tokens: 16, stop: [stopAt], ...GREEDY });
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.equal(r.choices[0].text, full.slice(0, full.indexOf(stopAt)));
    const n = await openai.chat.completions.create({ model: MODEL, messages: chatCase.chat, max_tokens: 6, n: 3, seed: 7, temperature: 1 });
    assert.deepEqual(n.choices.map((x) => x.index), [0, 1, 2]);
    assert.ok(n.usage.completion_tokens <= 3 * 6 && n.usage.completion_tokens >= 3);
    const again = await openai.chat.completions.create({ model: MODEL, messages: chatCase.chat, max_tokens: 6, n: 3, seed: 7, temperature: 1 });
    assert.deepEqual(again.choices.map((x) => x.message.content), n.choices.map((x) => x.message.content), 'seeded: reproducible');
    const lp = await openai.chat.completions.create({ model: MODEL, messages: chatCase.chat, max_tokens: 4, logprobs: true, top_logprobs: 2, ...GREEDY });
    const content = lp.choices[0].logprobs.content;
    assert.equal(content.length, 4);
    for (const e of content) {
      assert.ok(e.logprob <= 0 && e.top_logprobs.length === 2);
      assert.equal(e.top_logprobs[0].logprob, e.logprob, 'greedy: the sampled token is the most likely');
    }
    assert.deepEqual(Buffer.from(content.flatMap((e) => e.bytes)), Buffer.from(lp.choices[0].message.content), 'the tokens\' bytes spell the reply');
    const tr = await post(url, '/v1/completions', { prompt: c.ids, max_tokens: 3, router_trace: true, experts_per_token: 1, ...GREEDY });
    const body = await tr.json();
    assert.equal(body.choices[0].router_trace.length, 3);
    assert.ok(body.choices[0].router_trace.every((s) => s.layers.length === model.config.numLayers && s.layers.every((l) => l.experts.length === 1)));
  });

  test('errors in OpenAI\'s shape with the right status', async () => {
    const expectError = async (p, status, param, code) => {
      await assert.rejects(p, (e) => {
        assert.equal(e.status, status, e.message);
        if (param !== undefined) assert.equal(e.param, param);
        if (code !== undefined) assert.equal(e.code, code);
        return true;
      });
    };
    const msg = [{ role: 'user', content: 'hi' }];
    await expectError(openai.chat.completions.create({ model: 'gpt-4', messages: msg }), 404, 'model', 'model_not_found');
    await expectError(openai.chat.completions.create({ model: MODEL, messages: msg, temperature: 5 }), 400, 'temperature');
    await expectError(openai.chat.completions.create({ model: MODEL, messages: [] }), 400, 'messages');
    await expectError(openai.chat.completions.create({
      model: MODEL, messages: msg, tools: [{ type: 'function', function: { name: 'f', parameters: {} } }],
    }), 400, 'tools', 'unsupported_parameter');
    await expectError(openai.chat.completions.create({
      model: MODEL, messages: msg, response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object' } } },
    }), 400, 'response_format', 'unsupported_parameter');
    await expectError(openai.completions.create({ model: MODEL, prompt: [1, 2], max_tokens: 511 }), 400, 'prompt', 'context_length_exceeded');
    await assert.rejects(openai.completions.create({ model: MODEL, prompt: [1, 2], max_tokens: 600 }), /maximum context length is 512 tokens.*602 tokens \(2 in the prompt, 600 in the completion\)/);
    await expectError(openai.completions.create({ model: MODEL, prompt: [1, 40000] }), 400, 'prompt');
    await expectError(openai.completions.create({ model: MODEL, prompt: 'x', n: 17 }), 400, 'n');
    await expectError(openai.completions.create({ model: MODEL, prompt: 'x', experts_per_token: 9 }), 400, 'experts_per_token');
    const bad = await post(url, '/v1/chat/completions', '{"model": ');
    assert.equal(bad.status, 400);
    const e = await bad.json();
    assert.deepEqual(Object.keys(e.error).sort(), ['code', 'message', 'param', 'type']);
    assert.equal(e.error.type, 'invalid_request_error');
    const big = await post(url, '/v1/completions', JSON.stringify({ prompt: 'x'.repeat(5 * 1024 * 1024) }));
    assert.equal(big.status, 413);
    assert.equal((await big.json()).error.code, 'request_too_large');
    assert.equal((await fetch(`${url}/v1/chat/completions`)).status, 405);
    assert.equal((await fetch(`${url}/v1/nothing`)).status, 404);
  });

  test('a client that disconnects mid-stream frees its sequence at once', async () => {
    const ac = new AbortController();
    const res = await fetch(`${url}/v1/completions`, {
      method: 'POST', signal: ac.signal, headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ prompt: [1, 22557], max_tokens: 500, stream: true, ...GREEDY }),
    });
    const reader = res.body.getReader();
    await reader.read();
    await reader.read();
    assert.equal(await metric(url, 'smoe_sequences_active'), 1);
    ac.abort();
    assert.ok(await waitFor(async () => (await metric(url, 'smoe_sequences_active')) === 0), 'the slot came back');
    assert.ok((await metric(url, 'smoe_generation_tokens_total')) > 0);
    const m = await (await fetch(`${url}/metrics`)).text();
    assert.match(m, /# TYPE smoe_time_to_first_token_seconds histogram/);
    assert.match(m, /smoe_requests_total\{endpoint="\/completions",status="499"\} 1/);
    for (let l = 0; l < model.config.numLayers; l++) assert.match(m, new RegExp(`smoe_expert_tokens_total\\{layer="${l}",expert="7"\\} \\d+`));
    assert.equal(await metric(url, 'smoe_sequences_queued'), 0);
    assert.equal(await metric(url, 'smoe_kv_cache_bytes'), 16 * 512 * model.kvBytesPerToken('f16'));
  });
});

describe('server limits', () => {
  let model;
  before(async () => { model = await loadModel(fixture(MODEL), { threads: 2 }); });
  after(async () => { await model.close(); });

  // The first request is a long stream the test ends by disconnecting, so the slot stays busy however
  // fast the machine is.
  async function occupy(url) {
    const ac = new AbortController();
    const res = await fetch(`${url}/v1/completions`, {
      method: 'POST', signal: ac.signal, body: JSON.stringify({ prompt: [1, 22557], max_tokens: 4000, stream: true, ...GREEDY }),
    });
    const reader = res.body.getReader();
    await reader.read();
    return () => ac.abort();
  }

  test('a full queue gets 429 with Retry-After; a queued request runs when the slot frees', async () => {
    const server = createServer(model, { parallel: 1, queueSize: 1, contextSize: 4096, kvCache: 'f16' });
    const { url } = await server.listen({ port: 0 });
    const release = await occupy(url);
    assert.equal(server.active, 1);
    const second = post(url, '/v1/completions', { prompt: [1, 22557], max_tokens: 2, ...GREEDY });
    assert.ok(await waitFor(async () => server.queued === 1));
    const third = await post(url, '/v1/completions', { prompt: [1], max_tokens: 2 });
    assert.equal(third.status, 429);
    assert.ok(Number(third.headers.get('retry-after')) >= 1);
    assert.equal((await third.json()).error.type, 'rate_limit_error');
    release();
    assert.equal((await (await second).json()).usage.completion_tokens, 2);
    assert.ok(await waitFor(async () => server.queued === 0 && server.active === 0), 'queue and slots empty');
    await server.close();
  });

  test('a queued client that gives up leaves the queue at once', async () => {
    const server = createServer(model, { parallel: 1, queueSize: 2, contextSize: 4096 });
    const { url } = await server.listen({ port: 0 });
    const release = await occupy(url);
    const ac = new AbortController();
    const queued = fetch(`${url}/v1/completions`, { method: 'POST', signal: ac.signal, body: JSON.stringify({ prompt: [1], max_tokens: 2 }) }).catch((e) => e);
    assert.ok(await waitFor(async () => server.queued === 1));
    ac.abort();
    assert.ok(await waitFor(async () => server.queued === 0), 'left the queue');
    assert.equal(server.active, 1, 'while the first request still runs');
    assert.equal((await queued).name, 'AbortError');
    release();
    assert.ok(await waitFor(async () => server.active === 0));
    await server.close();
  });

  test('API key: 401 without it or with a wrong one, /health stays open', async () => {
    const server = createServer(model, { parallel: 1, contextSize: 64, apiKey: 'sekret' });
    const { url } = await server.listen({ port: 0 });
    await assert.rejects(client(url, 'wrong').models.list(), (e) => e.status === 401 && e.code === 'invalid_api_key');
    assert.equal((await fetch(`${url}/v1/models`)).status, 401);
    assert.equal((await fetch(`${url}/health`)).status, 200);
    assert.equal((await client(url, 'sekret').models.list()).data[0].id, MODEL);
    await server.close();
  });

  test('the handler mounts in another node:http app and takes a body its middleware parsed', async () => {
    const server = createServer(model, { parallel: 1, contextSize: 64, modelName: 'mine' });
    const app = httpServer((req, res) => {
      if (!req.url.startsWith('/api')) return res.end('app');
      req.url = req.url.slice(4);
      if (req.method === 'POST') req.body = { model: 'mine', prompt: [1, 22557], max_tokens: 3, ...GREEDY };
      server.handler(req, res);
    });
    await new Promise((r) => app.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${app.address().port}`;
    const r = await fetch(`${base}/api/v1/completions`, { method: 'POST' });
    assert.equal((await r.json()).usage.completion_tokens, 3);
    assert.equal(await (await fetch(`${base}/other`)).text(), 'app');
    await new Promise((r) => app.close(r));
    await server.close();
  });

  test('KV memory is budgeted: parallel x ctx-size that does not fit is refused with the figures', () => {
    const per = model.kvBytesPerToken('f16');
    assert.throws(() => createServer(model, { parallel: 8, contextSize: 1024, kvMemory: 8 * 1024 * per - 1 }), (e) => {
      assert.equal(e.code, 'KV_BUDGET');
      assert.match(e.message, new RegExp(`parallel 8 x context 1024 x ${per} bytes per token \\(f16\\)`));
      return true;
    });
    assert.doesNotThrow(() => createServer(model, { parallel: 1, contextSize: 16, kvMemory: 16 * per }).close());
    assert.throws(() => createServer(model, { contextSize: 5000 }), { code: 'INVALID_OPTION' });
  });
});

describe('smoe serve (CLI)', () => {
  test('SIGTERM: stops accepting, lets the running stream finish, exits 0', async () => {
    const child = spawn(process.execPath, [CLI, 'serve', '--model', fixture(MODEL), '--port', '0', '--parallel', '2', '--ctx-size', '512', '-t', '2'],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise((r) => child.on('exit', (code) => r(code)));
    assert.ok(await waitFor(async () => /serving/.test(err), 20000), err);
    const url = /at (http:\/\/[^/\s]+)\/v1/.exec(err)[1];
    const res = await post(url, '/v1/completions', { prompt: [1, 22557], max_tokens: 300, stream: true, ...GREEDY });
    const reader = res.body.getReader();
    await reader.read();
    child.kill('SIGTERM');
    let text = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString();
    }
    assert.match(text, /"finish_reason":"length"/);
    assert.match(text, /data: \[DONE\]\n\n$/);
    assert.equal(await exited, 0);
    assert.match(err, /SIGTERM: finishing 1 running request/);
    await assert.rejects(fetch(`${url}/health`));
  });

  test('bad flags exit 2 with the flag named; a KV budget that does not fit exits 1 with the figures', async () => {
    const run = (args) => new Promise((resolve) => {
      const c = spawn(process.execPath, [CLI, 'serve', '--model', fixture(MODEL), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let e = '';
      c.stderr.on('data', (d) => (e += d));
      c.on('exit', (code) => resolve({ code, err: e }));
    });
    const a = await run(['--kv-cache', 'q4']);
    assert.equal(a.code, 2);
    assert.match(a.err, /--kv-cache must be f16 or f32/);
    const b = await run(['--parallel', '64', '--ctx-size', '4096', '--kv-memory', '1']);
    assert.equal(b.code, 1);
    assert.match(b.err, /KV cache does not fit: parallel 64 x context 4096/);
  });
});
