// tokenizer.json regexes that could backtrack exponentially are refused at load (TOKENIZER_INVALID with a
// TOKENIZER_UNSUPPORTED cause), so that encode() of an ordinary sentence cannot hang; the pre-tokenizer
// regexes of real tokenizers still load.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { loadModel, loadTokenizer } from '../dist/index.js';
import { backtrackingRisk } from '../dist/tokenizer/regex-backtracking.js';
import { copyModel } from './helpers.mjs';

const REAL = {
  'GPT-2': "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
  'Llama 3': "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  o200k: "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  DeepSeek: '\\s?[!-/:-~！-／：-～‘-‟　-。]+',
  'DeepSeek CJK': '[一-龥ࠀ-一가-퟿]+',
  digits: '\\p{N}{1,3}',
};
const EXPONENTIAL = ['(\\D+)+\\d', '(a+)+$', '(a|ab)*c', '(.*)*x', '(?:\\w+\\s?)*$', '((a)+)+', '(a*){3}', '(?:x|\\p{L}+){2,}'];

test('real tokenizers\' regexes pass the check', () => {
  for (const [name, re] of Object.entries(REAL)) assert.equal(backtrackingRisk(re), null, name);
});

test('a repeated group that can match in more than one way is flagged', () => {
  for (const re of EXPONENTIAL) assert.match(backtrackingRisk(re) ?? 'missed', /repeated by/, re);
  for (const re of ['(?:ab)+', '(\\d)+', '(x|y)?z', '[(+]+', '\\(a+\\)+']) assert.equal(backtrackingRisk(re), null, re);
});

test('a tokenizer.json with a Split regex (\\D+)+\\d is refused at load; before, encode("Hello world, how are you?") ran for minutes', async () => {
  const { dir, cleanup } = copyModel();
  try {
    const file = join(dir, 'tokenizer.json');
    const tok = JSON.parse(readFileSync(file, 'utf8'));
    tok.pre_tokenizer = { type: 'Split', pattern: { Regex: '(\\D+)+\\d' }, behavior: 'Isolated', invert: false };
    writeFileSync(file, JSON.stringify(tok));
    await assert.rejects(loadTokenizer(dir), (e) => e.code === 'TOKENIZER_UNSUPPORTED' && /catastrophic backtracking/.test(e.message) && /pre_tokenizer\.pattern\.Regex/.test(e.message));
    await assert.rejects(loadModel(dir, { threads: 1 }), (e) => e.code === 'TOKENIZER_INVALID' && e.field === 'pre_tokenizer.pattern.Regex');
  } finally {
    cleanup();
  }
});

test('added tokens too long to match together are refused at load; before, encode() threw a SyntaxError', async () => {
  const { dir, cleanup } = copyModel();
  try {
    const file = join(dir, 'tokenizer.json');
    const original = JSON.parse(readFileSync(file, 'utf8'));
    const withToken = (content) => {
      const tok = structuredClone(original);
      tok.added_tokens.push({ id: 31999, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
      writeFileSync(file, JSON.stringify(tok));
    };
    withToken('x'.repeat(50_000));
    await assert.rejects(loadTokenizer(dir), (e) => e.code === 'TOKENIZER_UNSUPPORTED' && e.field === 'added_tokens' && /too long to match together/.test(e.message));
    withToken('y'.repeat(2000));
    const tok = await loadTokenizer(dir);
    assert.deepEqual(tok.encode(`a${'y'.repeat(2000)}b`, { addSpecialTokens: false }).includes(31999), true);
  } finally {
    cleanup();
  }
});
