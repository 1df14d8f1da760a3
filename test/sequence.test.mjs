// Sequences: KV-cache decoding equals re-running the prompt, chunked prompts, reset/dispose, no state
// leaking between model.logits() calls, and several sequences used at once.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { loadModel } from '../dist/index.js';
import { fixture, maxAbsDiff, reference } from './helpers.mjs';

let model;
const ref = reference('tiny-mixtral');
before(async () => { model = await loadModel(fixture('tiny-mixtral'), { threads: 2 }); });
after(async () => { await model.close(); });

const longPrompt = (n) => Array.from({ length: n }, (_, i) => 1 + ((i * 7919 + 13) % 31999));

test('model.logits() keeps no state between calls', async () => {
  const ids = ref.cases[0].ids;
  const a = await model.logits(ids);
  await model.logits(ref.cases[1].ids);
  const b = await model.logits(ids);
  assert.deepEqual(a, b);
});

test('appending in pieces equals evaluating at once', async () => {
  const ids = ref.cases[1].ids;
  const whole = await model.logits(ids);
  const seq = model.createSequence();
  await seq.eval(ids.slice(0, 7));
  await seq.eval(ids.slice(7, 20));
  const pieces = await seq.eval(ids.slice(20));
  assert.equal(seq.length, ids.length);
  assert.ok(maxAbsDiff(whole, pieces) < 1e-5, `max diff ${maxAbsDiff(whole, pieces)}`);
  seq.dispose();
});

test('a prompt longer than one evaluation chunk (600 tokens) equals token-by-token decoding', async () => {
  const ids = longPrompt(600);
  const V = model.config.vocabSize;
  const all = await model.logits(ids, { allLogits: true });
  const seq = model.createSequence();
  for (let i = 0; i < ids.length; i++) {
    const step = await seq.eval([ids[i]]);
    if (i % 97 === 0 || i === ids.length - 1)
      assert.ok(maxAbsDiff(step, all.subarray(i * V, (i + 1) * V)) < 1e-4, `position ${i}`);
  }
  seq.dispose();
});

test('reset() empties the cache and the trace', async () => {
  const seq = model.createSequence({ routerTrace: true });
  const first = await seq.eval(ref.cases[0].ids);
  await seq.eval([5, 6, 7]);
  await seq.reset();
  assert.equal(seq.length, 0);
  assert.equal(seq.routerTrace.length, 0);
  const again = await seq.eval(ref.cases[0].ids);
  assert.deepEqual(first, again);
  assert.equal(seq.routerTrace.length, ref.cases[0].ids.length);
  const step = seq.routerTrace[3];
  assert.equal(step.position, 3);
  assert.equal(step.token, ref.cases[0].ids[3]);
  assert.equal(step.layers.length, model.config.numLayers);
  assert.equal(step.layers[0].experts.length, model.config.topK);
  seq.dispose();
  seq.dispose(); // twice is fine
});

test('calls queued on one sequence run in order', async () => {
  const ids = ref.cases[2].ids;
  const seq = model.createSequence();
  const parts = [seq.eval(ids.slice(0, 10)), seq.eval(ids.slice(10, 20)), seq.eval(ids.slice(20))];
  const results = await Promise.all(parts);
  assert.ok(maxAbsDiff(results[2], await model.logits(ids)) < 1e-5);
  seq.dispose();
});

test('interleaved sequences keep their own state', async () => {
  const [a, b] = [ref.cases[0], ref.cases[2]];
  const sa = model.createSequence(), sb = model.createSequence();
  const pa = sa.eval(a.ids), pb = sb.eval(b.ids);
  const [la, lb] = await Promise.all([pa, pb]);
  assert.ok(maxAbsDiff(la, a.last_logits) < 1e-3);
  assert.ok(maxAbsDiff(lb, b.last_logits) < 1e-3);
  sa.dispose(); sb.dispose();
});

test('dispose() while an evaluation runs lets it finish, then frees', async () => {
  const seq = model.createSequence();
  const p = seq.eval(longPrompt(300));
  seq.dispose();
  const logits = await p.catch((e) => e);
  assert.ok(logits instanceof Float32Array || logits.code === 'SEQUENCE_DISPOSED');
});

test('close() waits for running work, then later calls fail', async () => {
  const m = await loadModel(fixture('tiny-mixtral-f32'));
  const seq = m.createSequence();
  const p = seq.eval(longPrompt(200));
  await m.close();
  assert.ok((await p) instanceof Float32Array);
  await assert.rejects(() => seq.eval([1]), (e) => e.code === 'MODEL_CLOSED');
  await m.close(); // twice is fine
});
