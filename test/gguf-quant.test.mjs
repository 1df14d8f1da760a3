// Quantized GGUF models end to end against llama.cpp: small random Mixtral files (2 layers, 4 experts top-2)
// quantized by llama.cpp's llama-quantize to q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k_m, q4_k_m, q5_k_m and
// q6_k (hidden 256, and hidden 160 where llama-quantize writes its fall-back types), with llama.cpp's own
// logits at every prompt position and its greedy continuation (test/fixtures/gguf-quant, written by
// tools/quant-fixtures/make-quant-fixtures.sh; llama.cpp ran with an F32 KV cache). For every SIMD level, and
// on x86 both with the Q8_0 / Q4_K weights interleaved at load and as stored:
//   - every position's logits within LOGIT_BOUND of llama.cpp's;
//   - argmax equal at every position where llama.cpp's top-2 margin exceeds MARGIN;
//   - the greedy 16 tokens decoded through the KV cache equal llama.cpp's.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { backends, loadModel } from '../dist/index.js';
import { argmax, fixture, greedyDecode } from './helpers.mjs';

const DIR = fixture('gguf-quant');
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.gguf')).sort();
const levels = backends().cpu.simdLevels;

// Both sides compute with the same quantized weights and the same 8-bit activations (smoe rounds them as
// ggml's x86 build does), so logits differ by fp32 summation order (~1e-6 measured) and, where an upstream
// difference of one ulp flips an activation's 8-bit rounding, by one step d * |w| there (largest seen:
// 1.9e-3, on the hidden-160 Q2_K file). Bound: 1e-2 absolute on logits of magnitude ~10 (1e-3 relative).
const LOGIT_BOUND = 1e-2;
// Argmax must agree wherever llama.cpp's top-2 margin is beyond what the bound can move (2 x the bound).
const MARGIN = 2 * LOGIT_BOUND;

test('the fixtures cover every quantized type smoe computes', async () => {
  const seen = new Set();
  for (const f of FILES) {
    const m = await loadModel(`${DIR}/${f}`, { threads: 2 });
    for (const d of m.info.dtypes) seen.add(d);
    await m.close();
  }
  for (const t of ['Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K'])
    assert.ok(seen.has(t), `no fixture holds ${t} (seen: ${[...seen]})`);
});

for (const f of FILES) {
  const ref = JSON.parse(readFileSync(`${DIR}/${f.replace(/\.gguf$/, '.llama-logits.json')}`, 'utf8'));
  // x86 levels run twice: with the Q8_0 / Q4_K weights interleaved at load (cpu/repack.h) and as stored.
  for (const [simd, interleave] of levels.flatMap((l) => (l === 'generic' ? [[l, false]] : [[l, true], [l, false]]))) {
    describe(`${f} (simd ${simd}${interleave ? ', rows interleaved' : ''})`, () => {
      let model;
      before(async () => { model = await loadModel(`${DIR}/${f}`, { simd, threads: 2, interleave }); });
      after(async () => { await model.close(); });

      test(`the Q8_0 / Q4_K matmul weights are ${interleave ? '' : 'not '}interleaved`, () => {
        const some = model.info.dtypes.some((d) => d === 'Q8_0' || d === 'Q4_K');
        if (interleave && some) assert.ok(model.info.interleavedBytes > 0, `interleavedBytes ${model.info.interleavedBytes}`);
        else assert.equal(model.info.interleavedBytes, 0);
      });

      test(`logits at every position within ${LOGIT_BOUND} of llama.cpp's; argmax equal where its margin > ${MARGIN}`, async () => {
        const V = ref.vocab, n = ref.prompt.length;
        assert.equal(model.config.vocabSize, V);
        const all = await model.logits(ref.prompt, { allLogits: true });
        for (let p = 0; p < n; p++) {
          const want = ref.logits[p], got = all.subarray(p * V, (p + 1) * V);
          let worst = 0;
          for (let v = 0; v < V; v++) worst = Math.max(worst, Math.abs(got[v] - want[v]));
          assert.ok(worst <= LOGIT_BOUND, `position ${p}: max |smoe - llama.cpp| = ${worst}`);
          const sorted = [...want].sort((a, b) => b - a);
          if (sorted[0] - sorted[1] > MARGIN) assert.equal(argmax(got), argmax(want), `argmax at position ${p}`);
        }
      });

      test('greedy 16 tokens through the KV cache equal llama.cpp\'s', async () => {
        const seq = model.createSequence();
        const generated = await greedyDecode(seq, ref.prompt, ref.greedy.length);
        seq.dispose();
        assert.deepEqual(generated, ref.greedy);
      });
    });
  }
}
