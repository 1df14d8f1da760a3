// The packaged demo model (models/demo, trained by tools/train-tiny on the CPU) against its PyTorch reference
// (tools/train-tiny/make_reference.py: model.py in float32 on the stored bf16 weights; model.py reproduces
// transformers' MixtralForCausalLM on the shared fixtures, tools/train-tiny/check_equivalence.py): held-out
// perplexity with the chunking of tools/train-tiny/common.py, and greedy continuations per language.
// Skips only when models/demo is missing (a checkout that has not trained it).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { defaultModelDir, loadModel, SmoeError } from '../dist/index.js';
import { logsumexp } from './helpers.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DEMO = join(ROOT, 'models', 'demo');
const HELDOUT = join(ROOT, 'tools', 'train-tiny', 'corpus', 'heldout.txt');
const trained = existsSync(join(DEMO, 'config.json')) && existsSync(join(DEMO, 'reference.json'));
const skip = trained ? false : 'models/demo is missing (train it: tools/train-tiny/README.md)';

test('defaultModelDir(): the packaged demo model, else MODEL_REQUIRED', () => {
  if (existsSync(join(DEMO, 'config.json'))) {
    assert.equal(defaultModelDir(), DEMO);
  } else {
    assert.throws(() => defaultModelDir(), (e) => e instanceof SmoeError && e.code === 'MODEL_REQUIRED' && /--model/.test(e.message));
  }
});

describe('demo model', () => {
  let model, ref;
  before(async () => {
    if (!trained) return;
    ref = JSON.parse(readFileSync(join(DEMO, 'reference.json'), 'utf8'));
    model = await loadModel(DEMO);
  });
  after(async () => { await model?.close(); });

  test('held-out perplexity within 0.5% of PyTorch\'s (reference.json)', { skip }, async () => {
    const { seq_len: L, windows: n } = ref.heldout;
    let text = readFileSync(HELDOUT, 'utf8');
    if (text.endsWith('\n')) text = text.slice(0, -1);
    const tok = model.tokenizer;
    const stream = [];
    for (const entry of text.split('\n%\n')) stream.push(tok.bosId, ...tok.encode(entry, { addSpecialTokens: false }), tok.eosId);
    assert.ok(stream.length >= n * L, `the held-out text gives ${Math.floor(stream.length / L)} windows, the reference used ${n}`);
    assert.deepEqual(stream.slice(0, L), ref.heldout.first_window_ids, 'the first window\'s ids (chunking or tokenizer mismatch)');
    const V = model.config.vocabSize;
    let total = 0;
    for (let w = 0; w < n; w++) {
      const ids = stream.slice(w * L, (w + 1) * L);
      const logits = await model.logits(ids, { allLogits: true });
      let nll = 0;
      for (let p = 0; p < L - 1; p++) {
        const row = logits.subarray(p * V, (p + 1) * V);
        nll += logsumexp(row) - row[ids[p + 1]];
      }
      total += nll / (L - 1);
    }
    const ppl = Math.exp(total / n);
    const want = ref.heldout.perplexity;
    assert.ok(Math.abs(ppl - want) / want <= 0.005, `smoe ${ppl.toFixed(4)} vs PyTorch ${want.toFixed(4)}`);
  });

  test('greedy continuations equal PyTorch\'s in every language', { skip }, async () => {
    for (const c of ref.greedy) {
      assert.deepEqual(model.tokenizer.encode(c.prompt), c.ids, `encoding of ${JSON.stringify(c.prompt)}`);
      const r = await model.generate(c.prompt, { temperature: 0, maxTokens: c.greedy_new_ids.length, ignoreEos: true }).result;
      assert.deepEqual(r.tokens, c.greedy_new_ids, `[${c.language}] ${JSON.stringify(c.prompt)}`);
    }
  });
});
