// The public surface: normalized config from both config.json styles, parameter counts, backends().
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import * as smoe from '../dist/index.js';
import { copyModel, fixture, maxAbsDiff, readSafetensors, reference, writeSafetensors } from './helpers.mjs';

const { backends, loadModel } = smoe;

test('exports', () => {
  for (const k of ['loadModel', 'backends', 'Model', 'Sequence', 'SmoeError', 'ModelLoadError', 'InvalidArgumentError'])
    assert.ok(k in smoe, k);
});

test('backends() reports the CPU backend and its SIMD level', () => {
  const b = backends();
  assert.equal(b.cpu.compiled, true);
  assert.ok(['avx512', 'avx2', 'generic'].includes(b.cpu.simd));
  assert.ok(b.cpu.simdLevels.includes('generic'));
  assert.equal(typeof b.cuda.compiled, 'boolean');
});

test('config is normalized from the transformers-5 style', async () => {
  const m = await loadModel(fixture('tiny-mixtral'), { threads: 1 });
  assert.deepEqual(
    { ...m.config },
    {
      modelType: 'mixtral', vocabSize: 32000, hiddenSize: 64, intermediateSize: 96, numLayers: 2, numHeads: 8,
      numKvHeads: 2, headDim: 8, numExperts: 8, topK: 2, maxPositions: 4096, slidingWindow: null, rmsNormEps: 1e-5,
      ropeTheta: 1e6, tieWordEmbeddings: false, bosTokenId: 1, eosTokenId: 2, dtype: 'bfloat16',
    },
  );
  assert.equal(m.info.backend, 'cpu');
  assert.equal(m.info.threads, 1);
  assert.deepEqual(m.info.dtypes, ['BF16']);
  await m.close();
});

test('hub-style config (top-level rope_theta, no head_dim) gives the same model', async () => {
  const { dir, cleanup } = copyModel('tiny-mixtral-f32');
  try {
    const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    const theta = c.rope_parameters.rope_theta;
    delete c.rope_parameters; delete c.head_dim; delete c.transformers_version; delete c.dtype;
    c.rope_theta = theta;
    c.torch_dtype = 'float32';
    writeFileSync(join(dir, 'config.json'), JSON.stringify(c));
    const hub = await loadModel(dir);
    const t5 = await loadModel(fixture('tiny-mixtral-f32'));
    assert.deepEqual({ ...hub.config, dtype: null }, { ...t5.config, dtype: null });
    assert.equal(hub.config.ropeTheta, 1e4);
    assert.equal(hub.config.dtype, 'float32');
    const ids = reference('tiny-mixtral-f32').cases[0].ids;
    assert.ok(maxAbsDiff(await hub.logits(ids), await t5.logits(ids)) === 0);
    await hub.close(); await t5.close();
  } finally { cleanup(); }
});

test('parameter counts: total matches the checkpoint index, active drops the unrouted experts', async () => {
  const m = await loadModel(fixture('tiny-mixtral'));
  const index = JSON.parse(readFileSync(join(fixture('tiny-mixtral'), 'model.safetensors.index.json'), 'utf8'));
  assert.equal(m.info.totalParams, index.metadata.total_parameters);
  const { numLayers, numExperts, topK, hiddenSize, intermediateSize } = m.config;
  assert.equal(m.info.activeParams, m.info.totalParams - numLayers * (numExperts - topK) * 3 * hiddenSize * intermediateSize);
  await m.close();
});

test('tied embeddings: a checkpoint without lm_head uses the embedding as the output layer', async () => {
  const tied = copyModel('tiny-mixtral-f32');
  const untied = copyModel('tiny-mixtral-f32');
  try {
    // tied: lm_head removed, tie_word_embeddings true. untied: lm_head overwritten with the embedding.
    const file = 'model.safetensors';
    const { header, data } = readSafetensors(join(tied.dir, file));
    const [hb, he] = header['lm_head.weight'].data_offsets;
    const [eb, ee] = header['model.embed_tokens.weight'].data_offsets;
    const copy = Buffer.from(data);
    data.subarray(eb, ee).copy(copy, hb);
    writeSafetensors(join(untied.dir, file), header, copy);
    delete header['lm_head.weight'];
    writeSafetensors(join(tied.dir, file), header, data);
    const c = JSON.parse(readFileSync(join(tied.dir, 'config.json'), 'utf8'));
    c.tie_word_embeddings = true;
    writeFileSync(join(tied.dir, 'config.json'), JSON.stringify(c));
    assert.equal(he - hb, ee - eb);
    const a = await loadModel(tied.dir), b = await loadModel(untied.dir);
    const ids = reference('tiny-mixtral-f32').cases[1].ids;
    assert.deepEqual(await a.logits(ids), await b.logits(ids));
    assert.equal(a.info.totalParams, b.info.totalParams - 32000 * 64);
    await a.close(); await b.close();
  } finally { tied.cleanup(); untied.cleanup(); }
});

