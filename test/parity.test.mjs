// The CPU forward pass against transformers' MixtralForCausalLM on the shared fixtures, for every SIMD
// level this CPU supports: last-position logits within 1e-3, argmax and logsumexp per position, router
// top-k per layer and position, and greedy continuations decoded through the KV cache.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { backends, loadModel } from '../dist/index.js';
import { argmax, fixture, greedyDecode, logsumexp, maxAbsDiff, MODELS, reference } from './helpers.mjs';

const levels = backends().cpu.simdLevels;

for (const simd of levels) {
  for (const name of MODELS) {
    describe(`${name} (simd ${simd})`, () => {
      const ref = reference(name);
      let model;
      before(async () => { model = await loadModel(fixture(name), { simd, threads: 2 }); });
      after(async () => { await model.close(); });

      ref.cases.forEach((c, ci) => {
        const label = c.prompt ? JSON.stringify(c.prompt.slice(0, 24)) : 'chat';
        test(`case ${ci} ${label}: logits, argmax, logsumexp`, async () => {
          const V = model.config.vocabSize;
          const n = c.ids.length;
          const all = await model.logits(c.ids, { allLogits: true });
          assert.equal(all.length, n * V);
          const last = all.subarray((n - 1) * V);
          assert.ok(maxAbsDiff(last, c.last_logits) <= 1e-3, `max |diff| ${maxAbsDiff(last, c.last_logits)}`);
          const lastOnly = await model.logits(c.ids);
          assert.deepEqual(lastOnly, last);
          for (let p = 0; p < n; p++) {
            const row = all.subarray(p * V, (p + 1) * V);
            assert.equal(argmax(row), c.top5_per_position[p][0], `argmax at position ${p}`);
            assert.ok(Math.abs(logsumexp(row) - c.logsumexp_per_position[p]) < 1e-4, `logsumexp at position ${p}`);
          }
        });

        test(`case ${ci} ${label}: router top-k and greedy decode through the KV cache`, async () => {
          const seq = model.createSequence({ routerTrace: true });
          assert.deepEqual(await greedyDecode(seq, c.ids, c.greedy_new_ids.length), c.greedy_new_ids);
          assert.equal(seq.length, c.ids.length + c.greedy_new_ids.length);
          for (let l = 0; l < model.config.numLayers; l++)
            for (let p = 0; p < c.ids.length; p++)
              assert.deepEqual(seq.routerTrace[p].layers[l].experts, c.router_topk_per_layer[l][p], `layer ${l} position ${p}`);
          for (const step of seq.routerTrace)
            for (const { weights } of step.layers)
              assert.ok(Math.abs(weights.reduce((a, b) => a + b, 0) - 1) < 1e-5, 'routing weights sum to 1');
          seq.dispose();
        });
      });
    });
  }
}

test('the sliding-window fixture is exercised past its window', () => {
  const ref = reference('tiny-mixtral-sliding');
  const window = ref.config.sliding_window;
  assert.equal(window, 6);
  for (const c of ref.cases) assert.ok(c.ids.length + c.greedy_new_ids.length > 3 * window);
});
