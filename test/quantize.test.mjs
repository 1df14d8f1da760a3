// The quantizers and `smoe quantize` against llama.cpp (test/fixtures/quantize, made by
// tools/make-quantize-fixtures.sh with llama.cpp's convert_hf_to_gguf.py + llama-quantize): the same bytes
// per quantizer (--pure runs, and the raw blocks of two tensors to name the first differing block), the same
// type per tensor for every mix, and whole files identical to llama-quantize's (metadata included) for the
// mixes run here (all of them with SMOE_QUANTIZE_ALL=1). The checkpoints are rewritten from the generator
// the fixture tool used (tools/quantize-fixtures/random-mixtral.mjs), so the fixtures hold only hashes.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { QUANT_MIX_NAMES, loadModel, quantizeModel } from '../dist/index.js';
import { readConfig } from '../dist/load/config.js';
import { mixtralWeights } from '../dist/load/mixtral-weights.js';
import { readTensorIndex } from '../dist/load/safetensors.js';
import { quantizeOnLoad } from '../dist/quantize/quantize-on-load.js';
import { readGguf } from '../dist/load/gguf.js';
import { native } from '../dist/native.js';
import { openHfSource } from '../dist/quantize/hf-source.js';
import { llamaTensorOrder, planTensorTypes, quantMix } from '../dist/quantize/mixes.js';
import { progressReporter } from '../dist/cli/quantize-command.js';
import { writeQuantizeModel } from '../tools/quantize-fixtures/random-mixtral.mjs';
import { FIXTURES, fixture, readSafetensors, rejectsWithCode } from './helpers.mjs';

const FIX = join(FIXTURES, 'quantize');
const manifest = JSON.parse(readFileSync(join(FIX, 'manifest.json'), 'utf8'));
const MAIN = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const MODELS = ['tiny-mixtral', 'qz-mixtral-e8', 'qz-mixtral-e4'];
const MIXES = ['Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q2_K', 'Q3_K_S', 'Q3_K_M', 'Q3_K_L', 'Q4_K_S', 'Q4_K_M', 'Q5_K_S', 'Q5_K_M', 'Q6_K', 'F16', 'BF16'];
const PURE = { Q8_0: 'q8_0', Q4_0: 'q4_0', Q4_1: 'q4_1', Q5_0: 'q5_0', Q5_1: 'q5_1', Q2_K: 'q2_k', Q3_K: 'q3_k_s', Q4_K: 'q4_k_s', Q5_K: 'q5_k_s', Q6_K: 'q6_k' };
const BLOCK = { Q8_0: [32, 34], Q4_0: [32, 18], Q4_1: [32, 20], Q5_0: [32, 22], Q5_1: [32, 24], Q2_K: [256, 84], Q3_K: [256, 110], Q4_K: [256, 144], Q5_K: [256, 176], Q6_K: [256, 210] };
// Whole-file checks run by default (a few seconds on a loaded machine); SMOE_QUANTIZE_ALL=1 runs every one.
const ALL = process.env.SMOE_QUANTIZE_ALL === '1';
const DEFAULT_RUNS = [['tiny-mixtral', 'Q4_K_M'], ['qz-mixtral-e8', 'Q4_K_M'], ['qz-mixtral-e4', 'Q3_K_M'], ['qz-mixtral-e4', 'Q4_0']];

const sha = (b) => createHash('sha256').update(b).digest('hex');
let work;
const dirOf = (m) => (m === 'tiny-mixtral' ? fixture('tiny-mixtral') : join(work, m));

before(() => {
  work = mkdtempSync(join(tmpdir(), 'smoe-quantize-'));
  for (const m of MODELS) if (m !== 'tiny-mixtral') writeQuantizeModel(join(work, m), m);
});
after(() => rmSync(work, { recursive: true, force: true }));

