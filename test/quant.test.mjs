// The quantized weight types (ggml's Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K .. Q6_K) on the CPU backend, op by op
// through the addon's test-only opTest export, against llama.cpp's own ggml on the same bytes
// (test/fixtures/quant/ggml-reference.json, written by tools/quant-fixtures/make-quant-fixtures.sh):
//   - dequantization is bit-exact to ggml's dequantize_row_* (random blocks, extreme and subnormal scales);
//   - matmul (T = 1 and T = 7, odd shapes) on every SIMD level this CPU has, against ggml's CPU mul_mat and
//     against an fp64 reference on the dequantized weights within the activation-rounding bound;
//   - the model paths (matmul_many, moe_experts, embed) with quantized weights, and the load-time refusals.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';

import { readConfig } from '../dist/load/config.js';
import { mixtralWeights } from '../dist/load/mixtral-weights.js';
import { readTensorIndex } from '../dist/load/safetensors.js';
import { native } from '../dist/native.js';
import { fixture } from './helpers.mjs';

const addon = native();
const REF = JSON.parse(readFileSync(fixture('quant/ggml-reference.json'), 'utf8'));
const TYPES = Object.keys(REF.types);
const SIMDS = addon.backends().cpu.simdLevels;  // e.g. ['avx512', 'avx2', 'generic']
const BLOCK = { Q8_0: [32, 34], Q4_0: [32, 18], Q4_1: [32, 20], Q5_0: [32, 22], Q5_1: [32, 24],
  Q2_K: [256, 84], Q3_K: [256, 110], Q4_K: [256, 144], Q5_K: [256, 176], Q6_K: [256, 210] };

const bytes = (s) => Buffer.from(s, 'base64');
const u8 = (s) => new Uint8Array(bytes(s));
const f32 = (s) => { const b = bytes(s); return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)); };
const op = (name, inputs) => addon.opTest(name, { threads: 2, ...inputs });

function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 4294967296; };
}
function randn(n, r) {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
  return a;
}
/** The fixture's matmul weight of a type, as an opTest weight. */
const weightOf = (type) => {
  const m = REF.types[type].matmul;
  return { data: u8(m.w), dtype: type, rows: m.rows, cols: m.cols };
};
/** Rows of a weight made from another type's bytes: the first `rows` rows of the fixture weight. */
function firstRows(w, rows) {
  const [be, bb] = BLOCK[w.dtype];
  const rb = (w.cols / be) * bb;
  return { ...w, rows, data: w.data.slice(0, rows * rb) };
}
function maxAbs(a) { let m = 0; for (const v of a) m = Math.max(m, Math.abs(v)); return m; }

describe('dequantization, bit for bit against ggml', () => {
  for (const type of TYPES) {
    test(`${type}: dequantize_row equals ggml's to the bit (random blocks, extreme and subnormal fp16 scales)`, () => {
      const c = REF.types[type].dequant;
      const got = op('dequantize', { w: { data: u8(c.blocks), dtype: type, rows: c.rows, cols: c.cols } }).out;
      const want = f32(c.out);
      assert.equal(got.length, want.length);
      const gb = new Uint32Array(got.buffer), wb = new Uint32Array(want.buffer);
      let first = -1, count = 0;
      for (let i = 0; i < gb.length; i++) if (gb[i] !== wb[i]) { count++; if (first < 0) first = i; }
      assert.equal(count, 0, `${count} elements differ, first at ${first}: ${got[first]} vs ggml ${want[first]}`);
    });
  }

  test('the embedding lookup of a quantized table is its dequantized rows, bit for bit', () => {
    for (const type of ['Q4_K', 'Q6_K', 'Q8_0', 'Q5_1']) {
      const c = REF.types[type].dequant;
      const table = { data: u8(c.blocks), dtype: type, rows: c.rows, cols: c.cols };
      const ids = Int32Array.from([3, 0, 5, 3]);
      const got = op('embed', { table, ids }).out;
      const all = f32(c.out);
      const want = new Float32Array(ids.length * c.cols);
      ids.forEach((id, t) => want.set(all.subarray(id * c.cols, (id + 1) * c.cols), t * c.cols));
      assert.deepEqual(new Uint32Array(got.buffer), new Uint32Array(want.buffer), type);
    }
  });
});

