// Chat templates against transformers' apply_chat_template output in the fixtures, the template's
// raise_exception, bad messages, and model folders without a template, a tokenizer or with a
// generation_config.json that sets defaults.
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { ChatTemplate, loadModel } from '../dist/index.js';
import { copyModel, fixture, MODELS, reference } from './helpers.mjs';

/** Asserts that fn() throws a SmoeError with this code (and a message matching re). */
function throwsCode(fn, code, re) {
  assert.throws(fn, (e) => {
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    assert.ok(e instanceof Error && ['SmoeError', 'InvalidArgumentError', 'ModelLoadError'].includes(e.name), e.name);
    if (re) assert.match(e.message, re);
    return true;
  });
}

for (const name of MODELS) {
  describe(`${name}: chat template`, () => {
    const ref = reference(name);
    const chats = ref.cases.filter((c) => c.chat);
    let model;
    before(async () => { model = await loadModel(fixture(name), { threads: 1 }); });
    after(async () => { await model.close(); });

    test('the fixture has chat cases', () => assert.ok(chats.length > 0));

    chats.forEach((c, i) => {
      test(`chat case ${i}: rendering equals transformers' text and encodes to its ids`, () => {
        const text = model.applyChatTemplate(c.chat);
        assert.equal(text, c.text);
        assert.equal(model.applyChatTemplate(c.chat, { addGenerationPrompt: true }), c.text); // this template ignores it
        assert.deepEqual(model.tokenizer.encode(text, { addSpecialTokens: false }), c.ids);
      });
    });
  });
}

describe('chat template behaviour (tiny-mixtral)', () => {
  let model;
  before(async () => { model = await loadModel(fixture('tiny-mixtral'), { threads: 1 }); });
  after(async () => { await model.close(); });

  test('a multi-turn conversation uses bos_token and eos_token', () => {
    const text = model.applyChatTemplate([
      { role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'user', content: 'c' },
    ], { addGenerationPrompt: true });
    assert.equal(text, '<s> [INST] a [/INST] b</s> [INST] c [/INST]');
  });

  test("raise_exception surfaces as CHAT_TEMPLATE with the template's message", () => {
    throwsCode(() => model.applyChatTemplate([{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }]),
      'CHAT_TEMPLATE', /conversation roles must alternate user\/assistant/);
    throwsCode(() => model.applyChatTemplate([{ role: 'user', content: 'a' }, { role: 'tool', content: 'b' }]),
      'CHAT_TEMPLATE', /Only user and assistant roles are supported/);
    throwsCode(() => model.chat([{ role: 'assistant', content: 'a' }]), 'CHAT_TEMPLATE', /must alternate/);
  });

  test('malformed messages are INVALID_ARGUMENT', () => {
    for (const bad of [undefined, 'hi', {}, [], [null], ['hi'], [{ role: 'user' }], [{ content: 'x' }],
      [{ role: 'user', content: 5 }], [{ role: 7, content: 'x' }], [{ role: '', content: 'x' }], [{ role: 'user', content: ['x'] }]])
      throwsCode(() => model.applyChatTemplate(bad), 'INVALID_ARGUMENT');
    throwsCode(() => model.applyChatTemplate([{ role: 'user', content: 'x' }], { addGenerationPrompt: 'yes' }), 'INVALID_OPTION');
  });

  test('template syntax and render errors are CHAT_TEMPLATE', () => {
    throwsCode(() => new ChatTemplate('{% for m in messages %}{{ m.content }}'), 'CHAT_TEMPLATE', /syntax error/);
    throwsCode(() => new ChatTemplate('{{ messages | nosuchfilter }}').render([{ role: 'user', content: 'x' }]), 'CHAT_TEMPLATE', /failed to render/);
    const t = new ChatTemplate("{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}");
    assert.equal(t.render([{ role: 'user', content: 'hi' }], { addGenerationPrompt: true }), '<user>hi<assistant>');
    throwsCode(() => new ChatTemplate('{{ raise_exception("nope " + messages[0].role) }}').render([{ role: 'user', content: '' }]),
      'CHAT_TEMPLATE', /raised an exception: nope user/);
  });
});