/** Fails with the first tensor (and for blocks the first block) where `got` differs from the fixture. */
async function assertSameFile(file, key) {
  const want = manifest.files[key];
  assert.ok(want, `no fixture for ${key}`);
  const bytes = readFileSync(file);
  if (sha(bytes) === want.sha256) return;
  const g = await readGguf(file);
  const problems = [];
  want.tensors.forEach((w, i) => {
    const t = g.tensors[i];
    if (!t || t.name !== w.name) return problems.push(`tensor #${i}: ${t?.name} where llama-quantize has ${w.name}`);
    if (t.type.name !== w.type) return problems.push(`${w.name}: type ${t.type.name}, llama-quantize ${w.type}`);
    if (sha(bytes.subarray(t.offset, t.offset + t.bytes)) !== w.sha256) problems.push(`${w.name} (${w.type}): data differs`);
  });
  assert.fail(`${key}: the file differs from llama-quantize's (${bytes.length} vs ${want.bytes} bytes)` +
    `${problems.length ? `; ${problems.slice(0, 8).join('; ')}` : '; every tensor equal: the metadata differs'}`);
}

describe('quantizers', () => {
  // blk.0.attn_v.weight (all rows) then the first 64 rows of blk.0.ffn_gate_exps (expert 0's w1: zero,
  // constant, tiny and outlier rows), as record.mjs stored them from the --pure runs.
  function sourceRows() {
    const { header, data } = readSafetensors(join(work, 'qz-mixtral-e8', 'model.safetensors'));
    const rows = (name, n) => {
      const h = header[name];
      const cols = h.shape[1];
      const [b] = h.data_offsets;
      return new Uint16Array(data.buffer.slice(data.byteOffset + b, data.byteOffset + b + (n ?? h.shape[0]) * cols * 2));
    };
    const v = rows('model.layers.0.self_attn.v_proj.weight'), w1 = rows('model.layers.0.block_sparse_moe.experts.0.w1.weight', 64);
    const all = new Uint16Array(v.length + w1.length);
    all.set(v);
    all.set(w1, v.length);
    return all;
  }

  for (const type of Object.keys(PURE)) {
    test(`${type}: quantizeRows writes llama-quantize's blocks`, async () => {
      const src = sourceRows();
      const want = readFileSync(join(FIX, `pure-${type}.bin`));
      const got = Buffer.from(await native().quantizeRows(type, src, 'BF16', src.length / 256, 256, 2));
      assert.equal(got.length, want.length);
      if (!got.equals(want)) {
        const [n, bytes] = BLOCK[type];
        let i = 0;
        while (got[i] === want[i]) i++;
        const b = Math.floor(i / bytes);
        assert.fail(`${type}: block ${b} (elements ${b * n}..${b * n + n - 1}) differs at byte ${i % bytes}: ` +
          `smoe ${got.subarray(b * bytes, b * bytes + bytes).toString('hex')} llama.cpp ${want.subarray(b * bytes, b * bytes + bytes).toString('hex')}`);
      }
    });
  }

  for (const [type, mix] of Object.entries(PURE)) {
    test(`${type}: every tensor of a --pure file equals llama-quantize's`, { skip: !ALL && type !== 'Q4_K' ? 'the other --pure whole-file checks run with SMOE_QUANTIZE_ALL=1 (~4.5 min)' : false }, async () => {
      const out = join(work, `pure-${type}.gguf`);
      await quantizeModel(join(work, 'qz-mixtral-e8'), out, { type: mix, pure: true, threads: 2 });
      await assertSameFile(out, `qz-mixtral-e8-pure-${type}`);
    });
  }

  test('rows split over threads give the same bytes; half and float input agree', async () => {
    const x = new Float32Array(64 * 512);
    for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.37) * 0.1 * (i % 97 === 0 ? 9 : 1);
    for (const type of Object.keys(PURE)) {
      const one = Buffer.from(await native().quantizeRows(type, x, 'F32', 64, 512, 1));
      const many = Buffer.from(await native().quantizeRows(type, x, 'F32', 64, 512, 7));
      assert.ok(one.equals(many), `${type}: 1 and 7 threads differ`);
    }
  });

  test('bad arguments are typed errors, not crashes', async () => {
    const x = new Float32Array(100);
    assert.throws(() => native().quantizeRows('Q4_K', x, 'F32', 1, 100, 1), (e) => e.code === 'INVALID_ARGUMENT' && /multiple of/.test(e.message));
    assert.throws(() => native().quantizeRows('IQ2_XXS', x, 'F32', 1, 100, 1), (e) => e.code === 'UNSUPPORTED_QUANT');
    assert.throws(() => native().quantizeRows('Q8_0', x, 'F32', 2, 64, 1), (e) => e.code === 'INVALID_ARGUMENT' && /holds 100 values/.test(e.message));
    assert.throws(() => native().quantizeRows('Q8_0', new Uint16Array(64), 'F32', 1, 64, 1), (e) => e.code === 'INVALID_ARGUMENT');
  });

  test('quantizing runs off the event loop', async () => {
    const x = new Float32Array(4096 * 1024).fill(0.25);
    let ticks = 0;
    const timer = setInterval(() => { ticks++; }, 1);
    const t0 = performance.now();
    await native().quantizeRows('Q3_K', x, 'F32', 4096, 1024, 1);
    const ms = performance.now() - t0;
    clearInterval(timer);
    assert.ok(ms < 20 || ticks >= 3, `only ${ticks} timer ticks in ${ms.toFixed(0)} ms`);
  });
});