// Bound against ggml's mul_mat: both quantize the activations to the same 8-bit blocks (same rounding) and sum
// the block products in exact integers; only the order of the fp32 sums of the block terms differs, so the
// results agree to fp32 rounding of a K-term sum: |smoe - ggml| <= 1e-5 * max |ggml| (measured: <= 3e-7).
const GGML_BOUND = 1e-5;
describe('matmul against llama.cpp (ggml CPU mul_mat on the same weight bytes and activations)', () => {
  for (const type of TYPES) {
    for (const simd of SIMDS) {
      test(`${type} on ${simd}: T = 1 and T = 7, [37 x ${REF.types[type].matmul.cols}]`, () => {
        const w = weightOf(type);
        for (const c of REF.types[type].matmul.cases) {
          const got = op('matmul', { simd, T: c.T, x: f32(c.x), w }).out;
          const want = f32(c.out);
          const tol = GGML_BOUND * maxAbs(want);
          for (let i = 0; i < want.length; i++)
            assert.ok(Math.abs(got[i] - want[i]) <= tol, `T=${c.T} [${i}]: ${got[i]} vs ggml ${want[i]} (tol ${tol})`);
        }
      });
    }
  }
});

// Bound against exact arithmetic on the dequantized weights: the only approximation is the activation's
// 8-bit rounding. Each activation x_k is replaced by d * q_k with d = amax(block) / 127 and |x_k - d q_k| <=
// d / 2 = amax(block) / 254 (the block: 32 values for Q8_0 / Q8_1, 256 for Q8_K), so
//   |out - sum_k w_k x_k| <= sum_k |w_k| * amax(block of k) / 254      (+ 1e-5 relative for the fp32 sums).
describe('matmul against an fp64 reference on the dequantized weights', () => {
  for (const type of TYPES) {
    for (const simd of SIMDS) {
      test(`${type} on ${simd}: odd shapes, T = 1, 2 and 7, within the activation-rounding bound`, () => {
        // The dequant fixture's random blocks (extreme scales included) viewed as an odd shape: 31 rows of 3
        // blocks (32-element types) or 3 rows of 3 super-blocks (K types).
        const [be, bb] = BLOCK[type];
        const cols = 3 * be, rows = be === 256 ? 3 : 31;
        const w = { data: u8(REF.types[type].dequant.blocks).slice(0, rows * 3 * bb), dtype: type, rows, cols };
        const wd = op('dequantize', { w }).out;
        const act = BLOCK[type][0] === 256 ? 256 : 32;
        for (const T of [1, 2, 7]) {  // the kernels take tokens 4 at a time: 1, 2 and 4 + 3
          const x = randn(T * cols, rng(1000 + T));
          const got = op('matmul', { simd, T, x, w }).out;
          for (let t = 0; t < T; t++) {
            const amax = new Float64Array(cols / act);
            for (let k = 0; k < cols; k++) amax[Math.floor(k / act)] = Math.max(amax[Math.floor(k / act)], Math.abs(x[t * cols + k]));
            for (let o = 0; o < rows; o++) {
              let ref = 0, bound = 0, mag = 0;
              for (let k = 0; k < cols; k++) {
                const wk = wd[o * cols + k], xk = x[t * cols + k];
                ref += wk * xk;
                bound += Math.abs(wk) * amax[Math.floor(k / act)] / 254;
                mag += Math.abs(wk * xk);
              }
              const tol = bound * (1 + 1e-5) + 1e-5 * mag + 1e-30;
              const g = got[t * rows + o];
              assert.ok(Math.abs(g - ref) <= tol, `T=${T} t=${t} o=${o}: ${g} vs ${ref} (bound ${tol})`);
            }
          }
        }
      });
    }
  }
});

