// The native side's own checks of the load spec (native/addon/spec.cpp), past the TypeScript loader:
// numbers that do not fit an int are refused instead of truncated, and the thread count is bounded.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { native } from '../dist/native.js';
import { nativeSpec } from './helpers.mjs';

const addon = native();

function refused(spec, re) {
  assert.throws(() => addon.openModel(spec), (e) => e.code === 'INVALID_SPEC' && re.test(e.message), `${JSON.stringify(spec.config)} threads ${spec.threads}`);
}

test('threads outside [1, 1024] are refused at once (2^31-1 used to start threads until the machine hung)', async () => {
  for (const threads of [0, 1025, 2 ** 31 - 1, 2 ** 32]) refused(await nativeSpec('tiny-mixtral', { threads }), /threads/);
});

test('config numbers past int range are refused, not truncated (2^32 + 32000 used to load as a vocabulary of 32000)', async () => {
  for (const [k, v] of [['vocabSize', 2 ** 32 + 32000], ['numLayers', 2 ** 32 + 2], ['maxPositions', 2 ** 31]]) {
    const spec = await nativeSpec('tiny-mixtral');
    spec.config[k] = v;
    refused(spec, new RegExp(k));
  }
});

test('a tensor file index past int range is refused', async () => {
  const spec = await nativeSpec('tiny-mixtral');
  spec.weights.norm.file = 2 ** 32;
  refused(spec, /file/);
});

test('the unchanged spec still opens and evaluates', async () => {
  const m = await addon.openModel(await nativeSpec('tiny-mixtral', { threads: 1 }));
  const s = m.createSequence();
  const r = await s.eval(new Int32Array([1, 2, 3]), false, false, 2);
  assert.equal(r.logits.length, 32000);
  s.dispose();
  await m.close();
});
