// model.generate() / model.chat(): greedy decoding against transformers' greedy continuations in the
// fixtures, streamed text against the tokenizer's decode, seeding, stop tokens and strings, abort,
// concurrent generations, router traces, and option checks.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { loadModel } from '../dist/index.js';
import { fixture, MODELS, reference } from './helpers.mjs';

const GREEDY = { temperature: 0, maxTokens: 16, ignoreEos: true };
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Runs a generation to its end through `for await`; returns { pieces, text, result }. */
async function collect(gen) {
  const pieces = [];
  for await (const p of gen) pieces.push(p);
  return { pieces, text: pieces.map((p) => p.text).join(''), result: await gen.result };
}

for (const name of MODELS) {
  describe(`${name}: greedy generation reproduces transformers`, () => {
    const ref = reference(name);
    let model;
    before(async () => { model = await loadModel(fixture(name), { threads: 2 }); });
    after(async () => { await model.close(); });

    ref.cases.forEach((c, ci) => {
      if (c.prompt !== undefined) {
        test(`prompt case ${ci}: tokens, streamed text and result`, async () => {
          const { pieces, text, result } = await collect(model.generate(c.prompt, GREEDY));
          assert.deepEqual(result.tokens, c.greedy_new_ids);
          assert.deepEqual(pieces.flatMap((p) => p.tokens), c.greedy_new_ids);
          assert.equal(text, model.tokenizer.decode(c.greedy_new_ids));
          assert.equal(result.text, text);
          for (const p of pieces) assert.ok(!LONE_SURROGATE.test(p.text), `piece ${JSON.stringify(p.text)} splits a character`);
          assert.equal(result.finishReason, 'length');
          assert.equal(result.stopReason, undefined);
          assert.equal(result.promptTokens, c.ids.length);
          assert.equal(result.generatedTokens, 16);
          assert.ok(result.prefillTokensPerSecond > 0 && result.decodeTokensPerSecond > 0);
        });
        test(`prompt case ${ci}: token ids as the prompt; topK 1 sampling is greedy`, async () => {
          assert.deepEqual((await model.generate(c.ids, GREEDY).result).tokens, c.greedy_new_ids);
          const topK1 = await model.generate(c.prompt, { temperature: 1.3, topK: 1, seed: 99, maxTokens: 16, ignoreEos: true }).result;
          assert.deepEqual(topK1.tokens, c.greedy_new_ids);
        });
      } else {
        test(`chat case ${ci}: model.chat() continues the rendered conversation`, async () => {
          const { text, result } = await collect(model.chat(c.chat, GREEDY));
          assert.deepEqual(result.tokens, c.greedy_new_ids);
          assert.equal(result.promptTokens, c.ids.length);
          assert.equal(text, model.tokenizer.decode(c.greedy_new_ids));
        });
      }
    });
  });
}