// The x86 kernels (quant_dot_x86.h, one source for the AVX2 and the VNNI builds) sum every block in exact
// integers and fold the blocks into fp32 lanes in one order: avx512 and avx2 must give the same bits, for one
// token (the decode kernels) and for tiles of several; a kernel written for one level alone must keep that.
describe('matmul: the x86 SIMD levels agree bit for bit', () => {
  const x86 = SIMDS.filter((s) => s === 'avx512' || s === 'avx2');
  for (const type of TYPES) {
    test(`${type}: avx512 equals avx2, T = 1, 2, 5 and 7`, { skip: x86.length < 2 && 'this CPU has no AVX-512 (one x86 level only)' }, () => {
      const w = weightOf(type);
      for (const T of [1, 2, 5, 7]) {
        const x = randn(T * w.cols, rng(2000 + T));
        const [a, b] = x86.map((simd) => op('matmul', { simd, T, x, w }).out);
        assert.deepEqual(new Uint32Array(a.buffer), new Uint32Array(b.buffer), `${type} T=${T}`);
      }
    });
  }
});

// Q8_0 and Q4_K weights of 8 rows or more reach the x86 kernels with their rows interleaved by eight
// (cpu/repack.h; opTest does what loading does, unless interleave: false), the rows past the last whole group
// as stored. The tests above run them that way; these pin what the layout must keep.
describe('matmul: rows interleaved by eight (Q8_0, Q4_K on x86)', () => {
  const x86 = SIMDS.filter((s) => s === 'avx512' || s === 'avx2');
  for (const type of ['Q8_0', 'Q4_K']) {
    for (const simd of x86) {
      test(`${type} on ${simd}: the extreme-scale blocks as 12 rows (one group + 4 rows as stored) agree with the stored layout`, () => {
        // The dequant fixture's blocks (extreme and subnormal fp16 scales): Q8_0 12 rows of 8 blocks, Q4_K 12
        // rows of one super-block.
        const [be, bb] = BLOCK[type];
        const per = be === 256 ? 1 : 8, rows = 12, cols = per * be;
        const w = { data: u8(REF.types[type].dequant.blocks).slice(0, rows * per * bb), dtype: type, rows, cols };
        for (const T of [1, 2, 5, 9]) {
          const x = randn(T * cols, rng(3000 + T));
          const a = op('matmul', { simd, T, x, w }).out, b = op('matmul', { simd, T, x, w, interleave: false }).out;
          const tol = 1e-5 * maxAbs(b) + 1e-30;
          for (let i = 0; i < b.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol, `T=${T} [${i}]: ${a[i]} vs ${b[i]} (tol ${tol})`);
        }
      });
      test(`${type} on ${simd}: a token's row is the same bits alone (T = 1) and in a tile of 9, on 1 and 3 threads`, () => {
        const w = weightOf(type);
        const T = 9, x = randn(T * w.cols, rng(4000));
        for (const threads of [1, 3]) {
          const all = op('matmul', { simd, threads, T, x, w }).out;
          for (let t = 0; t < T; t++) {
            const one = op('matmul', { simd, threads, T: 1, x: x.subarray(t * w.cols, (t + 1) * w.cols), w }).out;
            assert.deepEqual(new Uint32Array(one.buffer), new Uint32Array(all.slice(t * w.rows, (t + 1) * w.rows).buffer), `t=${t} threads=${threads}`);
          }
        }
      });
    }
  }
});