describe('mixes', () => {
  for (const m of MODELS) {
    test(`${m}: every mix gives each tensor llama-quantize's type`, async () => {
      const src = await openHfSource(dirOf(m));
      await src.close();
      const c = src.config;
      const tensors = [...src.tensors].sort((a, b) => llamaTensorOrder(a.name, b.name));
      const model = { nLayer: c.numLayers, nExpert: c.numExperts, nGqa: c.numHeads / c.numKvHeads, is70B: false };
      for (const mix of MIXES) {
        const want = manifest.files[`${m}-${mix}`].tensors;
        const got = planTensorTypes(tensors.map((t) => ({ name: t.name, dims: t.dims, type: t.keepAs ?? t.type })), quantMix(mix), model);
        assert.deepEqual(tensors.map((t, i) => `${t.name} ${got[i]}`), want.map((t) => `${t.name} ${t.type}`), `${m} ${mix}`);
      }
    });
  }
  test('the CLI offers the mixes smoe can write', () => {
    for (const mix of MIXES) assert.ok(QUANT_MIX_NAMES.includes(mix.toLowerCase()), mix);
  });
});

describe('smoe quantize', () => {
  const runs = ALL ? MODELS.flatMap((m) => MIXES.map((x) => [m, x])) : DEFAULT_RUNS;
  for (const [m, mix] of runs) {
    test(`${m} --type ${mix.toLowerCase()}: the file is llama-quantize's, byte for byte`, async () => {
      const out = join(work, `${m}-${mix}.gguf`);
      const seen = [];
      const r = await quantizeModel(dirOf(m), out, { type: mix.toLowerCase(), threads: 2, onProgress: (p) => seen.push(p.doneBytes) });
      await assertSameFile(out, `${m}-${mix}`);
      assert.equal(r.tensors.length, manifest.files[`${m}-${mix}`].tensors.length);
      assert.ok(seen.length > r.tensors.length && seen.at(-1) === seen.toSorted((a, b) => a - b).at(-1), 'progress goes forward');
    });
  }

  test('from a GGUF: bf16 written by smoe, then q5_k_m from it, equals llama-quantize from the converter', async () => {
    const mid = join(work, 'e4-bf16.gguf'), out = join(work, 'e4-from-gguf.gguf');
    await quantizeModel(join(work, 'qz-mixtral-e4'), mid, { type: 'bf16', threads: 2 });
    await assertSameFile(mid, 'qz-mixtral-e4-BF16');
    await quantizeModel(mid, out, { type: 'q5_k_m', threads: 2 });
    await assertSameFile(out, 'qz-mixtral-e4-Q5_K_M');
  });

  test('the command line writes the file and reports progress', async () => {
    const out = join(work, 'cli.gguf');
    const { code, stderr } = await new Promise((resolve) => {
      execFile(process.execPath, [MAIN, 'quantize', fixture('tiny-mixtral'), out, '--type', 'q8_0', '-t', '2'], { timeout: 60000 },
        (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stderr }));
    });
    assert.equal(code, 0, stderr);
    assert.match(stderr, /quantize 100%/);
    assert.match(stderr, /wrote .*cli\.gguf/);
    await assertSameFile(out, 'tiny-mixtral-Q8_0');
  });

  test('bad input: unknown type, missing input, requantizing, bad flags', async () => {
    await rejectsWithCode(assert, quantizeModel(fixture('tiny-mixtral'), join(work, 'x.gguf'), { type: 'iq2_xxs' }), 'INVALID_OPTION', /unknown quantization type/);
    await rejectsWithCode(assert, quantizeModel(join(work, 'nope'), join(work, 'x.gguf'), { type: 'q8_0' }), 'FILE_MISSING');
    const q = join(work, 'q8.gguf');
    await quantizeModel(fixture('tiny-mixtral'), q, { type: 'q8_0', threads: 2 });
    await rejectsWithCode(assert, quantizeModel(q, join(work, 'x.gguf'), { type: 'q4_0' }), 'UNSUPPORTED_QUANT', /requantizing/);
    const bad = join(work, 'bad.gguf');
    writeFileSync(bad, 'not a gguf file at all');
    await assert.rejects(quantizeModel(bad, join(work, 'x.gguf'), { type: 'q8_0' }), (e) => e.name !== undefined && typeof e.code === 'string' && e.code.startsWith('GGUF'));
    const { code, stderr } = await new Promise((resolve) => {
      execFile(process.execPath, [MAIN, 'quantize', fixture('tiny-mixtral')], (err, stdout, stderr) => resolve({ code: err?.code ?? 0, stderr }));
    });
    assert.equal(code, 2);
    assert.match(stderr, /needs IN and OUT/);
  });

  test('progress: a line per 10% when stderr is not a terminal', () => {
    const lines = [];
    const report = progressReporter({ isTTY: false, write: (s) => lines.push(s) });
    for (let i = 0; i <= 20; i++) report({ tensor: 't', index: 0, count: 1, type: 'Q8_0', doneBytes: i * 5, totalBytes: 100 });
    assert.equal(lines.length, 11);
    assert.match(lines.at(-1), /100%/);
  });
});

