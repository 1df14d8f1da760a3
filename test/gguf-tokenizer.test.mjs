// Tokenizers from GGUF metadata against llama.cpp: the Mistral vocabulary written as llama.cpp's converter
// writes it, against llama-tokenize's ids for the 45 shared strings (both modes); llama.cpp's own SPM and
// GPT-2 vocab test files against their expected ids; decoding and streaming; bad tokenizer metadata.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { ggufTokenizer } from '../dist/gguf-tokenizer.js';
import { readGguf } from '../dist/load/gguf.js';
import { gguf, writeGguf } from '../dist/load/gguf-write.js';
import { mistralVocabGguf } from './gguf-helpers.mjs';
import { FIXTURES } from './helpers.mjs';

const dir = mkdtempSync(join(tmpdir(), 'smoe-gguf-tok-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const GG = join(FIXTURES, 'gguf');

/** llama.cpp's test-tokenizer-0 files: texts split on the separator, one line of ids per text. */
function llamaCases(file) {
  const inp = readFileSync(`${file}.inp`, 'utf8').split('\n__ggml_vocab_test__\n');
  const out = readFileSync(`${file}.out`, 'utf8').split('\n');
  assert.equal(inp.length, out.length);
  return inp.map((text, i) => ({ text, ids: out[i].trim() === '' ? [] : out[i].trim().split(/\s+/).map(Number) }));
}

describe('the Mistral vocabulary in a GGUF, against llama-tokenize', () => {
  const ref = JSON.parse(readFileSync(join(GG, 'mistral-vocab-llama-tokenize.json'), 'utf8'));
  let tok;
  before(async () => {
    const f = join(dir, 'mistral-vocab.gguf');
    await mistralVocabGguf(join(FIXTURES, 'mistral-tokenizer.json'), f);
    tok = ggufTokenizer(await readGguf(f));
  });

  test('all 45 strings: encode() equals llama-tokenize (BOS, special tokens parsed)', () => {
    assert.equal(ref.vectors.length, 45);
    for (const v of ref.vectors) assert.deepEqual(tok.encode(v.text), v.ids, JSON.stringify(v.text));
  });

  test('all 45 strings without BOS and special-token parsing equal llama-tokenize --no-bos --no-parse-special', () => {
    for (const v of ref.vectors) assert.deepEqual(tok.encodeLlama(v.text, false, false), v.raw, JSON.stringify(v.text));
    // The two modes differ where the text holds a special token.
    const s = ref.vectors.find((v) => v.text.includes('<s>'));
    assert.notDeepEqual(tok.encodeLlama(s.text, false, true), s.raw);
  });

  test('BOS/EOS, flags and decoding', () => {
    assert.equal(tok.bosId, 1);
    assert.equal(tok.eosId, 2);
    assert.equal(tok.unkId, 0);
    assert.equal(tok.addBosToken, true);
    assert.equal(tok.vocabSize, 32000);
    for (const v of ref.vectors) {
      // Decoding skips special tokens: the one text that spells <s> and </s> loses them.
      const want = v.text.includes('<s>') ? v.text.replace('<s>', '').replace('</s>', '') : v.text;
      assert.equal(tok.decode(v.ids), want, JSON.stringify(v.text));
    }
    const ids = tok.encode('Grüße 🦙!', { addSpecialTokens: false });
    const s = tok.createStreamDecoder();
    assert.equal(ids.map((id) => s.push(id)).join('') + s.flush(), tok.decode(ids));
  });
});

test("llama.cpp's SPM vocab test (ggml-vocab-llama-spm.gguf): every case", async () => {
  const tok = ggufTokenizer(await readGguf(join(GG, 'ggml-vocab-llama-spm.gguf')));
  const cases = llamaCases(join(GG, 'ggml-vocab-llama-spm.gguf'));
  assert.ok(cases.length > 40);
  for (const c of cases) assert.deepEqual(tok.encodeLlama(c.text, false, false), c.ids, JSON.stringify(c.text));
});

test("llama.cpp's GPT-2 vocab test (ggml-vocab-gpt-2.gguf): every case, decode and streaming", async () => {
  const tok = ggufTokenizer(await readGguf(join(GG, 'ggml-vocab-gpt-2.gguf')));
  const cases = llamaCases(join(GG, 'ggml-vocab-gpt-2.gguf'));
  assert.ok(cases.length > 40);
  for (const c of cases) {
    assert.deepEqual(tok.encode(c.text, { addSpecialTokens: false }), c.ids, JSON.stringify(c.text));
    assert.equal(tok.decode(c.ids), c.text, JSON.stringify(c.text));
    const s = tok.createStreamDecoder();
    assert.equal(c.ids.map((id) => s.push(id)).join('') + s.flush(), c.text);
  }
});

describe('tokenizer metadata that cannot be used', () => {
  const base = {
    'general.architecture': gguf.str('llama'),
    'tokenizer.ggml.model': gguf.str('llama'),
    'tokenizer.ggml.tokens': gguf.arr('string', ['<unk>', '<s>', '</s>', 'a', '\u2581', '\u2581a']),
    'tokenizer.ggml.scores': gguf.arr('f32', [0, 0, 0, -1, -2, -3]),
    'tokenizer.ggml.token_type': gguf.arr('i32', [2, 3, 3, 1, 1, 1]),
    'tokenizer.ggml.bos_token_id': gguf.u32(1),
  };
  let n = 0;
  const file = async (edit) => {
    const f = join(dir, `bad-${n++}.gguf`);
    const meta = { ...base, ...edit };
    for (const k of Object.keys(meta)) if (meta[k] === undefined) delete meta[k];
    await writeGguf(f, { metadata: meta, tensors: [] });
    return readGguf(f);
  };
  const refuses = async (edit, field) => {
    const g = await file(edit);
    assert.throws(() => ggufTokenizer(g), (e) => e.code === 'TOKENIZER_INVALID' && e.field === field && e.file === g.file);
  };
  test('a good minimal vocabulary loads; none is null', async () => {
    const tok = ggufTokenizer(await file({}));
    assert.deepEqual(tok.encode('a a'), [1, 5, 5]);
    assert.throws(() => tok.encode('é'), { code: 'TOKENIZER_INPUT' }); // no byte tokens (llama.cpp throws too)
    assert.equal(ggufTokenizer(await file({ 'tokenizer.ggml.model': undefined })), null);
    // Absent special ids take llama.cpp's SPM defaults: unk 0, bos 1, eos 2.
    const d = ggufTokenizer(await file({ 'tokenizer.ggml.bos_token_id': undefined }));
    assert.deepEqual([d.unkId, d.bosId, d.eosId, d.addBosToken], [0, 1, 2, true]);
  });
  test('each fault names its key', async () => {
    await refuses({ 'tokenizer.ggml.model': gguf.str('bert') }, 'tokenizer.ggml.model');
    await refuses({ 'tokenizer.ggml.scores': gguf.arr('f32', [0, 0]) }, 'tokenizer.ggml.scores');
    await refuses({ 'tokenizer.ggml.token_type': gguf.arr('i32', [1]) }, 'tokenizer.ggml.token_type');
    await refuses({ 'tokenizer.ggml.bos_token_id': gguf.u32(6) }, 'tokenizer.ggml.bos_token_id');
    await refuses({ 'tokenizer.ggml.tokens': gguf.arr('string', ['<unk>']), 'tokenizer.ggml.scores': undefined, 'tokenizer.ggml.token_type': undefined,
      'tokenizer.ggml.bos_token_id': undefined }, 'tokenizer.ggml.bos_token_id'); // add_bos, and no id 1 to default to
    await refuses({ 'tokenizer.ggml.model': gguf.str('gpt2'), 'tokenizer.ggml.merges': gguf.arr('string', []), 'tokenizer.ggml.pre': gguf.str('qwen2') }, 'tokenizer.ggml.pre');
  });
  test('keys of the wrong type are CONFIG_INVALID naming the key', async () => {
    const g = await file({ 'tokenizer.ggml.tokens': gguf.arr('i32', [1, 2]) });
    assert.throws(() => ggufTokenizer(g), { code: 'CONFIG_INVALID', field: 'tokenizer.ggml.tokens' });
  });
});
