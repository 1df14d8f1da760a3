// Native work runs off the main thread: timers keep firing while a forward pass runs.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { loadModel } from '../dist/index.js';
import { fixture } from './helpers.mjs';

test('timers fire during a forward pass', async () => {
  const model = await loadModel(fixture('tiny-mixtral'));
  const ids = Array.from({ length: 3000 }, (_, i) => 1 + ((i * 104729) % 31999));
  let ticks = 0;
  const timer = setInterval(() => { ticks++; }, 1);
  const t0 = performance.now();
  const logits = await model.logits(ids, { allLogits: true }); // ~6 GFLOP of lm_head alone
  const elapsed = performance.now() - t0;
  clearInterval(timer);
  assert.equal(logits.length, ids.length * model.config.vocabSize);
  assert.ok(elapsed > 20, `the pass took ${elapsed} ms, too short to tell`);
  assert.ok(ticks >= 5, `only ${ticks} timer ticks during a ${elapsed.toFixed(0)} ms pass`);
  await model.close();
});
