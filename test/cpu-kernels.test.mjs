// The CPU kernels op by op (through the addon's test-only opTest export), on every SIMD level this CPU has
// and on 1, 2 and 3 threads, against float64 references: the matmul (decode matvec and prefill tiles, every
// weight dtype, shapes that are not multiples of the tiles) and the fused MoE experts (decode and prefill
// plans). A row's result must not depend on how many tokens the call has or on the thread count (bitwise),
// so that decoding through the cache gives the same logits as a full pass.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { native } from '../dist/native.js';
import { maxAbs, randn, rng, weight, weightValues } from './op-data.mjs';

const addon = native();
const levels = addon.backends().cpu.simdLevels;
const DTYPES = ['F32', 'F16', 'BF16'];
const THREADS = [1, 2, 3];

/** out[t, o] = sum_k x[t, k] w[o, k] in float64. */
function matmulRef(x, wv, T, O, K) {
  const out = new Float64Array(T * O);
  for (let t = 0; t < T; t++)
    for (let o = 0; o < O; o++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += x[t * K + k] * wv[o * K + k];
      out[t * O + o] = s;
    }
  return out;
}
function near(got, want, tol, what) {
  assert.equal(got.length, want.length, `${what}: length`);
  const bound = tol * Math.max(1, maxAbs(want));
  for (let i = 0; i < got.length; i++)
    assert.ok(Math.abs(got[i] - want[i]) <= bound, `${what}: [${i}] ${got[i]} vs ${want[i]} (bound ${bound})`);
}

for (const simd of levels) {
  describe(`CPU kernels (simd ${simd})`, () => {
    test('matmul: matvec and tiles against float64, every dtype, bitwise the same row for T = 1 and T > 1', () => {
      const r = rng(3);
      for (const dtype of DTYPES)
        // [9, 2085]: chains of the packed path longer than one chunk (matmul_tile.h kChainChunk), a partial
        // last chunk and a scalar tail.
        for (const [O, K] of [[37, 67], [64, 1024], [19, 200], [5, 3], [9, 2085]])
          // T = 3: the direct tiles only; T = 7, 13: 16-bit weights take the packed (chain-major) panel, with
          // one or two whole token tiles and a remainder.
          for (const T of [3, 7, 13]) {
            const w = weight(O, K, dtype, r);
            const wv = weightValues(w);
            const x = randn(T * K, r, 1);
            const want = matmulRef(x, wv, T, O, K);
            let first;
            for (const threads of THREADS) {
              const all = addon.opTest('matmul', { simd, threads, x, w, T }).out;
              near(all, want, 1e-5, `${dtype} [${O}, ${K}] T ${T} threads ${threads}`);
              if (first) assert.deepEqual(all, first, `${dtype} [${O}, ${K}]: threads ${threads} differ from 1`);
              first ??= all;
              for (const t of [0, Math.min(3, T - 2), T - 1]) {
                const one = addon.opTest('matmul', { simd, threads, x: x.slice(t * K, (t + 1) * K), w, T: 1 }).out;
                assert.deepEqual(one, all.slice(t * O, (t + 1) * O), `${dtype} [${O}, ${K}]: row ${t} of T ${T} vs T 1`);
              }
            }
          }
    });

    test('silu_mul: within 4 ulp of float64 where silu is a normal float, every tail length, the IEEE edges', () => {
      const r = rng(11);
      const f32 = (v) => Math.fround(v);
      const h = new Float32Array(4099), g = new Float32Array(4099);
      for (let i = 0; i < h.length; i++) { h[i] = (r() - 0.5) * 200; g[i] = r() * 4 - 2; }
      h.set([0, -0, 1e-30, -1e-30, 88.5, -88.5, 88.8, -88.8, 87.4, -87.4, 5e-39, 20, -20]);
      const out = addon.opTest('silu_mul', { h, g }).out;
      const ulp = (x) => { const a = Math.abs(f32(x)); return a < 1.1754944e-38 ? 1.4e-45 : 2 ** (Math.floor(Math.log2(a)) - 23); };
      for (let i = 0; i < h.length; i++) {
        const s = h[i] / (1 + Math.exp(-h[i]));
        if (Math.abs(s) < 1e-36) continue;  // past exp's float range, silu rounds to about 0 either way
        const want = s * g[i];
        // three roundings (1 + e, the division, the product) on a 1-ulp exp
        assert.ok(Math.abs(out[i] - want) <= 4 * ulp(want) + 1e-45, `silu(${h[i]}) * ${g[i]}: ${out[i]} vs ${want}`);
      }
      for (const n of [1, 2, 3, 4, 5, 7, 9]) {  // the tail lanes: the same values as in a long row
        const part = addon.opTest('silu_mul', { h: h.slice(0, n), g: g.slice(0, n) }).out;
        assert.deepEqual(part, out.slice(0, n), `length ${n}`);
      }
      const edge = addon.opTest('silu_mul', { h: new Float32Array([NaN, Infinity, -Infinity, -100, 100, -88.9]), g: new Float32Array(6).fill(1) }).out;
      assert.ok(Number.isNaN(edge[0]), 'NaN stays NaN');
      assert.equal(edge[1], Infinity);
      assert.ok(Number.isNaN(edge[2]), '-inf / inf is NaN, as with std::exp');
      assert.ok(Object.is(edge[3], -0) && edge[4] === 100 && Object.is(edge[5], -0), `${edge.slice(3)}`);
    });

    test('moe_experts: decode and prefill plans against float64, the same bits on 1, 2 and 3 threads', () => {
      const r = rng(5);
      const E = 5, D = 40, I = 72;
      for (const dtype of DTYPES)
        for (const [T, K] of [[1, 2], [1, 1], [2, 2], [9, 2], [6, 5]]) {
          const w1 = [], w3 = [], w2 = [];
          for (let e = 0; e < E; e++) {
            w1.push(weight(I, D, dtype, r));
            w3.push(weight(I, D, dtype, r));
            w2.push(weight(D, I, dtype, r));
          }
          const x = randn(T * D, r, 1);
          const logits = randn(T * E, r, 2);
          let first;
          for (const threads of THREADS) {
            const res = addon.opTest('moe_experts', { simd, threads, x, logits, T, D, E, K, w1, w3, w2 });
            // The reference: the plan's experts and weights, SwiGLU in float64.
            const want = new Float64Array(T * D);
            for (let t = 0; t < T; t++)
              for (let j = 0; j < K; j++) {
                const e = res.expertIds[t * K + j], g = res.weights[t * K + j];
                const xt = x.subarray(t * D, (t + 1) * D);
                const h1 = matmulRef(xt, weightValues(w1[e]), 1, I, D), h3 = matmulRef(xt, weightValues(w3[e]), 1, I, D);
                const a = h1.map((v, i) => (v / (1 + Math.exp(-v))) * h3[i]);
                const y = matmulRef(a, weightValues(w2[e]), 1, D, I);
                for (let d = 0; d < D; d++) want[t * D + d] += g * y[d];
              }
            near(res.out, want, 1e-5, `${dtype} T ${T} K ${K} threads ${threads}`);
            if (first) assert.deepEqual(res.out, first, `${dtype} T ${T} K ${K}: threads ${threads} differ from 1`);
            first ??= res.out;
          }
        }
    });
  });
}
