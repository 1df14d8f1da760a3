#!/usr/bin/env node
// npm run soak [-- --calls 10000 --cycles 1000 --seed 1 --every 500 --threads 1 --no-rss-bound]
// 1. `calls` generate()/chat() calls on test/fixtures/tiny-mixtral with random options, random aborts
//    (an AbortSignal fired after a random delay, or a `break` out of the stream) and random concurrency
//    (1-8 at once); 2. `cycles` loadModel()/close() cycles, some closing while a generation runs.
// Prints RSS, heap, external memory and active handles (after a full GC) every `every` calls / tenth of
// the cycles, and fails (exit 1) when any grows past its bound (BOUNDS) after the warm-up (the first tenth).
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { loadModel, SmoeError } from '../dist/index.js';
import { FuzzRng } from '../fuzz/rng.mjs';
import { checkGrowth, header, row, sample } from './memory.mjs';

/** Most growth allowed after warm-up: RSS (malloc and V8 keep some pages), heap, external, handles. */
export const BOUNDS = { rss: 64 * 2 ** 20, heap: 16 * 2 ** 20, external: 16 * 2 ** 20, handles: 2 };

const { values: a } = parseArgs({
  options: {
    calls: { type: 'string', default: '10000' },
    cycles: { type: 'string', default: '1000' },
    seed: { type: 'string', default: '1' },
    every: { type: 'string', default: '500' },
    threads: { type: 'string', default: '1' },
    // Under AddressSanitizer RSS holds the allocator's quarantine of freed blocks, not what smoe keeps.
    'no-rss-bound': { type: 'boolean', default: false },
  },
});
if (typeof globalThis.gc !== 'function') {
  console.error('soak: run with node --expose-gc (npm run soak does)');
  process.exit(2);
}
if (a['no-rss-bound']) BOUNDS.rss = Infinity;
const CALLS = Number(a.calls), CYCLES = Number(a.cycles), EVERY = Number(a.every);
const DIR = join(import.meta.dirname, '..', 'test', 'fixtures', 'tiny-mixtral');
const rng = new FuzzRng(Number(a.seed));
const WORDS = ['the', 'expert', 'router', 'Mixtral', 'ünïcödé', '🙂', 'token', '\n', 'of', 'sparse', 'mixture', '</s>', '<s>'];
const tally = { stop: 0, length: 0, abort: 0, typed: 0 };

function randomOptions(vocab) {
  const o = { maxTokens: 1 + rng.int(12), seed: rng.int(1e6) };
  if (rng.chance(0.3)) o.temperature = 0;
  else if (rng.chance(0.7)) o.temperature = rng.float() * 1.5;
  if (rng.chance(0.4)) o.topK = rng.int(60);
  if (rng.chance(0.4)) o.topP = 0.05 + rng.float() * 0.95;
  if (rng.chance(0.2)) o.minP = rng.float() * 0.2;
  if (rng.chance(0.2)) o.repeatPenalty = 1 + rng.float();
  if (rng.chance(0.2)) o.stop = rng.pick(['e', 'the', ['a', 'o'], '\n']);
  if (rng.chance(0.1)) o.stopTokens = [rng.int(vocab)];
  if (rng.chance(0.1)) o.routerTrace = true;
  if (rng.chance(0.2)) o.expertsPerToken = 1 + rng.int(2);
  if (rng.chance(0.1)) o.ignoreEos = true;
  return o;
}

