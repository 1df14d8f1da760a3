// The smoe command on a GGUF file: info (tensor types per kind, memory, tokenizer), info --json, and
// generate matching the library on the same file.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { loadModel } from '../dist/index.js';
import { readGguf } from '../dist/load/gguf.js';
import { ggufFromFixture } from './gguf-helpers.mjs';
import { fixture } from './helpers.mjs';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli', 'main.js');
const smoe = (args) => new Promise((resolve) => {
  execFile(process.execPath, [MAIN, ...args], { timeout: 30000 }, (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr }));
});

const dir = mkdtempSync(join(tmpdir(), 'smoe-gguf-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, 'tiny.gguf');
before(async () => { await ggufFromFixture(fixture('tiny-mixtral'), file, { type: 'F16' }); });

test('info on a GGUF: architecture, tensor types per kind, memory and tokenizer', async () => {
  const r = await smoe(['info', '--model', file]);
  assert.equal(r.code, 0, r.stderr);
  const line = (k) => r.stdout.split('\n').find((l) => l.startsWith(k)) ?? '';
  assert.match(line('architecture'), /llama \(Mixtral\) GGUF v3/);
  assert.match(line('experts'), /8 per layer, top-2 per token/);
  assert.match(line('gguf'), /version 3, file type F16, stacked experts, alignment 32/);
  assert.match(r.stdout, /blk\.N\.ffn_down_exps\.weight {2}x2 {2}\[96, 64, 8\] {2}F16 /);
  assert.match(r.stdout, /blk\.N\.attn_norm\.weight {2}x2 {2}\[64\] {2}F32 /);
  // KV cache at 4096 tokens: 2 (K, V) x 2 layers x 4096 x 2 kv heads x 8 dims x 4 bytes.
  assert.match(line('memory'), /KV cache 1\.00 MiB \(1,048,576 bytes\) at 4096 tokens/);
  assert.match(line('tokenizer'), /bos <s>, eos <\/s>, chat template yes/);
});

test('info --json carries the per-kind types and sizes', async () => {
  const r = await smoe(['info', '--model', file, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  const g = await readGguf(file);
  assert.equal(j.gguf.tensorBytes, g.tensors.reduce((a, t) => a + t.bytes, 0));
  assert.equal(j.memory.weightsBytes, j.gguf.tensorBytes);
  const exps = j.gguf.kinds.find((k) => k.kind === 'blk.N.ffn_gate_exps.weight');
  assert.deepEqual(exps, { kind: 'blk.N.ffn_gate_exps.weight', count: 2, dims: [64, 96, 8], types: { F16: 2 }, bytes: 2 * 64 * 96 * 8 * 2 });
  assert.equal(j.gguf.kinds.reduce((a, k) => a + k.count, 0), g.tensors.length);
});

test('generate on a GGUF prints what the library generates from it', async () => {
  const m = await loadModel(file, { threads: 1 });
  const want = await m.generate('Hello', { temperature: 0, maxTokens: 8, ignoreEos: true }).text();
  await m.close();
  const r = await smoe(['generate', '--model', file, '--prompt', 'Hello', '--temperature', '0', '--max-tokens', '8', '--ignore-eos', '-q']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, want + '\n');
});