test('a package without any native binary says what was tried and what to do', async () => {
  const { mkdtempSync, cpSync, symlinkSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { spawnSync } = await import('node:child_process');
  const repo = join(fixture('tiny-mixtral'), '..', '..', '..');
  const dir = mkdtempSync(join(tmpdir(), 'smoe-nobin-'));
  try {
    cpSync(join(repo, 'dist'), join(dir, 'dist'), { recursive: true });
    cpSync(join(repo, 'package.json'), join(dir, 'package.json'));
    symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'));
    const code = `import('./dist/index.js').then((s) => { try { s.backends(); console.log('loaded'); }
      catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })); } });`;
    const { SMOE_ADDON, ...env } = process.env; // (the sanitizer run points SMOE_ADDON at its build)
    const r = spawnSync(process.execPath, ['-e', code], { cwd: dir, encoding: 'utf8', env });
    const e = JSON.parse(r.stdout);
    assert.equal(e.code, 'NATIVE_LOAD');
    assert.match(e.message, /prebuilds\/linux-x64/);
    assert.match(e.message, /build\/Release/);
    assert.match(e.message, /npm run build:native/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('device resolution: auto falls back to the CPU, a missing GPU is a clear error', async () => {
  const cuda = backends().cuda;
  const m = await loadModel(fixture('tiny-mixtral'), { device: 'auto', threads: 1 });
  assert.equal(m.info.device, cuda.devices.length ? `cuda:${cuda.devices[0].index}` : 'cpu');
  await m.close();
  const cpu = await loadModel(fixture('tiny-mixtral'), { device: 'cpu', precision: 'fp32' });
  assert.equal(cpu.info.device, 'cpu');
  await cpu.close();
  await assert.rejects(loadModel(fixture('tiny-mixtral'), { device: 'cuda:7' }), (e) => e.code === 'DEVICE_UNAVAILABLE' && /cuda:7/.test(e.message));
  await assert.rejects(loadModel(fixture('tiny-mixtral'), { precision: 'fp16' }), (e) => e.code === 'INVALID_OPTION' && e.field === 'precision');
  if (!cuda.devices.length)
    await assert.rejects(loadModel(fixture('tiny-mixtral'), { device: 'cuda' }), (e) => e.code === 'DEVICE_UNAVAILABLE');
});

test('loadModel() without a folder uses the packaged demo model, or says there is none', async () => {
  const { existsSync } = await import('node:fs');
  const { DEMO_MODEL_DIR } = await import('../dist/demo-model.js');
  if (existsSync(join(DEMO_MODEL_DIR, 'config.json'))) {
    const m = await loadModel();
    assert.equal(m.info.files[0].startsWith(DEMO_MODEL_DIR), true);
    await m.close();
  } else {
    await assert.rejects(loadModel(), (e) => e.code === 'MODEL_REQUIRED' && /demo model/.test(e.message));
  }
});

test('SMOE_ADDON loads the addon from that path, and names it when it cannot', async () => {
  const { spawnSync } = await import('node:child_process');
  const code = `import('./dist/index.js').then((s) => { try { console.log(JSON.stringify(s.backends().cpu.compiled)); }
    catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); } });`;
  const repo = join(fixture('tiny-mixtral'), '..', '..', '..');
  const run = (addon) => JSON.parse(spawnSync(process.execPath, ['-e', code], { cwd: repo, encoding: 'utf8', env: { ...process.env, SMOE_ADDON: addon } }).stdout);
  const { createRequire } = await import('node:module');
  const built = createRequire(join(repo, 'package.json'))('node-gyp-build').path(repo); // the addon smoe loads by default
  assert.equal(run(built), true);
  const e = run('/nonexistent/smoe.node');
  assert.equal(e.code, 'NATIVE_LOAD');
  assert.match(e.message, /SMOE_ADDON=\/nonexistent\/smoe\.node/);
});

test("mmap option: mapped and read-in weights give the same logits, info.mmap says which; 'auto' follows the kernel's huge pages", async () => {
  const ids = [1, 415, 2936, 9060, 285];
  const mapped = await loadModel(fixture('tiny-mixtral'), { threads: 1, mmap: true });
  const read = await loadModel(fixture('tiny-mixtral'), { threads: 1, mmap: false });
  assert.equal(mapped.info.mmap, true);
  assert.equal(read.info.mmap, false);
  assert.deepEqual(await read.logits(ids), await mapped.logits(ids));
  await mapped.close();
  await read.close();
  let thp = null;
  try { thp = /\[(\w+)\]/.exec(readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'))[1]; } catch {}
  const auto = await loadModel(fixture('tiny-mixtral'), { threads: 1 });
  assert.equal(auto.info.mmap, !(thp === 'always' || thp === 'madvise'), `THP mode ${thp}`);
  await auto.close();
  for (const bad of ['yes', 1, null])
    await assert.rejects(loadModel(fixture('tiny-mixtral'), { mmap: bad }), (e) => e.code === 'INVALID_OPTION' && e.field === 'mmap', String(bad));
});

test('mmap option: a GGUF read into memory equals the mapped one', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { ggufFromFixture } = await import('./gguf-helpers.mjs');
  const dir = mkdtempSync(join(tmpdir(), 'smoe-mmap-'));
  try {
    const file = join(dir, 'm.gguf');
    await ggufFromFixture(fixture('tiny-mixtral'), file, { type: 'F16' });
    const a = await loadModel(file, { threads: 1, mmap: true });
    const b = await loadModel(file, { threads: 1, mmap: false });
    assert.equal(a.info.mmap, true);
    assert.equal(b.info.mmap, false);
    assert.deepEqual(await b.logits([1, 2, 3]), await a.logits([1, 2, 3]));
    await a.close();
    await b.close();
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
