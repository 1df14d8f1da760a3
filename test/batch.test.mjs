// Continuous batching: concurrent generations on one model run as batched native steps (one forward over
// every sequence's next token and any prompt chunk) and each gives exactly the tokens it gives alone; the
// F16 KV cache against F32 (tolerance below); fixed-size sequences; per-layer expert usage counts.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { BatchScheduler } from '../dist/batch/scheduler.js';
import { loadModel } from '../dist/index.js';
import { native } from '../dist/native.js';
import { FIXTURES, fixture, logsumexp as logsumexpOf, maxAbsDiff, reference } from './helpers.mjs';

const GREEDY = { temperature: 0, ignoreEos: true };

// Deterministic prompts of different lengths (token ids), so the batch mixes prefill and decode.
function prompts(count) {
  const out = [];
  let x = 12345;
  for (let i = 0; i < count; i++) {
    const n = 2 + ((i * 7) % 23);
    const ids = [1];
    for (let j = 1; j < n; j++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      ids.push(100 + (x % 31000));
    }
    out.push(ids);
  }
  return out;
}

describe('continuous batching', () => {
  let model;
  before(async () => { model = await loadModel(fixture('tiny-mixtral'), { threads: 2 }); });
  after(async () => { await model.close(); });

  test('16 concurrent greedy generations: each gives the tokens it gives alone, in shared steps', async () => {
    const ps = prompts(16);
    const maxTokens = (i) => 6 + (i % 5) * 3;
    const alone = [];
    for (let i = 0; i < ps.length; i++) alone.push((await model.generate(ps[i], { ...GREEDY, maxTokens: maxTokens(i) }).result).tokens);
    const before = { ...model.batchStats };
    const together = await Promise.all(ps.map((p, i) => model.generate(p, { ...GREEDY, maxTokens: maxTokens(i) }).result));
    together.forEach((r, i) => assert.deepEqual(r.tokens, alone[i], `sequence ${i}`));
    const steps = model.batchStats.steps - before.steps, items = model.batchStats.items - before.items;
    assert.ok(model.batchStats.maxBatch >= 8, `max batch ${model.batchStats.maxBatch}`);
    // Alone these would be 16 prompt steps + sum(maxTokens - 1) decode steps; batched, far fewer.
    const serial = ps.reduce((s, _, i) => s + maxTokens(i), 0);
    assert.ok(steps < serial / 4, `${steps} steps for ${serial} serial ones`);
    assert.equal(items, serial);
  });

  test('the transformers references hold when their prompts run concurrently', async () => {
    const ref = reference('tiny-mixtral');
    const cases = ref.cases.filter((c) => c.greedy_new_ids);
    const runs = await Promise.all(
      [...cases, ...cases].map((c) => model.generate(c.ids, { ...GREEDY, maxTokens: c.greedy_new_ids.length }).result),
    );
    runs.forEach((r, i) => assert.deepEqual(r.tokens, cases[i % cases.length].greedy_new_ids));
  });

  test('a long prompt is chunked across steps while other sequences decode; logits match a lone run', async () => {
    const long = prompts(40).flat().slice(0, 600);
    const soloSeq = model.createSequence();
    const solo = await soloSeq.eval(long, { allLogits: true });
    soloSeq.dispose();
    const bg = prompts(4).map((p) => model.generate(p, { ...GREEDY, maxTokens: 20 }).result);
    const seq = model.createSequence({ routerTrace: true });
    const batched = await seq.eval(long, { allLogits: true });
    assert.equal(batched.length, solo.length);
    assert.ok(maxAbsDiff(batched, solo) < 1e-4, `max |diff| ${maxAbsDiff(batched, solo)}`);
    assert.equal(seq.length, long.length);
    assert.equal(seq.routerTrace.length, long.length);
    assert.deepEqual(seq.routerTrace.map((s) => s.position), long.map((_, i) => i));
    seq.dispose();
    await Promise.all(bg);
  });

  test('sequences asking for different experts per token are not mixed in one step', async () => {
    const ps = prompts(6);
    const alone = [];
    for (let i = 0; i < ps.length; i++)
      alone.push((await model.generate(ps[i], { ...GREEDY, maxTokens: 6, expertsPerToken: 1 + (i % 2) }).result).tokens);
    const together = await Promise.all(ps.map((p, i) => model.generate(p, { ...GREEDY, maxTokens: 6, expertsPerToken: 1 + (i % 2) }).result));
    together.forEach((r, i) => assert.deepEqual(r.tokens, alone[i]));
  });

  test('an evaluation past a sequence\'s context size rejects; the others go on', async () => {
    const small = model.createSequence({ contextSize: 4 });
    const ok = model.generate(prompts(3)[2], { ...GREEDY, maxTokens: 5 }).result;
    await assert.rejects(small.eval([1, 2, 3, 4, 5]), { code: 'CONTEXT_OVERFLOW' });
    assert.equal(small.length, 0);
    assert.equal((await ok).tokens.length, 5);
    small.dispose();
  });
});