describe('the model paths with quantized weights', () => {
  test('matmul_many over mixed types equals each matmul alone, bit for bit', () => {
    const r = rng(7);
    const ws = [weightOf('Q4_K'), firstRows(weightOf('Q6_K'), 21), weightOf('Q8_0'), firstRows(weightOf('Q4_1'), 5)];
    // Q4_K / Q6_K are 768 wide, Q8_0 / Q4_1 288: two groups of the same input width.
    for (const group of [[ws[0], ws[1]], [ws[2], ws[3]]]) {
      for (const T of [1, 7]) {
        const x = randn(T * group[0].cols, r);
        const outs = op('matmul_many', { T, x, ws: group }).outs;
        group.forEach((w, i) => {
          const alone = op('matmul', { T, x, w }).out;
          assert.deepEqual(new Uint32Array(outs[i].buffer), new Uint32Array(alone.buffer), `${w.dtype} T=${T}`);
        });
      }
    }
  });

  test('moe_experts with quantized w1 / w3 / w2 equals the experts computed op by op', () => {
    const E = 4, K = 2, T = 5;
    const r = rng(11);
    // w1, w3: Q4_K [I, D] (I = 37 rows of D = 768); w2: Q8_0 [D = 768, I] needs I % 32 == 0: rows of Q8_0 are
    // 288 wide, so take D = 768 and I = 288 from a Q8_0 weight built here from the Q8_0 fixture's blocks.
    const D = 768, I = 288;
    const blocks = (type, rows, cols) => {
      const [be, bb] = BLOCK[type];
      const src = u8(REF.types[type].dequant.blocks);
      const data = new Uint8Array(rows * (cols / be) * bb);
      for (let i = 0; i < data.length; i++) data[i] = src[i % src.length];
      // Keep the outputs finite: rescale every fp16 scale field to a small value.
      return { data, dtype: type, rows, cols };
    };
    const w1 = [], w3 = [], w2 = [];
    for (let e = 0; e < E; e++) {
      w1.push(scaled(blocks('Q4_K', I, D), e));
      w3.push(scaled(blocks('Q5_K', I, D), e + 1));
      w2.push(scaled(blocks('Q8_0', D, I), e + 2));
    }
    const x = randn(T * D, r), logits = randn(T * E, r);
    const res = op('moe_experts', { x, logits, T, D, E, K, w1, w3, w2 });
    const want = new Float64Array(T * D);
    for (let t = 0; t < T; t++) {
      const xt = x.subarray(t * D, (t + 1) * D);
      for (let j = 0; j < K; j++) {
        const e = res.expertIds[t * K + j], p = res.weights[t * K + j];
        const g = op('matmul', { T: 1, x: xt, w: w1[e] }).out, u = op('matmul', { T: 1, x: xt, w: w3[e] }).out;
        const h = Float32Array.from(g, (gv, i) => Math.fround(Math.fround(gv / (1 + Math.exp(-gv))) * u[i]));
        const y = op('matmul', { T: 1, x: h, w: w2[e] }).out;
        for (let d = 0; d < D; d++) want[t * D + d] += p * y[d];
      }
    }
    const tol = 1e-4 * maxAbs(want);
    for (let i = 0; i < want.length; i++) assert.ok(Math.abs(res.out[i] - want[i]) <= tol, `[${i}] ${res.out[i]} vs ${want[i]}`);
  });
});

/** A copy of w whose fp16 scale fields are all set to small values (so products of random blocks stay finite). */
function scaled(w, seed) {
  const halfOffsets = { Q8_0: [0], Q4_K: [0, 2], Q5_K: [0, 2] }[w.dtype];
  const [, bb] = BLOCK[w.dtype];
  const data = w.data.slice();
  const r = rng(100 + seed);
  for (let b = 0; b < data.length / bb; b++)
    for (const off of halfOffsets) {
      const h = 0x1400 + Math.floor(r() * 0x400);  // in [2^-10, 2^-9): positive, normal
      data[b * bb + off] = h & 0xff;
      data[b * bb + off + 1] = h >> 8;
    }
  return { ...w, data };
}