/** One generate() or chat() call, maybe aborted by a signal or a break; resolves when it has ended. */
async function oneCall(model) {
  const o = randomOptions(model.config.vocabSize);
  const ac = new AbortController();
  const abort = rng.pick([0, 0, 0, 1, 2, 3]); // 0: none, 1: signal after a delay, 2: signal at once, 3: break after a piece
  if (abort === 1) setTimeout(() => ac.abort(), rng.int(5));
  if (abort === 2) ac.abort();
  if (abort === 1 || abort === 2) o.signal = ac.signal;
  const text = Array.from({ length: 1 + rng.int(12) }, () => rng.pick(WORDS)).join(' ');
  let gen;
  try {
    if (rng.chance(0.15)) gen = model.chat([{ role: 'user', content: text }], o);
    else gen = model.generate(rng.chance(0.2) ? Array.from({ length: 1 + rng.int(16) }, () => rng.int(model.config.vocabSize)) : text, o);
  } catch (e) {
    if (!(e instanceof SmoeError)) throw e;
    tally.typed++;
    return;
  }
  if (abort === 3) {
    for await (const _ of gen) break; // eslint-disable-line no-unused-vars
  }
  const r = await gen.result;
  tally[r.finishReason]++;
}

const samples = [];
const take = (label) => {
  const s = sample(label);
  samples.push(s);
  console.log(row(s));
};

console.log(`soak: ${CALLS} generate/chat calls, then ${CYCLES} load/close cycles (seed ${a.seed}); bounds after warm-up: ` +
  `rss ${BOUNDS.rss / 2 ** 20} MB, heap ${BOUNDS.heap / 2 ** 20} MB, external ${BOUNDS.external / 2 ** 20} MB, handles +${BOUNDS.handles}`);
console.log(header());
const t0 = Date.now();
const model = await loadModel(DIR, { threads: Number(a.threads) });
take('start');
let done = 0;
let nextSample = EVERY;
while (done < CALLS) {
  const n = Math.min(1 + rng.int(8), CALLS - done);
  await Promise.all(Array.from({ length: n }, () => oneCall(model)));
  done += n;
  if (done >= nextSample || done === CALLS) {
    take(`calls ${done}`);
    nextSample += EVERY;
  }
}
await model.close();
const callSamples = samples.length;
const callWarm = Math.max(1, Math.round(callSamples / 10));

take('cycles 0');
const cycleEvery = Math.max(1, Math.round(CYCLES / 10));
for (let i = 1; i <= CYCLES; i++) {
  const m = await loadModel(DIR, { threads: 1 + rng.int(2) });
  const k = rng.int(3);
  if (k === 1) await m.logits([1, 2, 3]);
  if (k === 2) {
    const g = m.generate('Hello', { maxTokens: 4 });
    await m.close(); // closing while it runs: the generation ends (abort or an error it reports)
    await g.result.catch((e) => {
      if (!(e instanceof SmoeError)) throw e;
    });
  }
  await m.close();
  if (i % cycleEvery === 0) take(`cycles ${i}`);
}

const failures = [
  ...checkGrowth(samples.slice(0, callSamples), callWarm, BOUNDS).map((f) => `generate phase: ${f}`),
  ...checkGrowth(samples.slice(callSamples), 1, BOUNDS).map((f) => `load/close phase: ${f}`),
];
console.log(`soak: ${((Date.now() - t0) / 1000).toFixed(0)} s; finish reasons: stop ${tally.stop}, length ${tally.length}, abort ${tally.abort}; typed errors ${tally.typed}`);
const warmG = samples[callWarm], lastG = samples[callSamples - 1], warmC = samples[callSamples + 1], lastC = samples[samples.length - 1];
const d = (x, y, k) => (k === 'handles' ? `${y[k] - x[k]}` : `${((y[k] - x[k]) / 2 ** 20).toFixed(1)} MB`);
for (const [name, w, l] of [['generate', warmG, lastG], ['load/close', warmC, lastC]])
  console.log(`soak: ${name}: from warm-up (${w.label}) to end: rss ${d(w, l, 'rss')}, heap ${d(w, l, 'heap')}, external ${d(w, l, 'external')}, handles ${d(w, l, 'handles')}`);
if (failures.length) {
  for (const f of failures) console.log(`soak: FAIL ${f}`);
  process.exitCode = 1;
} else console.log('soak: ok, within bounds');
