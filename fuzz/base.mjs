// The base model folder every fuzz case starts from: test/fixtures/tiny-mixtral (bf16, three shards and an
// index), with its tokenizer cut to the first 1000 ids (same pipeline: normalizer, BPE with byte fallback,
// added tokens, decoder) so that each case parses it in milliseconds. Cases are folders of symlinks to it,
// with the mutated files written in their place.
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');
export const BASE_FIXTURE = join(REPO, 'test', 'fixtures', 'tiny-mixtral');
const KEEP_IDS = 1000;

/** tokenizer.json with ids >= KEEP_IDS dropped (and the merges that need them). */
export function trimmedTokenizer(text) {
  const tok = JSON.parse(text);
  const vocab = {};
  for (const [piece, id] of Object.entries(tok.model.vocab)) if (id < KEEP_IDS) vocab[piece] = id;
  tok.model.vocab = vocab;
  tok.model.merges = tok.model.merges.filter((m) => {
    const [a, b] = Array.isArray(m) ? m : m.split(' ');
    return a in vocab && b in vocab && a + b in vocab;
  });
  tok.added_tokens = tok.added_tokens.filter((t) => t.id < KEEP_IDS);
  return JSON.stringify(tok);
}

/** Writes the base folder into `dir` (real files for the small ones, symlinks for the shards); returns `dir`. */
export function makeBase(dir) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const name of readdirSync(BASE_FIXTURE)) {
    if (name === 'reference.json') continue;
    const src = join(BASE_FIXTURE, name);
    if (name === 'tokenizer.json') writeFileSync(join(dir, name), trimmedTokenizer(readFileSync(src, 'utf8')));
    else if (name.endsWith('.safetensors')) symlinkSync(src, join(dir, name));
    else writeFileSync(join(dir, name), readFileSync(src));
  }
  return dir;
}

/**
 * A case folder: symlinks to every base file (none with `exclusive`), then `files` ({ name: segments })
 * written over them.
 * A segment is { text } (utf8), { base64 }, or { base, start, end } (a byte range of a base file).
 */
export function writeCase(dir, base, files, { exclusive = false } = {}) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  if (!exclusive) for (const name of readdirSync(base)) if (!(name in files)) symlinkSync(join(base, name), join(dir, name));
  for (const [name, segments] of Object.entries(files)) {
    if (segments === null) continue; // the file is deleted in this case
    writeFileSync(join(dir, name), Buffer.concat(segments.map((s) => segmentBytes(base, s))));
  }
  return dir;
}

const baseFiles = new Map();

/** A base file's bytes (read once). */
export function baseFile(base, name) {
  const key = join(base, name);
  let b = baseFiles.get(key);
  if (b === undefined) baseFiles.set(key, (b = readFileSync(key)));
  return b;
}

function segmentBytes(base, s) {
  if (s.text !== undefined) return Buffer.from(s.text, 'utf8');
  if (s.base64 !== undefined) return Buffer.from(s.base64, 'base64');
  return baseFile(base, s.base).subarray(s.start, s.end);
}

/** Segments for bytes: text when they are valid UTF-8 that survives a round trip, else base64. */
export function bytesSegment(bytes) {
  const text = bytes.toString('utf8');
  return Buffer.from(text, 'utf8').equals(bytes) ? { text } : { base64: bytes.toString('base64') };
}
