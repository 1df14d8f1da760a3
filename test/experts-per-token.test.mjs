// Routing each token to a different number of experts than the model was trained with, per load or per
// call, without reloading.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { loadModel } from '../dist/index.js';
import { fixture, maxAbsDiff, reference } from './helpers.mjs';

let model;
const ref = reference('tiny-mixtral');
before(async () => { model = await loadModel(fixture('tiny-mixtral')); });
after(async () => { await model.close(); });

test('expertsPerToken equal to the config changes nothing', async () => {
  const ids = ref.cases[0].ids;
  assert.deepEqual(await model.logits(ids, { expertsPerToken: 2 }), await model.logits(ids));
});

test('top-1 routing keeps the best expert with weight 1 and changes the logits', async () => {
  const ids = ref.cases[1].ids;
  const seq = model.createSequence({ routerTrace: true });
  const top1 = await seq.eval(ids, { expertsPerToken: 1 });
  for (let p = 0; p < ids.length; p++)
    for (let l = 0; l < model.config.numLayers; l++) {
      const { experts, weights } = seq.routerTrace[p].layers[l];
      assert.equal(experts.length, 1);
      assert.deepEqual(weights, [1]);
      // Layer 0 sees the same input as the reference, so its best expert is the reference's first choice.
      if (l === 0) assert.equal(experts[0], ref.cases[1].router_topk_per_layer[0][p][0]);
    }
  assert.ok(maxAbsDiff(top1, ref.cases[1].last_logits) > 1e-3, 'top-1 should differ from the top-2 reference');
  // The default is back on the next call.
  const seq2 = model.createSequence();
  assert.ok(maxAbsDiff(await seq2.eval(ids), ref.cases[1].last_logits) < 1e-3);
  seq.dispose(); seq2.dispose();
});

test('a load option sets the default; all experts is allowed', async () => {
  const m = await loadModel(fixture('tiny-mixtral'), { expertsPerToken: 8 });
  assert.equal(m.info.expertsPerToken, 8);
  const ids = ref.cases[2].ids;
  assert.deepEqual(await m.logits(ids), await model.logits(ids, { expertsPerToken: 8 }));
  await m.close();
});

test('generate() takes expertsPerToken per call', async () => {
  const a = await model.generate(ref.cases[0].ids, { temperature: 0, maxTokens: 6, ignoreEos: true, expertsPerToken: 1 }).result;
  const b = await model.generate(ref.cases[0].ids, { temperature: 0, maxTokens: 6, ignoreEos: true }).result;
  assert.deepEqual(b.tokens, ref.cases[0].greedy_new_ids.slice(0, 6));
  assert.equal(a.tokens.length, 6);
});

test('out-of-range values are clear errors', async () => {
  await assert.rejects(model.logits([1], { expertsPerToken: 0 }), (e) => e.code === 'INVALID_OPTION');
  await assert.rejects(model.logits([1], { expertsPerToken: 9 }), (e) => e.code === 'INVALID_OPTION');
  await assert.rejects(loadModel(fixture('tiny-mixtral'), { expertsPerToken: 1.5 }), (e) => e.code === 'INVALID_OPTION');
  assert.throws(() => model.generate([1], { expertsPerToken: 9 }), (e) => e.code === 'INVALID_OPTION');
});

test('smoe generate --experts-per-token matches the library', async () => {
  const { spawnSync } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
  const prompt = ref.cases[0].prompt;
  const r = spawnSync(process.execPath, [cli, 'generate', '--model', fixture('tiny-mixtral'), '--prompt', prompt, '-k', '1',
    '--temperature', '0', '--max-tokens', '6', '--ignore-eos', '-q'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const want = await model.generate(prompt, { temperature: 0, maxTokens: 6, ignoreEos: true, expertsPerToken: 1 }).text();
  assert.equal(r.stdout.replace(/\n$/, ''), want);
  const bad = spawnSync(process.execPath, [cli, 'generate', '--model', fixture('tiny-mixtral'), '--prompt', 'x', '-k', '9', '-q'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--experts-per-token must be in \[1, 8\]/);
});
