// Encode throughput of the tokenizer on ~5 MB of generated English-like text.
//   npx tsc -p tsconfig.json && node bench/tokenizer.mjs [model-dir] [megabytes]
// Prints MB/s (1 MB = 1e6 bytes of UTF-8 input) for a cold and a warm word cache,
// for one big encode() call and for per-paragraph calls, plus streaming decode speed.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTokenizer } from '../dist/tokenizer/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const dir = process.argv[2] ?? path.join(here, '..', 'test', 'fixtures', 'tiny-mixtral');
const targetMB = Number(process.argv[3] ?? 5);

// Deterministic PRNG so every run tokenizes the same text.
let seed = 42;
const rand = () => {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = (a) => a[Math.floor(rand() * a.length)];

const WORDS = `the of and to in is was for that with as on by it from at be this are or his an which have not
had but they were one their has all been more also her its can would new first who after when there other
into two time year years some only most over such made many these between people city during then world
under state than may where while through about both known three later including until because since used
being part national school century government called high however before those number found several
system well between another work music history early around city area family company million war team
season game league album released film series second began became during like first local group public
model expert experts mixture sparse token tokens router layer layers attention weights training inference
memory bandwidth kernel matrix vector compute cache latency throughput batch sequence context window
language english french german sentence paragraph example reasonable careful quickly slowly together
ordinary remarkable significant technical performance engine library simple complex different similar
mountain river village garden kitchen window morning evening winter summer student teacher doctor market`
  .split(/\s+/)
  .filter(Boolean);
const NAMES = ['Alice', 'Bob', 'Paris', 'London', 'Mixtral', 'Mistral', 'Node', 'Europe', 'Monday', 'October', 'GPU', 'NVIDIA'];
const PUNCT = ['.', '.', '.', '!', '?', ';', ':'];

function sentence() {
  const n = 6 + Math.floor(rand() * 18);
  const w = [];
  for (let i = 0; i < n; i++) {
    const r = rand();
    if (r < 0.07) w.push(pick(NAMES));
    else if (r < 0.1) w.push(String(Math.floor(rand() * 10 ** (1 + Math.floor(rand() * 4)))));
    else if (r < 0.12) w.push(`(${pick(WORDS)})`);
    else w.push(pick(WORDS));
    if (rand() < 0.08 && i < n - 1) w[w.length - 1] += ',';
  }
  const s = w.join(' ');
  return s[0].toUpperCase() + s.slice(1) + pick(PUNCT);
}

const paragraphs = [];
let bytes = 0;
while (bytes < targetMB * 1e6) {
  const k = 2 + Math.floor(rand() * 7);
  const p = Array.from({ length: k }, sentence).join(' ');
  paragraphs.push(p);
  bytes += Buffer.byteLength(p, 'utf8') + 2;
}
const text = paragraphs.join('\n\n');
const mb = Buffer.byteLength(text, 'utf8') / 1e6;

function time(fn) {
  const t0 = process.hrtime.bigint();
  const r = fn();
  return [Number(process.hrtime.bigint() - t0) / 1e9, r];
}

console.log(`text: ${mb.toFixed(2)} MB, ${paragraphs.length} paragraphs (tokenizer: ${dir})`);
{
  const tok = await loadTokenizer(dir);
  const [s, ids] = time(() => tok.encode(text));
  console.log(`encode, one call, cold cache: ${(mb / s).toFixed(2)} MB/s (${ids.length} tokens, ${(ids.length / s / 1e6).toFixed(2)} M tokens/s)`);
  const [s2] = time(() => tok.encode(text));
  console.log(`encode, one call, warm cache: ${(mb / s2).toFixed(2)} MB/s`);
}
{
  const tok = await loadTokenizer(dir);
  let n = 0;
  const [s] = time(() => {
    for (const p of paragraphs) n += tok.encode(p).length;
  });
  console.log(`encode, per paragraph, cold cache: ${(mb / s).toFixed(2)} MB/s (${n} tokens)`);
  const ids = tok.encode(text);
  const [sd] = time(() => tok.decode(ids));
  console.log(`decode: ${(mb / sd).toFixed(2)} MB/s`);
  const [ss] = time(() => {
    const d = tok.createStreamDecoder();
    let len = 0;
    for (const id of ids) len += d.push(id).length;
    return len + d.flush().length;
  });
  console.log(`stream decode: ${(ids.length / ss / 1e6).toFixed(2)} M tokens/s`);
}
