// Bad checkpoints and bad calls: each gives a specific SmoeError naming the file, tensor or field,
// never a crash or a hang.
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { loadModel, ModelLoadError } from '../dist/index.js';
import { copyModel, fixture, readSafetensors, rejectsWithCode, writeSafetensors } from './helpers.mjs';

const SHARD = 'model-00003-of-00003.safetensors'; // layers of tiny-mixtral
const EMBED_SHARD = 'model-00002-of-00003.safetensors';

async function withCopy(fn) {
  const m = copyModel('tiny-mixtral');
  try { await fn(m.dir); } finally { m.cleanup(); }
}

test('truncated shard', () => withCopy(async (dir) => {
  const f = join(dir, SHARD);
  const size = readFileSync(f).length;
  truncateSync(f, size - 100);
  await rejectsWithCode(assert, loadModel(dir), 'SAFETENSORS_TRUNCATED', new RegExp(SHARD));
}));

test('file shorter than the 8-byte header length', () => withCopy(async (dir) => {
  truncateSync(join(dir, SHARD), 5);
  await rejectsWithCode(assert, loadModel(dir), 'SAFETENSORS_TRUNCATED', /too short/);
}));

test('header length past the end of the file', () => withCopy(async (dir) => {
  const f = join(dir, SHARD);
  const buf = readFileSync(f);
  buf.writeBigUInt64LE(BigInt(buf.length), 0);
  writeFileSync(f, buf);
  await rejectsWithCode(assert, loadModel(dir), 'SAFETENSORS_TRUNCATED', /header length/);
}));

test('header that is not JSON', () => withCopy(async (dir) => {
  const f = join(dir, SHARD);
  const buf = readFileSync(f);
  buf.write('{{{{', 8);
  writeFileSync(f, buf);
  await rejectsWithCode(assert, loadModel(dir), 'SAFETENSORS_HEADER', /not valid JSON/);
}));

test('tensor offsets out of range', () => withCopy(async (dir) => {
  const f = join(dir, SHARD);
  const { header, data } = readSafetensors(f);
  const name = 'model.layers.1.self_attn.q_proj.weight';
  const [b, e] = header[name].data_offsets;
  header[name].data_offsets = [b + data.length, e + data.length];
  writeSafetensors(f, header, data);
  await assert.rejects(loadModel(dir), (err) => {
    assert.ok(err instanceof ModelLoadError);
    assert.equal(err.code, 'SAFETENSORS_TRUNCATED');
    assert.equal(err.tensor, name);
    assert.ok(err.file.endsWith(SHARD));
    return true;
  });
}));

test('data_offsets that disagree with shape and dtype', () => withCopy(async (dir) => {
  const f = join(dir, SHARD);
  const { header, data } = readSafetensors(f);
  header['model.layers.0.self_attn.k_proj.weight'].shape = [16, 63];
  writeSafetensors(f, header, data);
  await rejectsWithCode(assert, loadModel(dir), 'TENSOR_BOUNDS', /k_proj/);
}));

test('overlapping tensors', () => withCopy(async (dir) => {
  const f = join(dir, SHARD);
  const { header, data } = readSafetensors(f);
  header['model.layers.0.self_attn.k_proj.weight'].data_offsets = header['model.layers.0.self_attn.v_proj.weight'].data_offsets;
  writeSafetensors(f, header, data);
  await rejectsWithCode(assert, loadModel(dir), 'SAFETENSORS_OVERLAP', /overlap/);
}));

test('wrong shape against config.json', () => withCopy(async (dir) => {
  const f = join(dir, SHARD);
  const { header, data } = readSafetensors(f);
  header['model.layers.0.self_attn.k_proj.weight'].shape = [32, 32]; // same bytes, wrong shape
  writeSafetensors(f, header, data);
  await assert.rejects(loadModel(dir), (err) => {
    assert.equal(err.code, 'TENSOR_SHAPE');
    assert.equal(err.tensor, 'model.layers.0.self_attn.k_proj.weight');
    assert.match(err.message, /\[32,32\].*\[16,64\]/);
    return true;
  });
}));

test('unknown dtype', () => withCopy(async (dir) => {
  const f = join(dir, SHARD);
  const { header, data } = readSafetensors(f);
  header['model.layers.0.block_sparse_moe.gate.weight'].dtype = 'Q4_K';
  writeSafetensors(f, header, data);
  await rejectsWithCode(assert, loadModel(dir), 'UNSUPPORTED_DTYPE', /Q4_K/);
}));

test('a dtype smoe does not compute with (I16)', () => withCopy(async (dir) => {
  const f = join(dir, SHARD);
  const { header, data } = readSafetensors(f);
  header['model.layers.0.block_sparse_moe.gate.weight'].dtype = 'I16';
  writeSafetensors(f, header, data);
  await rejectsWithCode(assert, loadModel(dir), 'UNSUPPORTED_DTYPE', /gate\.weight.*I16/);
}));

test('tensor missing from the checkpoint', () => withCopy(async (dir) => {
  const f = join(dir, SHARD);
  const { header, data } = readSafetensors(f);
  delete header['model.layers.1.block_sparse_moe.experts.7.w2.weight'];
  writeSafetensors(f, header, data);
  const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8'));
  delete index.weight_map['model.layers.1.block_sparse_moe.experts.7.w2.weight'];
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify(index));
  await rejectsWithCode(assert, loadModel(dir), 'TENSOR_MISSING', /experts\.7\.w2/);
}));

test('tensor listed in the index but absent from its shard', () => withCopy(async (dir) => {
  const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8'));
  index.weight_map['model.norm.weight'] = EMBED_SHARD;
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify(index));
  await rejectsWithCode(assert, loadModel(dir), 'TENSOR_MISSING', /model\.norm\.weight/);
}));

