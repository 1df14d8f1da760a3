// Shared test helpers: fixture paths, reference data, logits reductions, and throwaway model folders.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
export const MODELS = ['tiny-mixtral', 'tiny-mixtral-sliding', 'tiny-mixtral-f32'];
export const fixture = (name) => join(FIXTURES, name);
export const reference = (name) => JSON.parse(readFileSync(join(FIXTURES, name, 'reference.json'), 'utf8'));

export function argmax(row) {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** Evaluates `ids` on a sequence, then `n` greedy tokens through its KV cache; returns the generated ids. */
export async function greedyDecode(seq, ids, n) {
  let logits = await seq.eval(ids);
  const generated = [];
  for (let i = 0; i < n; i++) {
    const next = argmax(logits);
    generated.push(next);
    logits = await seq.eval([next]);
  }
  return generated;
}

export function logsumexp(row) {
  let mx = -Infinity;
  for (const v of row) mx = Math.max(mx, v);
  let s = 0;
  for (const v of row) s += Math.exp(v - mx);
  return mx + Math.log(s);
}

export function maxAbsDiff(a, b) {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

/** A copy of a fixture model in a temp folder, to be damaged by a test; returns { dir, cleanup }. */
export function copyModel(name = 'tiny-mixtral') {
  const dir = mkdtempSync(join(tmpdir(), 'smoe-test-'));
  cpSync(fixture(name), dir, { recursive: true });
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Reads a safetensors file into { header, data } (header: the parsed JSON). */
export function readSafetensors(file) {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  return { header: JSON.parse(buf.subarray(8, 8 + n).toString('utf8')), data: buf.subarray(8 + n) };
}

/** Writes { header, data } back as a safetensors file. */
export function writeSafetensors(file, header, data) {
  // Pad the header with spaces to a multiple of 8 bytes, as the safetensors library does.
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const h = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  writeFileSync(file, Buffer.concat([len, h, data]));
}

/** Rejects with a SmoeError of this code (and optionally a message matching `re`). */
export async function rejectsWithCode(assert, promiseOrFn, code, re) {
  await assert.rejects(promiseOrFn, (e) => {
    assert.equal(e.name === 'SmoeError' || e.name === 'ModelLoadError' || e.name === 'InvalidArgumentError', true, `not a SmoeError: ${e.stack}`);
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    if (re) assert.match(e.message, re);
    return true;
  });
}
