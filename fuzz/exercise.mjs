// What a fuzz case does with its model folder: load it, then use every part a caller would (tokenizer,
// chat template, logits, a short generation with the folder's generation defaults), and close it. The
// outcome is 'loaded' when all of it worked, 'typed' for a SmoeError / TokenizerError (with its code and
// the stage), 'untyped' for any other exception: bad input must give a typed error.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { loadModel, SmoeError, TokenizerError } from '../dist/index.js';
import { native } from '../dist/native.js';

const TEXT = 'Hello wörld, 🙂 <s> a question: how are the experts routed in a sparse mixture of experts model today?';
const CONVERSATIONS = [
  [{ role: 'user', content: 'Hi' }],
  [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: TEXT }, { role: 'assistant', content: 'Two.' }, { role: 'user', content: 'Why?' }],
];

export async function exercise(dir) {
  let stage = 'load';
  let model;
  try {
    model = await loadModel(dir, { threads: 1 });
    let prompt = [1, 2, 3];
    if (model.hasTokenizer) {
      stage = 'tokenizer';
      const ids = model.tokenizer.encode(TEXT);
      model.tokenizer.decode(ids);
      const sd = model.tokenizer.createStreamDecoder();
      for (const id of ids) sd.push(id);
      sd.flush();
      prompt = TEXT;
      if (model.tokenizer.chatTemplate !== undefined) {
        stage = 'chat-template';
        for (const c of CONVERSATIONS) model.applyChatTemplate(c, { addGenerationPrompt: true });
      }
    }
    stage = 'logits';
    await model.logits([1, 2, 3]);
    stage = 'generate';
    await model.generate(prompt, { maxTokens: 3 }).result;
    return { outcome: 'loaded' };
  } catch (e) {
    return classify(e, stage);
  } finally {
    if (model) await model.close().catch(() => undefined);
  }
}

/**
 * The 'native-spec' exercise: opens dir/spec.json with the addon directly (file names resolved in `dir`),
 * evaluates tokens twice through one sequence, and closes it. Native errors carry a string `code`.
 */
export async function exerciseNativeSpec(dir) {
  let stage = 'spec';
  let model;
  try {
    const spec = JSON.parse(readFileSync(join(dir, 'spec.json'), 'utf8'));
    if (spec && Array.isArray(spec.files)) spec.files = spec.files.map((f) => (typeof f === 'string' ? join(dir, f) : f));
    stage = 'open';
    model = await native().openModel(spec);
    stage = 'eval';
    const seq = model.createSequence();
    const k = spec?.config?.topK;
    await seq.eval(new Int32Array([1, 2, 3]), true, true, k);
    await seq.eval(new Int32Array([4]), false, false, k);
    seq.dispose();
    return { outcome: 'loaded' };
  } catch (e) {
    return classify(e, stage);
  } finally {
    if (model) await model.close().catch(() => undefined);
  }
}

export const EXERCISES = { model: exercise, 'native-spec': exerciseNativeSpec };

export function classify(e, stage) {
  const nativeCode = typeof e?.code === 'string' && /^[A-Z][A-Z_]+$/.test(e.code) && !e.code.startsWith('ERR_') && !(e instanceof TypeError);
  const typed = ((e instanceof SmoeError || e instanceof TokenizerError) && typeof e.code === 'string') || nativeCode;
  return typed
    ? { outcome: 'typed', code: e.code, stage, message: String(e.message).slice(0, 300) }
    : { outcome: 'untyped', stage, message: String(e?.stack ?? e).slice(0, 2000) };
}