describe('refusals', () => {
  test('opTest refuses an unknown weight type with UNSUPPORTED_QUANT', () => {
    assert.throws(() => op('matmul', { T: 1, x: new Float32Array(256), w: { data: new Uint8Array(136), dtype: 'IQ4_XS', rows: 1, cols: 256 } }),
      (e) => e.code === 'UNSUPPORTED_QUANT' && /IQ4_XS/.test(e.message));
  });

  async function spec(extra = {}) {
    const root = resolve(fixture('tiny-mixtral'));
    const config = await readConfig(root);
    const { files, tensors } = await readTensorIndex(root);
    const layout = mixtralWeights(config, files, tensors);
    return { config: { ...config, slidingWindow: config.slidingWindow ?? 0 }, threads: 2, simd: 'auto', files, weights: layout.weights, ...extra };
  }

  test('a tensor of a type smoe cannot compute is refused at load with UNSUPPORTED_QUANT naming tensor and type', async () => {
    for (const dtype of ['IQ2_XXS', 'TQ1_0', 'MXFP4', 'Q8_1', 'Q4_2']) {
      const s = await spec();
      s.weights.layers[1].wv.dtype = dtype;
      await assert.rejects(async () => addon.openModel(s),
        (e) => e.code === 'UNSUPPORTED_QUANT' && e.message.includes(s.weights.layers[1].wv.name) && e.message.includes(dtype), dtype);
    }
  });

  test('a quantized tensor whose rows are not a multiple of its block is refused with TENSOR_SHAPE', async () => {
    const s = await spec();
    s.weights.layers[0].wq.dtype = 'Q4_K';  // rows of 64 elements: not a multiple of 256
    await assert.rejects(async () => addon.openModel(s),
      (e) => e.code === 'TENSOR_SHAPE' && /multiple of its block of 256/.test(e.message) && e.message.includes(s.weights.layers[0].wq.name));
  });

  test('quantized tensors are bounds-checked by row bytes: one byte past the end is TENSOR_BOUNDS', async () => {
    const s = await spec();
    const t = s.weights.layers[0].wk;  // [16, 64]: as Q8_0, 16 rows of 2 blocks of 34 bytes
    const { statSync } = await import('node:fs');
    const size = statSync(s.files[t.file]).size;
    t.dtype = 'Q8_0';
    t.offset = size - 16 * 68 + 2;  // even (aligned), two bytes too far
    await assert.rejects(async () => addon.openModel(s), (e) => e.code === 'TENSOR_BOUNDS' && e.message.includes(t.name));
    t.offset = size - 16 * 68;  // exactly at the end: accepted as far as this tensor goes
    const m = await addon.openModel(s);
    await m.close();
  });

  test('a norm weight stored quantized is refused with UNSUPPORTED_QUANT (norms are read as plain floats)', async () => {
    for (const pick of [(w) => w.norm, (w) => w.layers[1].attnNorm, (w) => w.layers[0].ffnNorm]) {
      const s = await spec();
      const t = pick(s.weights);
      t.dtype = 'Q8_0';  // 64 elements: two blocks, in bounds
      await assert.rejects(async () => addon.openModel(s),
        (e) => e.code === 'UNSUPPORTED_QUANT' && e.message.includes(t.name) && /norm/.test(e.message), t.name);
    }
  });

  test('a quantized tensor at an odd offset is refused with TENSOR_ALIGNMENT', async () => {
    const s = await spec();
    s.weights.layers[0].wk.dtype = 'Q8_0';
    s.weights.layers[0].wk.offset += 1;
    await assert.rejects(async () => addon.openModel(s), (e) => e.code === 'TENSOR_ALIGNMENT');
  });

  test('the CUDA backend refuses quantized weights with UNSUPPORTED_QUANT (before any device is touched)', async () => {
    const s = await spec({ device: 'cuda:0' });
    s.weights.layers[0].wk.dtype = 'Q8_0';
    await assert.rejects(async () => addon.openModel(s),
      (e) => e.code === 'UNSUPPORTED_QUANT' && /CUDA/.test(e.message) && e.message.includes(s.weights.layers[0].wk.name));
  });
});
