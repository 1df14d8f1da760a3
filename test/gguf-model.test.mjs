// Models from GGUF files: the shared fixtures written as llama.cpp's converter writes them (q/k rows
// permuted; stacked and 2023 per-expert experts; F16, BF16, F32; v3 and v2) give the transformers
// reference logits; dense llama files; a tensor past 4 GiB in a sparse file; and every way a GGUF can fail
// to describe a model, each with its code and the key or tensor named.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { loadModel } from '../dist/index.js';
import { readGguf } from '../dist/load/gguf.js';
import { gguf, writeGguf } from '../dist/load/gguf-write.js';
import { ggufFromFixture } from './gguf-helpers.mjs';
import { argmax, fixture, maxAbsDiff, reference } from './helpers.mjs';

const dir = mkdtempSync(join(tmpdir(), 'smoe-gguf-model-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const tmp = (name = 'm.gguf') => join(dir, `${n++}-${name}`);

const VARIANTS = [
  ['tiny-mixtral', 'F16', 'stacked', 3],
  ['tiny-mixtral', 'BF16', 'per-expert', 3],
  ['tiny-mixtral-f32', 'F32', 'stacked', 2],
  ['tiny-mixtral', 'F16', 'per-expert', 2, 256],
];

for (const [name, type, layout, version, alignment] of VARIANTS) {
  describe(`${name} as a ${type} GGUF v${version}, ${layout} experts${alignment ? `, alignment ${alignment}` : ''}`, () => {
    const ref = reference(name);
    let model;
    before(async () => {
      const file = tmp(`${name}.gguf`);
      await ggufFromFixture(fixture(name), file, { type, layout, version, extraMeta: alignment ? { 'general.alignment': gguf.u32(alignment) } : {} });
      if (alignment) assert.equal((await readGguf(file)).alignment, alignment);
      model = await loadModel(file, { threads: 2 });
    });
    after(async () => { await model.close(); });

    test('config and info from the metadata', () => {
      const c = model.config, h = JSON.parse(readFileSync(join(fixture(name), 'config.json'), 'utf8'));
      assert.deepEqual([c.numLayers, c.hiddenSize, c.intermediateSize, c.numHeads, c.numKvHeads, c.numExperts, c.topK, c.vocabSize],
        [h.num_hidden_layers, h.hidden_size, h.intermediate_size, h.num_attention_heads, h.num_key_value_heads, h.num_local_experts,
          h.num_experts_per_tok, h.vocab_size]);
      assert.equal(c.headDim, h.hidden_size / h.num_attention_heads);
      assert.equal(c.ropeTheta, h.rope_parameters?.rope_theta ?? h.rope_theta);
      assert.equal(c.slidingWindow, null);
      assert.equal(c.dtype, type);
      assert.equal(model.info.format, 'gguf');
      assert.deepEqual(new Set(model.info.dtypes), new Set(type === 'F32' ? ['F32'] : ['F32', type]));
    });

    test('last-position logits within 1e-3 of transformers, argmax per position, greedy decode', async () => {
      const V = model.config.vocabSize;
      for (const c of ref.cases) {
        const all = await model.logits(c.ids, { allLogits: true });
        const last = all.subarray((c.ids.length - 1) * V);
        assert.ok(maxAbsDiff(last, c.last_logits) <= 1e-3, `max |diff| ${maxAbsDiff(last, c.last_logits)}`);
        for (let p = 0; p < c.ids.length; p++) assert.equal(argmax(all.subarray(p * V, (p + 1) * V)), c.top5_per_position[p][0], `position ${p}`);
        const seq = model.createSequence();
        let logits = await seq.eval(c.ids);
        const got = [];
        for (let i = 0; i < c.greedy_new_ids.length; i++) {
          got.push(argmax(logits));
          logits = await seq.eval([got.at(-1)]);
        }
        seq.dispose();
        assert.deepEqual(got, c.greedy_new_ids);
      }
    });

    test('tokenizer and chat template from the metadata', () => {
      // (Encodings are llama.cpp's, checked in gguf-tokenizer.test.mjs: with gguf-py's scores of -1000 for a
      // tokenizer.json-only vocabulary they differ from HF's merges for some texts.)
      assert.equal(model.tokenizer.bosToken, '<s>');
      assert.equal(model.tokenizer.eosToken, '</s>');
      assert.equal(model.tokenizer.decode(model.tokenizer.encode('Hello world')), 'Hello world');
      assert.equal(model.applyChatTemplate([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: true }), '<s> [INST] Hi [/INST]');
    });
  });
}

describe('layouts, folders and big offsets', () => {
  let good, goodG, goodBuf;
  before(async () => {
    good = tmp('good.gguf');
    await ggufFromFixture(fixture('tiny-mixtral'), good, { type: 'F16' });
    goodG = await readGguf(good);
    goodBuf = readFileSync(good);
  });
  /** The good file rewritten: metadata edits (undefined deletes) and tensor list edits. */
  const rewrite = async (edit = {}, tensorsEdit = (t) => t) => {
    const meta = new Map(goodG.metadata);
    for (const [k, v] of Object.entries(edit)) v === undefined ? meta.delete(k) : meta.set(k, v);
    const tensors = tensorsEdit(goodG.tensors.map((t) => ({ name: t.name, type: t.type.name, dims: t.dims, data: goodBuf.subarray(t.offset, t.offset + t.bytes) })));
    const f = tmp();
    await writeGguf(f, { metadata: meta, tensors });
    return f;
  };
  const c0 = () => reference('tiny-mixtral').cases[0];

  test('q/k rows left in HF order give other logits: the pair RoPE mode is what makes them match', async () => {
    const f = tmp();
    await ggufFromFixture(fixture('tiny-mixtral'), f, { type: 'F16' });
    const g = await readGguf(f);
    const buf = readFileSync(f);
    // Undo the converter's permutation: row 2i + j of each head goes back to row j * Hd/2 + i.
    const hfOrder = await rewrite({}, (ts) => ts.map((t) => {
      if (!/attn_[qk]\.weight$/.test(t.name)) return t;
      const info = g.tensorsByName.get(t.name);
      const rows = info.dims[1], rowBytes = info.bytes / rows, heads = t.name.endsWith('attn_q.weight') ? 8 : 2, hd = rows / heads;
      const src = buf.subarray(info.offset, info.offset + info.bytes), out = new Uint8Array(info.bytes);
      for (let h = 0; h < heads; h++) for (let i = 0; i < hd / 2; i++) for (let j = 0; j < 2; j++)
        out.set(src.subarray((h * hd + 2 * i + j) * rowBytes, (h * hd + 2 * i + j + 1) * rowBytes), (h * hd + j * hd / 2 + i) * rowBytes);
      return { ...t, data: out };
    }));
    const m = await loadModel(hfOrder, { threads: 2 });
    const d = maxAbsDiff(await m.logits(c0().ids), c0().last_logits);
    await m.close();
    assert.ok(d > 1e-2, `un-permuted q/k still matched (max |diff| ${d})`);
  });

  test('a folder without config.json holding one .gguf loads it; two are refused with MODEL_AMBIGUOUS', async () => {
    const folder = join(dir, 'folder');
    mkdirSync(folder);
    copyFileSync(good, join(folder, 'model.gguf'));
    const m = await loadModel(folder, { threads: 2 });
    assert.ok(maxAbsDiff(await m.logits(c0().ids), c0().last_logits) <= 1e-3);
    assert.equal(m.info.files[0], join(folder, 'model.gguf'));
    await m.close();
    copyFileSync(good, join(folder, 'other.gguf'));
    await assert.rejects(loadModel(folder), { code: 'MODEL_AMBIGUOUS', file: folder });
  });

  test('a dense llama GGUF (no experts) runs as one expert of weight exactly 1', async () => {
    // Expert 3 of every layer as the dense FFN, and the same model as a 1-expert Mixtral: equal logits.
    const pick = (ts, asMoe) => ts.flatMap((t) => {
      const m = /^blk\.(\d+)\.ffn_(gate|up|down)_exps\.weight$/.exec(t.name);
      if (t.name.endsWith('ffn_gate_inp.weight')) return asMoe ? [{ ...t, dims: [64, 1], data: t.data.subarray(0, 64 * 2) }] : [];
      if (!m) return [t];
      const slab = t.data.length / 8;
      const data = t.data.subarray(3 * slab, 4 * slab);
      return [asMoe ? { ...t, dims: [t.dims[0], t.dims[1], 1], data } : { ...t, name: `blk.${m[1]}.ffn_${m[2]}.weight`, dims: t.dims.slice(0, 2), data }];
    });
    const dense = await rewrite({ 'llama.expert_count': undefined, 'llama.expert_used_count': undefined }, (ts) => pick(ts, false));
    const moe = await rewrite({ 'llama.expert_count': gguf.u32(1), 'llama.expert_used_count': gguf.u32(1) }, (ts) => pick(ts, true));
    const md = await loadModel(dense, { threads: 2 }), mm = await loadModel(moe, { threads: 2 });
    assert.equal(md.config.modelType, 'llama');
    assert.equal(md.config.numExperts, 1);
    assert.equal(md.info.totalParams, mm.info.totalParams - 2 * 64);
    const ids = c0().ids;
    assert.deepEqual(await md.logits(ids, { allLogits: true }), await mm.logits(ids, { allLogits: true }));
    await md.close();
    await mm.close();
  });

  test('a sparse file whose last tensor starts past 4 GiB loads and gives the same logits', async () => {
    const f = await rewrite({}, (ts) => {
      const last = ts.pop();
      return [...ts, { name: 'zz.unused', type: 'F32', dims: [2 ** 30 + 64] }, last]; // 4 GiB of hole
    });
    const g = await readGguf(f);
    assert.ok(g.tensors.at(-1).offset > 2 ** 32, `last offset ${g.tensors.at(-1).offset}`);
    const m = await loadModel(f, { threads: 2 });
    assert.ok(maxAbsDiff(await m.logits(c0().ids), c0().last_logits) <= 1e-3);
    await m.close();
  });

  describe('GGUFs that do not describe a model', () => {
    const refuses = async (f, code, where) => {
      await assert.rejects(loadModel(f, { threads: 1 }), (e) => {
        assert.equal(e.code, code, e.message);
        for (const [k, v] of Object.entries(where)) assert.equal(e[k], v, `${k} in: ${e.message}`);
        return true;
      });
    };
    test('missing keys', async () => {
      for (const key of ['general.architecture', 'llama.block_count', 'llama.embedding_length', 'llama.attention.head_count', 'llama.context_length', 'llama.expert_used_count'])
        await refuses(await rewrite({ [key]: undefined }), 'CONFIG_INVALID', { field: key });
    });
    test('keys of the wrong type or value', async () => {
      await refuses(await rewrite({ 'llama.block_count': gguf.str('2') }), 'CONFIG_INVALID', { field: 'llama.block_count' });
      await refuses(await rewrite({ 'llama.block_count': gguf.u64(2n ** 60n) }), 'CONFIG_INVALID', { field: 'llama.block_count' });
      await refuses(await rewrite({ 'llama.attention.head_count_kv': gguf.u32(3) }), 'CONFIG_INVALID', { field: 'llama.attention.head_count_kv' });
      await refuses(await rewrite({ 'llama.expert_used_count': gguf.u32(9) }), 'CONFIG_INVALID', { field: 'llama.expert_used_count' });
      await refuses(await rewrite({ 'llama.vocab_size': gguf.u32(31999) }), 'CONFIG_INVALID', { field: 'llama.vocab_size' });
      await refuses(await rewrite({ 'llama.context_length': gguf.u64(2n ** 40n) }), 'CONFIG_INVALID', { field: 'llama.context_length' });
      await refuses(await rewrite({ 'llama.embedding_length': gguf.u32(0) }), 'CONFIG_INVALID', { field: 'llama.embedding_length' });
      await refuses(await rewrite({ 'llama.expert_count': gguf.i32(-8) }), 'CONFIG_INVALID', { field: 'llama.expert_count' });
      await refuses(await rewrite({ 'tokenizer.ggml.bos_token_id': gguf.u32(32000) }), 'TOKENIZER_INVALID', { field: 'tokenizer.ggml.bos_token_id' });
    });
    test('architectures and features smoe does not run', async () => {
      await refuses(await rewrite({ 'general.architecture': gguf.str('qwen2') }), 'UNSUPPORTED_MODEL', { field: 'general.architecture' });
      await refuses(await rewrite({ 'llama.rope.scaling.type': gguf.str('yarn') }), 'UNSUPPORTED_MODEL', { field: 'llama.rope.scaling.type' });
      await refuses(await rewrite({ 'llama.rope.dimension_count': gguf.u32(4) }), 'UNSUPPORTED_MODEL', { field: 'llama.rope.dimension_count' });
      await refuses(await rewrite({ 'tokenizer.ggml.model': gguf.str('t5') }), 'TOKENIZER_INVALID', { field: 'tokenizer.ggml.model' });
    });
    test('missing tensors, in both expert layouts', async () => {
      for (const name of ['token_embd.weight', 'output_norm.weight', 'blk.1.attn_k.weight', 'blk.0.ffn_gate_inp.weight', 'blk.1.ffn_down_exps.weight'])
        await refuses(await rewrite({}, (ts) => ts.filter((t) => t.name !== name)), 'TENSOR_MISSING', { tensor: name });
      const per = tmp();
      await ggufFromFixture(fixture('tiny-mixtral'), per, { type: 'F16', layout: 'per-expert' });
      const pg = await readGguf(per), pb = readFileSync(per);
      const f = tmp();
      await writeGguf(f, { metadata: pg.metadata, tensors: pg.tensors.filter((t) => t.name !== 'blk.1.ffn_up.7.weight')
        .map((t) => ({ name: t.name, type: t.type.name, dims: t.dims, data: pb.subarray(t.offset, t.offset + t.bytes) })) });
      await refuses(f, 'TENSOR_MISSING', { tensor: 'blk.1.ffn_up.7.weight' });
    });
    test('tensors of the wrong shape', async () => {
      await refuses(await rewrite({}, (ts) => ts.map((t) => (t.name === 'blk.0.attn_v.weight' ? { ...t, dims: [16, 64] } : t))), 'TENSOR_SHAPE', { tensor: 'blk.0.attn_v.weight' });
      await refuses(await rewrite({}, (ts) => ts.map((t) => (t.name === 'blk.0.ffn_up_exps.weight' ? { ...t, dims: [64, 96 * 8] } : t))), 'TENSOR_SHAPE', { tensor: 'blk.0.ffn_up_exps.weight' });
    });
    test('a ggml type smoe does not compute with is UNSUPPORTED_QUANT naming tensor and type', async () => {
      const f = await rewrite({}, (ts) => ts.map((t) => (t.name === 'blk.1.attn_q.weight' ? { name: t.name, type: 'IQ4_NL', dims: t.dims, data: new Uint8Array(64 / 32 * 18 * 64) } : t)));
      await assert.rejects(loadModel(f), { code: 'UNSUPPORTED_QUANT', tensor: 'blk.1.attn_q.weight', message: /IQ4_NL/ });
    });
    test('a file that is not GGUF and a GGUF that is not there', async () => {
      await refuses(join(fixture('tiny-mixtral'), 'config.json'), 'UNSUPPORTED_MODEL', {});
      await refuses(join(dir, 'missing.gguf'), 'FILE_MISSING', {});
    });
  });
});