describe('generation behaviour (tiny-mixtral)', () => {
  const ref = reference('tiny-mixtral');
  const c0 = ref.cases[0], c1 = ref.cases[1], c2 = ref.cases[2];
  let model;
  before(async () => { model = await loadModel(fixture('tiny-mixtral'), { threads: 2 }); });
  after(async () => { await model.close(); });

  /** Captures the Sequence the next generate() creates. */
  function captureSequence() {
    const box = {};
    const orig = model.createSequence;
    model.createSequence = (o) => { delete model.createSequence; box.seq = orig.call(model, o); return box.seq; };
    return box;
  }

  test('seeded sampling is reproducible; different seeds differ', async () => {
    const run = (seed) => model.generate(c0.prompt, { temperature: 1, topK: 0, seed, maxTokens: 16, ignoreEos: true }).result;
    const [a, b, c] = await Promise.all([run(1), run(1), run(2)]);
    assert.deepEqual(a.tokens, b.tokens);
    assert.equal(a.text, b.text);
    assert.notDeepEqual(a.tokens, c.tokens);
    assert.notDeepEqual(a.tokens, c0.greedy_new_ids);
  });

  test('EOS ends the generation unless ignoreEos; it is not part of the output', async () => {
    const eos = model.tokenizer.eosId;
    const stopped = await model.generate(c0.prompt, { temperature: 0, logitBias: { [eos]: 1000 } }).result;
    assert.deepEqual({ tokens: stopped.tokens, text: stopped.text, finishReason: stopped.finishReason, stopReason: stopped.stopReason, generatedTokens: stopped.generatedTokens },
      { tokens: [], text: '', finishReason: 'stop', stopReason: { type: 'eos', value: eos }, generatedTokens: 1 });
    const ignored = await model.generate(c0.prompt, { temperature: 0, logitBias: { [eos]: 1000 }, ignoreEos: true, maxTokens: 3 }).result;
    assert.deepEqual(ignored.tokens, [eos, eos, eos]);
    assert.equal(ignored.finishReason, 'length');
  });

  test('stopTokens end the generation at that token', async () => {
    const g = c0.greedy_new_ids;
    const at = 4;
    assert.equal(g.indexOf(g[at]), at);
    const r = await model.generate(c0.prompt, { ...GREEDY, stopTokens: [g[at]] }).result;
    assert.deepEqual(r.tokens, g.slice(0, at));
    assert.deepEqual(r.stopReason, { type: 'token', value: g[at] });
    assert.equal(r.text, model.tokenizer.decode(g.slice(0, at)));
    assert.equal(r.generatedTokens, at + 1);
  });

  test('stop strings are found across token boundaries and not emitted', async () => {
    const g = c0.greedy_new_ids;
    const tok = model.tokenizer;
    const full = tok.decode(g);
    // A stop string spanning the boundary between tokens 5 and 6 (3 chars of each side).
    const cut = tok.decode(g.slice(0, 6)).length;
    const stop = full.slice(cut - 3, cut + 3);
    assert.ok(tok.decode(g.slice(0, 6)).indexOf(stop) === -1, 'the stop string must span two tokens');
    const expected = full.slice(0, full.indexOf(stop));
    const { pieces, text, result } = await collect(model.generate(c0.prompt, { ...GREEDY, stop: ['never-there', stop] }));
    assert.equal(text, expected);
    assert.equal(result.text, expected);
    assert.equal(result.finishReason, 'stop');
    assert.deepEqual(result.stopReason, { type: 'string', value: stop });
    assert.deepEqual(result.tokens, g.slice(0, 7));
    assert.deepEqual(pieces.flatMap((p) => p.tokens), g.slice(0, 7));
    // a string that starts like the text but never completes is held back, then released in full
    const near = full.slice(cut - 3, cut) + '\u0000';
    const r2 = await collect(model.generate(c0.prompt, { ...GREEDY, stop: near }));
    assert.equal(r2.text, full);
    assert.equal(r2.result.finishReason, 'length');
  });

  test('an AbortSignal stops within one token and disposes the sequence', async () => {
    const ac = new AbortController();
    const box = captureSequence();
    const gen = model.generate(c1.prompt, { ...GREEDY, maxTokens: 200, signal: ac.signal });
    let seen = 0;
    for await (const p of gen) {
      seen += p.tokens.length;
      if (seen >= 3 && !ac.signal.aborted) ac.abort();
    }
    const r = await gen.result;
    assert.equal(r.finishReason, 'abort');
    assert.ok(r.tokens.length >= 3 && r.tokens.length <= 4, `${r.tokens.length} tokens after aborting at 3`);
    assert.deepEqual(r.tokens, c1.greedy_new_ids.slice(0, r.tokens.length));
    await assert.rejects(box.seq.eval([1]), (e) => e.code === 'SEQUENCE_DISPOSED');
    const pre = await model.generate(c1.prompt, { signal: AbortSignal.abort() }).result;
    assert.deepEqual({ finishReason: pre.finishReason, tokens: pre.tokens, generatedTokens: pre.generatedTokens }, { finishReason: 'abort', tokens: [], generatedTokens: 0 });
  });

  test('breaking out of for await stops the generation and disposes the sequence', async () => {
    const box = captureSequence();
    const gen = model.generate(c1.prompt, { ...GREEDY, maxTokens: 500 });
    for await (const p of gen) if (p.tokens.length) break;
    const r = await gen.result;
    assert.equal(r.finishReason, 'abort');
    assert.ok(r.tokens.length < 500);
    await assert.rejects(box.seq.eval([1]), (e) => e.code === 'SEQUENCE_DISPOSED');
    assert.throws(() => gen[Symbol.asyncIterator](), /only be iterated once/);
  });

  test('two generations on one model, driven together, match their solo runs', async () => {
    const sampled = { temperature: 0.9, topP: 0.95, seed: 5, maxTokens: 16, ignoreEos: true };
    const solo = (await model.generate(c2.prompt, sampled).result).tokens;
    const [a, b, c] = await Promise.all([
      collect(model.generate(c0.prompt, GREEDY)),
      collect(model.generate(c2.prompt, sampled)),
      collect(model.generate(c1.prompt, GREEDY)),
    ]);
    assert.deepEqual(a.result.tokens, c0.greedy_new_ids);
    assert.deepEqual(c.result.tokens, c1.greedy_new_ids);
    assert.deepEqual(b.result.tokens, solo);
  });

  test('result and text() work without iterating', async () => {
    const gen = model.generate(c0.prompt, GREEDY);
    assert.equal(await gen.text(), model.tokenizer.decode(c0.greedy_new_ids));
  });

  test('routerTrace attaches each token\'s per-layer experts and weights', async () => {
    const { pieces, result } = await collect(model.generate(c0.prompt, { ...GREEDY, routerTrace: true }));
    const steps = pieces.flatMap((p) => { assert.equal(p.router.length, p.tokens.length); return p.router; });
    assert.equal(steps.length, 16);
    // the same positions evaluated on a plain sequence
    const seq = model.createSequence({ routerTrace: true });
    await seq.eval([...c0.ids, ...c0.greedy_new_ids]);
    steps.forEach((s, i) => {
      assert.equal(s.token, result.tokens[i]);
      assert.equal(s.position, c0.ids.length + i);
      assert.equal(s.layers.length, model.config.numLayers);
      s.layers.forEach((l, li) => {
        assert.deepEqual(l.experts, seq.routerTrace[c0.ids.length + i].layers[li].experts);
        assert.ok(Math.abs(l.weights.reduce((x, y) => x + y, 0) - 1) < 1e-5);
      });
    });
    seq.dispose();
  });

  test('sampled text streams in pieces whose concatenation equals decode', async () => {
    for (const seed of [1, 2, 3]) {
      const { pieces, text, result } = await collect(model.generate(c2.prompt, { temperature: 1.5, topK: 0, seed, maxTokens: 24, ignoreEos: true }));
      assert.equal(text, model.tokenizer.decode(result.tokens));
      for (const p of pieces) assert.ok(!LONE_SURROGATE.test(p.text));
    }
  });

  test('every invalid option is INVALID_OPTION naming it', () => {
    const cases = [
      [{ maxTokens: -1 }, 'maxTokens'], [{ maxTokens: 0 }, 'maxTokens'], [{ maxTokens: 2.5 }, 'maxTokens'], [{ maxTokens: '4' }, 'maxTokens'],
      [{ temperature: -0.1 }, 'temperature'], [{ temperature: NaN }, 'temperature'], [{ temperature: '1' }, 'temperature'], [{ temperature: Infinity }, 'temperature'],
      [{ topK: -1 }, 'topK'], [{ topK: 1.5 }, 'topK'],
      [{ topP: 0 }, 'topP'], [{ topP: 1.01 }, 'topP'], [{ topP: -0.5 }, 'topP'],
      [{ minP: -0.1 }, 'minP'], [{ minP: 1.5 }, 'minP'],
      [{ repeatPenalty: 0 }, 'repeatPenalty'], [{ repeatPenalty: -1 }, 'repeatPenalty'],
      [{ frequencyPenalty: 3 }, 'frequencyPenalty'], [{ presencePenalty: -2.5 }, 'presencePenalty'], [{ presencePenalty: null }, 'presencePenalty'],
      [{ logitBias: [] }, 'logitBias'], [{ logitBias: { abc: 1 } }, 'logitBias'], [{ logitBias: { 5: 'x' } }, 'logitBias'],
      [{ logitBias: { 5: NaN } }, 'logitBias'], [{ logitBias: { 32000: 1 } }, 'logitBias'],
      [{ seed: -1 }, 'seed'], [{ seed: 1.5 }, 'seed'], [{ seed: '7' }, 'seed'],
      [{ stop: 5 }, 'stop'], [{ stop: [''] }, 'stop'], [{ stop: ['a', 3] }, 'stop'], [{ stop: '' }, 'stop'],
      [{ stopTokens: [-1] }, 'stopTokens'], [{ stopTokens: [32000] }, 'stopTokens'], [{ stopTokens: 'x' }, 'stopTokens'], [{ stopTokens: [1.5] }, 'stopTokens'],
      [{ ignoreEos: 'yes' }, 'ignoreEos'], [{ signal: {} }, 'signal'], [{ routerTrace: 1 }, 'routerTrace'],
      [{ max_tokens: 5 }, 'max_tokens'], ['fast', 'options'],
    ];
    for (const [o, field] of cases) {
      for (const call of [() => model.generate('hi', o), () => model.chat([{ role: 'user', content: 'hi' }], o)])
        assert.throws(call, (e) => {
          assert.equal(e.name, 'InvalidArgumentError', `${JSON.stringify(o)}: ${e.name} ${e.message}`);
          assert.equal(e.code, 'INVALID_OPTION', JSON.stringify(o));
          assert.equal(e.field, field, `${JSON.stringify(o)}: ${e.message}`);
          return true;
        });
    }
  });

  test('bad prompts are rejected at once', () => {
    assert.throws(() => model.generate(42), (e) => e.code === 'INVALID_ARGUMENT');
    assert.throws(() => model.generate([]), (e) => e.code === 'EMPTY_INPUT');
    assert.throws(() => model.generate([1, 32000]), (e) => e.code === 'TOKEN_OUT_OF_RANGE');
    assert.throws(() => model.generate(new Array(4096).fill(5)), (e) => e.code === 'CONTEXT_OVERFLOW');
  });
});

test('a generation running when the model closes rejects with MODEL_CLOSED', async () => {
  const model = await loadModel(fixture('tiny-mixtral'), { threads: 1 });
  const gen = model.generate(reference('tiny-mixtral').cases[0].prompt, { ...GREEDY, maxTokens: 1000 });
  const it = gen[Symbol.asyncIterator]();
  await it.next();
  await model.close();
  await assert.rejects(gen.result, (e) => e.code === 'MODEL_CLOSED' || e.code === 'SEQUENCE_DISPOSED');
  assert.throws(() => model.generate('x'), (e) => e.code === 'MODEL_CLOSED');
});