test('missing shard file', () => withCopy(async (dir) => {
  rmSync(join(dir, EMBED_SHARD));
  await rejectsWithCode(assert, loadModel(dir), 'FILE_MISSING', new RegExp(EMBED_SHARD));
}));

test('missing weights altogether', () => withCopy(async (dir) => {
  for (const f of ['model.safetensors.index.json', SHARD]) rmSync(join(dir, f));
  await rejectsWithCode(assert, loadModel(dir), 'FILE_MISSING', /neither model\.safetensors/);
}));

test('bad index file', () => withCopy(async (dir) => {
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'model.norm.weight': '../etc/passwd' } }));
  await rejectsWithCode(assert, loadModel(dir), 'INDEX_INVALID', /invalid file name/);
}));

test('bad JSON config', () => withCopy(async (dir) => {
  writeFileSync(join(dir, 'config.json'), '{"model_type": "mixtral",');
  await rejectsWithCode(assert, loadModel(dir), 'CONFIG_INVALID', /config\.json is not valid JSON/);
}));

test('missing config.json', () => withCopy(async (dir) => {
  rmSync(join(dir, 'config.json'));
  await rejectsWithCode(assert, loadModel(dir), 'FILE_MISSING', /config\.json/);
}));

test('config field of the wrong type', () => withCopy(async (dir) => {
  const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  c.num_hidden_layers = '2';
  writeFileSync(join(dir, 'config.json'), JSON.stringify(c));
  await assert.rejects(loadModel(dir), (e) => e.code === 'CONFIG_INVALID' && e.field === 'num_hidden_layers');
}));

test('unexpected model_type', () => withCopy(async (dir) => {
  const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  c.model_type = 'llama';
  writeFileSync(join(dir, 'config.json'), JSON.stringify(c));
  await assert.rejects(loadModel(dir), (e) => e.code === 'UNSUPPORTED_MODEL' && e.field === 'model_type');
}));

test('config that disagrees with the weights (more layers than stored)', () => withCopy(async (dir) => {
  const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  c.num_hidden_layers = 3;
  writeFileSync(join(dir, 'config.json'), JSON.stringify(c));
  await rejectsWithCode(assert, loadModel(dir), 'TENSOR_MISSING', /model\.layers\.2\./);
}));

test('a model folder that does not exist', async () => {
  await rejectsWithCode(assert, loadModel('/nonexistent/smoe-model'), 'FILE_MISSING', /config\.json/);
});

test('a shard that grows after validation is still read correctly (appended bytes are ignored)', () => withCopy(async (dir) => {
  appendFileSync(join(dir, SHARD), Buffer.alloc(1000));
  const model = await loadModel(dir);
  await model.close();
}));

test('bad calls on a loaded model', async () => {
  const model = await loadModel(fixture('tiny-mixtral'));
  const V = model.config.vocabSize;
  await rejectsWithCode(assert, () => model.logits([1, V]), 'TOKEN_OUT_OF_RANGE', /32000/);
  await rejectsWithCode(assert, () => model.logits([1, -1]), 'TOKEN_OUT_OF_RANGE');
  await rejectsWithCode(assert, () => model.logits([1, 2.5]), 'INVALID_ARGUMENT', /not an integer/);
  await rejectsWithCode(assert, () => model.logits([1, '2']), 'INVALID_ARGUMENT');
  await rejectsWithCode(assert, () => model.logits([]), 'EMPTY_INPUT');
  await rejectsWithCode(assert, () => model.logits('hello'), 'INVALID_ARGUMENT');
  await rejectsWithCode(assert, () => model.logits([1], { allLogits: 'yes' }), 'INVALID_OPTION');
  await rejectsWithCode(assert, () => model.logits(new Array(model.config.maxPositions + 1).fill(1)), 'CONTEXT_OVERFLOW');
  const seq = model.createSequence();
  await seq.eval(new Array(model.config.maxPositions - 1).fill(1).map((_, i) => (i * 7919) % V));
  await rejectsWithCode(assert, () => seq.eval([1, 2]), 'CONTEXT_OVERFLOW', /max_position_embeddings/);
  assert.equal(seq.length, model.config.maxPositions - 1, 'a failed eval leaves the sequence as it was');
  await seq.eval([5]);
  seq.dispose();
  await rejectsWithCode(assert, () => seq.eval([1]), 'SEQUENCE_DISPOSED');
  await model.close();
  await rejectsWithCode(assert, () => model.logits([1]), 'MODEL_CLOSED');
  assert.throws(() => model.createSequence(), (e) => e.code === 'MODEL_CLOSED');
});

test('bad load options', async () => {
  const dir = fixture('tiny-mixtral');
  await rejectsWithCode(assert, () => loadModel(dir, { threads: 'many' }), 'INVALID_OPTION', /threads/);
  await rejectsWithCode(assert, () => loadModel(dir, { threads: 0 }), 'INVALID_OPTION', /threads/);
  await rejectsWithCode(assert, () => loadModel(dir, { device: 'tpu' }), 'INVALID_OPTION', /device/);
  await rejectsWithCode(assert, () => loadModel(dir, { simd: 'sse9' }), 'INVALID_OPTION', /simd/);
  await rejectsWithCode(assert, () => loadModel(dir, 'cpu'), 'INVALID_OPTION');
  await rejectsWithCode(assert, () => loadModel(42), 'INVALID_ARGUMENT');
  await rejectsWithCode(assert, () => loadModel(dir, { device: 'cuda' }), 'DEVICE_UNAVAILABLE', /CUDA/);
  await rejectsWithCode(assert, () => loadModel(dir, { thread: 2 }), 'INVALID_OPTION', /thread/);
});
