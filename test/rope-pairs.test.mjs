// The backend's RoPE on adjacent pairs (llama.cpp's NORM mode, for GGUF q/k rows): on rows permuted as
// llama.cpp's converter permutes them (row 2i + j of a head = HF row j * Hd/2 + i) it gives exactly the
// rotate-half RoPE of the HF rows, permuted the same way; and it is not the rotate-half mode.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { native } from '../dist/native.js';

const addon = native();
const rope = (inputs) => addon.opTest('rope', { threads: 1, backend: 'cpu', ...inputs }).out;

function rng(seed) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

/** x[T, H * Hd] with each head's dims permuted: out[2i + j] = x[j * Hd/2 + i]. */
function permute(x, T, H, Hd) {
  const out = new Float32Array(x.length);
  for (let r = 0; r < T * H; r++)
    for (let i = 0; i < Hd / 2; i++) for (let j = 0; j < 2; j++) out[r * Hd + 2 * i + j] = x[r * Hd + j * (Hd / 2) + i];
  return out;
}

test('pair RoPE of permuted rows equals the permuted rotate-half RoPE, bit for bit', () => {
  const r = rng(7);
  for (const [T, H, Hd, p0] of [[1, 8, 8, 4095], [9, 4, 128, 0], [5, 3, 16, 1000]]) {
    const x = Float32Array.from({ length: T * H * Hd }, r);
    const invFreq = new Float32Array(Hd / 2).map((_, i) => 1 / Math.pow(1e6, (2 * i) / Hd));
    const pos = new Int32Array(T).map((_, i) => p0 + i);
    const half = rope({ x, T, heads: H, headDim: Hd, pos, invFreq });
    const pairs = rope({ x: permute(x, T, H, Hd), T, heads: H, headDim: Hd, pos, invFreq, pairs: true });
    assert.deepEqual(pairs, permute(half, T, H, Hd), `T=${T} H=${H} Hd=${Hd}`);
    const wrongMode = rope({ x: permute(x, T, H, Hd), T, heads: H, headDim: Hd, pos, invFreq });
    assert.notDeepEqual(wrongMode, permute(half, T, H, Hd));
  }
});