describe('KV cache storage and size', () => {
  let model;
  before(async () => { model = await loadModel(fixture('tiny-mixtral'), { threads: 2 }); });
  after(async () => { await model.close(); });

  // Tolerance of the F16 cache: keys and values rounded to half (relative error <= 2^-11) move the logits
  // of this model by less than 2e-2 (the logits are O(1..10)); greedy tokens are unchanged.
  const F16_TOLERANCE = 2e-2;

  test('f16 cache: logits within the stated tolerance of f32, same greedy tokens, half the bytes', async () => {
    const ids = prompts(30).flat().slice(0, 200);
    const a = model.createSequence({ contextSize: 256 });
    const b = model.createSequence({ contextSize: 256, kvCache: 'f16' });
    const [la, lb] = await Promise.all([a.eval(ids, { allLogits: true }), b.eval(ids, { allLogits: true })]);
    const d = maxAbsDiff(la, lb);
    assert.ok(d > 0, 'the f16 cache rounds: the logits differ a little');
    assert.ok(d < F16_TOLERANCE, `max |diff| ${d}`);
    assert.equal(a.kvBytes, 256 * model.kvBytesPerToken('f32'));
    assert.equal(b.kvBytes, 256 * model.kvBytesPerToken('f16'));
    assert.equal(b.kvBytes * 2, a.kvBytes);
    a.dispose();
    b.dispose();
    const ref = reference('tiny-mixtral');
    for (const c of ref.cases.filter((x) => x.greedy_new_ids)) {
      const seq = model.createSequence({ kvCache: 'f16' });
      let logits = await seq.eval(c.ids);
      const got = [];
      for (let i = 0; i < c.greedy_new_ids.length; i++) {
        let best = 0;
        for (let v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
        got.push(best);
        logits = await seq.eval([best]);
      }
      assert.deepEqual(got, c.greedy_new_ids);
      seq.dispose();
    }
  });

  test('contextSize fixes the cache: allocated at once, never grown, overflow named', async () => {
    const s = model.createSequence({ contextSize: 10 });
    assert.equal(s.contextSize, 10);
    assert.equal(s.kvBytes, 10 * model.kvBytesPerToken());
    await s.eval([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await assert.rejects(s.eval([11]), (e) => e.code === 'CONTEXT_OVERFLOW' && /context size \(10\)/.test(e.message));
    s.dispose();
    assert.throws(() => model.createSequence({ contextSize: 0 }), { code: 'INVALID_OPTION' });
    assert.throws(() => model.createSequence({ kvCache: 'q8' }), { code: 'INVALID_OPTION' });
    assert.throws(() => model.createSequence({ size: 3 }), { code: 'INVALID_OPTION' });
  });

  test('expert usage: per layer, the tokens routed to each expert while counting is on', async () => {
    const base = model.expertUsage();
    assert.equal(base.length, model.config.numLayers);
    assert.ok(base.every((l) => l.every((v) => v === 0)), 'off by default');
    model.countExpertUsage(true);
    await Promise.all(prompts(3).map((p) => model.generate(p, { ...GREEDY, maxTokens: 4 }).result));
    model.countExpertUsage(false);
    const tokens = prompts(3).reduce((s, p) => s + p.length + 3, 0);
    const usage = model.expertUsage();
    for (const layer of usage) {
      assert.equal(layer.length, model.config.numExperts);
      assert.equal(layer.reduce((a, b) => a + b, 0), tokens * model.config.topK);
    }
  });
});

describe('BatchScheduler (over a fake native model)', () => {
  // step() fails when any item's first id is negative, as the native step fails whole on one bad item.
  function fakeModel() {
    const calls = [];
    const lengths = new Map();
    return {
      calls,
      lengths,
      handle: {
        async step(items) {
          calls.push(items.map((it) => [it.sequence.name, it.ids.length]));
          if (items.some((it) => it.ids[0] < 0)) throw Object.assign(new Error('bad token'), { code: 'TOKEN_OUT_OF_RANGE' });
          return items.map((it) => {
            it.sequence.length += it.ids.length;
            return { logits: it.logits ? Float32Array.of(it.sequence.length) : undefined };
          });
        },
      },
    };
  }
  const seq = (name) => ({ name, length: 0, reset(keep) { this.length = keep; } });

  test('one bad item in a shared step is retried alone and rejects alone', async () => {
    const f = fakeModel();
    const s = new BatchScheduler(f.handle, 8);
    const [a, b, c] = [seq('a'), seq('b'), seq('c')];
    const pa = s.eval(a, Int32Array.of(1, 2), false, false, 2);
    const pb = s.eval(b, Int32Array.of(-1, 2), false, false, 2);
    const pc = s.eval(c, Int32Array.of(3), false, false, 2);
    assert.deepEqual(Array.from((await pa).logits), [2]);
    await assert.rejects(pb, { code: 'TOKEN_OUT_OF_RANGE' });
    assert.deepEqual(Array.from((await pc).logits), [1]);
    assert.equal(f.calls[0].length, 3, 'first together');
    assert.ok(f.calls.slice(1).every((step) => step.length === 1), 'then one by one');
  });

  test('a prompt longer than the step budget is chunked; decode tokens go first and cap the chunk; a failed chunk rolls back', async () => {
    const f = fakeModel();
    const s = new BatchScheduler(f.handle, 40, 16);
    const [a, b] = [seq('a'), seq('b')];
    const pa = s.eval(a, Int32Array.of(1), false, false, 2);
    const pb = s.eval(b, new Int32Array(100).fill(5), false, false, 2);
    await Promise.all([pa, pb]);
    assert.deepEqual(f.calls[0], [['a', 1], ['b', 16]], 'while a decodes, the prompt takes 16 tokens');
    assert.deepEqual(f.calls.slice(1), [[['b', 40]], [['b', 40]], [['b', 4]]], 'alone, the whole step budget');
    assert.equal(b.length, 100);
    const ids = new Int32Array(60).fill(5);
    ids[40] = -1; // the first id of the second chunk
    await assert.rejects(s.eval(b, ids, false, false, 2), { code: 'TOKEN_OUT_OF_RANGE' });
    assert.equal(b.length, 100, 'the chunk evaluated before the failure was dropped');
  });
});

describe('logprobs', () => {
  let model;
  before(async () => { model = await loadModel(fixture('tiny-mixtral'), { threads: 2 }); });
  after(async () => { await model.close(); });

  test('each generated token carries its log-softmax value and the top alternatives of the raw logits', async () => {
    const ids = prompts(2)[1];
    const gen = model.generate(ids, { temperature: 0, maxTokens: 3, ignoreEos: true, logprobs: 3 });
    const pieces = [];
    for await (const p of gen) pieces.push(p);
    const entries = pieces.flatMap((p) => p.logprobs);
    const tokens = pieces.flatMap((p) => p.tokens);
    assert.equal(entries.length, 3);
    // Recompute position by position from the logits.
    const seq = model.createSequence();
    let logits = await seq.eval(ids);
    for (let i = 0; i < 3; i++) {
      const lse = logsumexpOf(logits);
      const order = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a] || a - b).slice(0, 3);
      assert.equal(entries[i].token, tokens[i]);
      assert.equal(entries[i].token, order[0], 'greedy: the top token');
      assert.ok(Math.abs(entries[i].logprob - (logits[tokens[i]] - lse)) < 1e-5);
      assert.deepEqual(entries[i].top.map((t) => t.token), order);
      for (const t of entries[i].top) assert.ok(Math.abs(t.logprob - (logits[t.token] - lse)) < 1e-5);
      logits = await seq.eval([tokens[i]]);
    }
    seq.dispose();
    assert.throws(() => model.generate(ids, { logprobs: 21 }), { code: 'INVALID_OPTION', field: 'logprobs' });
  });
});


describe('F16 KV cache ops (CPU backend, through the test-only opTest)', () => {
  const addon = native();

  test('store_f16 rounds float32 to IEEE half exactly as numpy (ties to even, subnormals, overflow)', () => {
    const f = JSON.parse(readFileSync(join(FIXTURES, 'f16-rounding.json'), 'utf8'));
    const x = new Float32Array(Uint32Array.from(f.float32Bits).buffer);
    const { bits } = addon.opTest('store_f16', { x });
    assert.equal(bits.length, f.halfBits.length);
    const bad = [];
    for (let i = 0; i < bits.length; i++) if (bits[i] !== f.halfBits[i]) bad.push([x[i], f.halfBits[i], bits[i]]);
    assert.deepEqual(bad.slice(0, 5), []);
  });

  test('attention over an F16 cache equals attention over the same values widened to F32', () => {
    const H = 4, G = 2, Hd = 16, T = 3, P = 9;
    let s = 7;
    const r = () => ((s = (s * 16807) % 2147483647) / 2147483647) * 2 - 1;
    const q = Float32Array.from({ length: T * H * Hd }, r);
    const kf = Float32Array.from({ length: P * G * Hd }, r), vf = Float32Array.from({ length: P * G * Hd }, r);
    const k = addon.opTest('store_f16', { x: kf }).bits, v = addon.opTest('store_f16', { x: vf }).bits;
    const widen = (bits) => Float32Array.from(bits, (b) => {
      const e = (b >> 10) & 31, m = b & 1023, sign = b & 0x8000 ? -1 : 1;
      return sign * (e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15));
    });
    const common = { q, T, pos: Int32Array.of(6, 7, 8), heads: H, kvHeads: G, headDim: Hd, window: 0, scale: 0.25 };
    const half = addon.opTest('attention_f16', { ...common, k, v }).out;
    const wide = addon.opTest('attention', { ...common, k: widen(k), v: widen(v) }).out;
    assert.deepEqual(Array.from(half), Array.from(wide));
    const exact = addon.opTest('attention', { ...common, k: kf, v: vf }).out;
    assert.ok(maxAbsDiff(half, exact) < 2e-3 && maxAbsDiff(half, exact) > 0);
  });
});