describe('loadModel(dir, { quantize })', () => {
  const maxDiff = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
  const ids = [1, 415, 293, 360, 285, 142, 77];
  for (const [m, q] of [['qz-mixtral-e8', 'q4_k_m'], ['tiny-mixtral', 'q8_0'], ['qz-mixtral-e4', 'q4_k']]) {
    test(`${m} quantized to ${q} while loading holds the blocks of the ${q} GGUF`, async () => {
      const file = join(work, `${m}-${q}-load.gguf`);
      // q4_k: the --pure Q4_K_S file (every matrix Q4_K, fall-backs aside).
      await quantizeModel(dirOf(m), file, q === 'q4_k' ? { type: 'q4_k_s', pure: true, threads: 2 } : { type: q, threads: 2 });
      const g = await readGguf(file), bytes = readFileSync(file);
      const config = await readConfig(dirOf(m));
      const { files, tensors } = await readTensorIndex(dirOf(m));
      const stored = mixtralWeights(config, files, tensors);
      const { files: withBuffer, layout } = await quantizeOnLoad(config, files, stored, q, 2);
      const buffer = withBuffer.at(-1);
      // Each native tensor against its GGUF tensor (an expert against its slab of the stack; q / k rows
      // un-permuted: the GGUF has them in llama.cpp's RoPE order, the HF graph in the checkpoint's).
      const check = (t, gname, expert = 0, permuteHeads = 0) => {
        const gt = g.tensorsByName.get(gname);
        if (t.dtype === 'BF16') return assert.equal(gt.type.name, 'F32', `${gname} stays unquantized`);
        assert.equal(t.dtype, gt.type.name, `${gname}: type`);
        const got = native().readWeights(buffer, t.offset, gt.bytes / (gt.dims[2] ?? 1));
        let want = bytes.subarray(gt.offset + expert * got.length, gt.offset + (expert + 1) * got.length);
        if (permuteHeads) {
          // inverse of permuteQkRows: GGUF row h*hd + 2i + j holds HF row h*hd + j*hd/2 + i
          const rows = t.rows, rb = got.length / rows, hd = rows / permuteHeads, un = Buffer.alloc(want.length);
          for (let r = 0; r < rows; r++) {
            const h = Math.floor(r / hd), w = r % hd, i = w >> 1, j = w & 1;
            want.subarray(r * rb, (r + 1) * rb).copy(un, (h * hd + j * (hd / 2) + i) * rb);
          }
          want = un;
        }
        assert.ok(Buffer.from(got).equals(want), `${gname}${expert ? ` expert ${expert}` : ''}: blocks differ`);
      };
      const w = layout.weights;
      check(w.embed, 'token_embd.weight');
      check(w.lmHead, 'output.weight');
      w.layers.forEach((l, i) => {
        const b = `blk.${i}.`;
        check(l.wq, `${b}attn_q.weight`, 0, config.numHeads);
        check(l.wk, `${b}attn_k.weight`, 0, config.numKvHeads);
        check(l.wv, `${b}attn_v.weight`);
        check(l.wo, `${b}attn_output.weight`);
        l.w1.forEach((t, e) => check(t, `${b}ffn_gate_exps.weight`, e));
        l.w2.forEach((t, e) => check(t, `${b}ffn_down_exps.weight`, e));
        l.w3.forEach((t, e) => check(t, `${b}ffn_up_exps.weight`, e));
      });

      // And the model runs on them: one token at a time (attention over one position does not depend on
      // the q / k row order) its logits are the GGUF's, to a few ulp: the tensors left unquantized are BF16
      // here and F32 in the GGUF (the same values), whose kernels sum in different orders (logits of
      // magnitude ~1.5 here, an ulp 1.2e-7; measured 8 ulp with std::exp in SwiGLU, 10 with cpu/silu.h).
      const a = await loadModel(dirOf(m), { threads: 2, quantize: q });
      const gm = await loadModel(file, { threads: 2 });
      try {
        for (const id of [1, 29, 300]) {
          const la = await a.logits([id]), lb = await gm.logits([id]);
          assert.ok(maxDiff(la, lb) < 2e-6, `token ${id}: max |logit difference| ${maxDiff(la, lb)}`);
        }
        assert.ok(a.info.dtypes.some((t) => t !== 'BF16'), `dtypes ${a.info.dtypes}`);
      } finally {
        await a.close();
        await gm.close();
      }
    });
  }
  test('bad quantize options are INVALID_OPTION', async () => {
    await rejectsWithCode(assert, loadModel(fixture('tiny-mixtral'), { quantize: 'iq1_s' }), 'INVALID_OPTION', /quantize/);
    await rejectsWithCode(assert, loadModel(fixture('tiny-mixtral'), { quantize: 4 }), 'INVALID_OPTION', /quantize/);
    const file = join(work, 'tiny-q8.gguf');
    await quantizeModel(fixture('tiny-mixtral'), file, { type: 'q8_0', threads: 2 });
    await rejectsWithCode(assert, loadModel(file, { quantize: 'q8_0' }), 'INVALID_OPTION', /GGUF/);
  });
  test('allocWeights handles are checked', async () => {
    const buf = native().allocWeights(1024);
    const x = new Float32Array(64).fill(1);
    assert.equal(await native().quantizeRows('Q8_0', x, 'F32', 1, 64, 1, buf, 0), undefined);
    assert.throws(() => native().quantizeRows('Q8_0', x, 'F32', 1, 64, 1, buf, 1000), (e) => e.code === 'INVALID_ARGUMENT' && /runs past/.test(e.message));
    assert.throws(() => native().quantizeRows('Q8_0', x, 'F32', 1, 64, 1, {}, 0), (e) => e.code === 'INVALID_SPEC');
    assert.throws(() => native().allocWeights(-1), (e) => e.code === 'INVALID_ARGUMENT');
  });
});