describe('model folders with other files', () => {
  let copy;
  before(() => { copy = copyModel('tiny-mixtral-sliding'); });
  after(() => copy.cleanup());
  const ref = reference('tiny-mixtral-sliding');

  test('no chat_template: CHAT_TEMPLATE_MISSING', async () => {
    const file = join(copy.dir, 'tokenizer_config.json');
    const original = readFileSync(file, 'utf8');
    const cfg = JSON.parse(original);
    delete cfg.chat_template;
    writeFileSync(file, JSON.stringify(cfg));
    try {
      const m = await loadModel(copy.dir, { threads: 1 });
      throwsCode(() => m.applyChatTemplate([{ role: 'user', content: 'x' }]), 'CHAT_TEMPLATE_MISSING');
      throwsCode(() => m.chat([{ role: 'user', content: 'x' }]), 'CHAT_TEMPLATE_MISSING');
      await m.close();
    } finally {
      writeFileSync(file, original);
    }
  });

  test('generation_config.json defaults apply and call options override them', async () => {
    const file = join(copy.dir, 'generation_config.json');
    const original = readFileSync(file, 'utf8');
    writeFileSync(file, JSON.stringify({ ...JSON.parse(original), do_sample: false, temperature: 0.6, max_new_tokens: 5, eos_token_id: [2, 9999] }));
    try {
      const m = await loadModel(copy.dir, { threads: 1 });
      assert.deepEqual({ ...m.generationDefaults }, { doSample: false, temperature: 0.6, maxTokens: 5, eosTokenIds: [2, 9999] });
      const c = ref.cases[0];
      // do_sample false: greedy; max_new_tokens 5.
      const r = await m.generate(c.prompt).result;
      assert.deepEqual(r.tokens, c.greedy_new_ids.slice(0, 5));
      assert.equal(r.finishReason, 'length');
      const r8 = await m.generate(c.prompt, { maxTokens: 8 }).result;
      assert.deepEqual(r8.tokens, c.greedy_new_ids.slice(0, 8));
      // an EOS id from generation_config.json stops the generation
      const biased = await m.generate(c.prompt, { logitBias: { 9999: 1000 } }).result;
      assert.deepEqual({ tokens: biased.tokens, finishReason: biased.finishReason, stopReason: biased.stopReason },
        { tokens: [], finishReason: 'stop', stopReason: { type: 'eos', value: 9999 } });
      await m.close();
    } finally {
      writeFileSync(file, original);
    }
  });

  test('a bad generation_config.json is CONFIG_INVALID naming the field', async () => {
    const file = join(copy.dir, 'generation_config.json');
    const original = readFileSync(file, 'utf8');
    writeFileSync(file, JSON.stringify({ top_p: 3 }));
    try {
      await assert.rejects(loadModel(copy.dir), (e) => e.code === 'CONFIG_INVALID' && e.field === 'top_p' && /generation_config/.test(e.message));
    } finally {
      writeFileSync(file, original);
    }
  });

  test('no tokenizer.json: TOKENIZER_MISSING for text APIs, token APIs still work', async () => {
    rmSync(join(copy.dir, 'tokenizer.json'));
    const m = await loadModel(copy.dir, { threads: 1 });
    assert.equal(m.hasTokenizer, false);
    throwsCode(() => m.tokenizer, 'TOKENIZER_MISSING');
    throwsCode(() => m.generate('hello'), 'TOKENIZER_MISSING');
    throwsCode(() => m.applyChatTemplate([{ role: 'user', content: 'x' }]), 'TOKENIZER_MISSING');
    throwsCode(() => m.chat([{ role: 'user', content: 'x' }]), 'TOKENIZER_MISSING');
    assert.equal((await m.logits(ref.cases[0].ids)).length, 32000);
    await m.close();
  });
});
