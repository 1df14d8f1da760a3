#!/usr/bin/env node
// Makes test/fixtures/gguf/mistral-vocab-llama-tokenize.json: llama.cpp's own tokenization (llama-tokenize)
// of the 45 strings of test/fixtures/tokenizer-vectors.json, for a vocab-only GGUF carrying the Mistral
// vocabulary as llama.cpp's converter writes it (test/gguf-helpers.mjs mistralVocabGguf). Two modes per
// string: the default (BOS added, special tokens parsed: smoe's encode()) and raw (--no-bos
// --no-parse-special: encodeLlama(text, false, false)).
// Usage: node tools/gguf-tokenizer-fixture.mjs [LLAMA_DIR]   (default /tmp/llama; needs `npm run build:ts`)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { mistralVocabGguf } from '../test/gguf-helpers.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const llama = process.argv[2] ?? '/tmp/llama';
const bin = join(llama, 'src/build/bin/llama-tokenize');
const fixtures = join(root, 'test/fixtures');
const tmp = mkdtempSync(join(tmpdir(), 'smoe-vocab-'));
try {
  const vocab = join(tmp, 'mistral-vocab.gguf');
  await mistralVocabGguf(join(fixtures, 'mistral-tokenizer.json'), vocab);
  const tokenize = (text, extra) => {
    const out = execFileSync(bin, ['-m', vocab, '--stdin', '--ids', '--no-escape', '--log-disable', ...extra], { input: text }).toString();
    const line = out.trim().split('\n').at(-1);
    return JSON.parse(line);
  };
  const { vectors } = JSON.parse(readFileSync(join(fixtures, 'tokenizer-vectors.json'), 'utf8'));
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['-C', join(llama, 'src'), 'rev-parse', 'HEAD']).toString().trim();
  } catch { /* not a git checkout */ }
  const result = {
    about: 'llama.cpp llama-tokenize on a vocab-only GGUF of the Mistral vocabulary (test/gguf-helpers.mjs mistralVocabGguf); ' +
      '"ids": default flags (BOS, special tokens parsed); "raw": --no-bos --no-parse-special. Made by tools/gguf-tokenizer-fixture.mjs.',
    llama_cpp: commit,
    vectors: vectors.map(({ text }) => ({ text, ids: tokenize(text, []), raw: tokenize(text, ['--no-bos', '--no-parse-special']) })),
  };
  const lines = result.vectors.map((v) => '  ' + JSON.stringify(v));
  const head = JSON.stringify({ about: result.about, llama_cpp: result.llama_cpp }, null, 1).slice(0, -2);
  writeFileSync(join(fixtures, 'gguf/mistral-vocab-llama-tokenize.json'), `${head},\n "vectors": [\n${lines.join(',\n')}\n ]\n}\n`);
  console.log(`wrote ${result.vectors.length} vectors`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
