#!/usr/bin/env node
// Top-1 vs top-2 routing: decode speed and quality. For a model folder (default the 1024-wide benchmark model
// of `node tools/make-random-checkpoint.mjs bench/data/mixtral-1024` when it exists, else the tiny-mixtral
// fixture), the decode tok/s with expertsPerToken 1 and 2 (median of --runs runs); for a fixture model
// (default tiny-mixtral), the mean next-token NLL and perplexity on the fixture prompts (allLogits) with 1
// and 2 experts. Prints a markdown table.
//   node bench/experts-per-token.mjs [--model DIR] [--quality-model DIR] [--threads 2] [--decode 32] [--runs 5]
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { loadModel } from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, '..', 'test', 'fixtures');
const { values } = parseArgs({
  options: {
    model: { type: 'string' }, 'quality-model': { type: 'string' }, threads: { type: 'string', default: '2' },
    decode: { type: 'string', default: '32' }, prompt: { type: 'string', default: '32' }, runs: { type: 'string', default: '7' },
  },
});
const bench1024 = join(here, 'data', 'mixtral-1024');
const speedDir = values.model ?? (existsSync(join(bench1024, 'config.json')) ? bench1024 : join(fixtures, 'tiny-mixtral'));
const qualityDir = values['quality-model'] ?? join(fixtures, 'tiny-mixtral');
const threads = Number(values.threads), decodeLen = Number(values.decode), promptLen = Number(values.prompt), runs = Number(values.runs);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const name = (d) => d.split(/[/\\]/).filter(Boolean).pop();

/**
 * Decode tok/s for each k: prefill a fixed prompt, then evaluate decodeLen single tokens; the settings
 * alternate run by run (A B A B ...) so that the machine's drift hits both alike; median over runs.
 */
async function decodeSpeeds(model, ks) {
  const V = model.config.vocabSize;
  const prompt = Array.from({ length: promptLen }, (_, i) => 1 + ((i * 7919 + 17) % (V - 1)));
  const rates = Object.fromEntries(ks.map((k) => [k, []]));
  for (let r = 0; r < runs + 1; r++) {
    for (const k of ks) {
      const s = model.createSequence();
      await s.eval(prompt, { expertsPerToken: k });
      const t = performance.now();
      for (let i = 0; i < decodeLen; i++) await s.eval([1 + ((i * 104729 + r) % (V - 1))], { expertsPerToken: k });
      const tps = decodeLen / ((performance.now() - t) / 1000);
      s.dispose();
      if (r > 0) rates[k].push(tps); // the first round warms the mapped weights up
    }
  }
  return Object.fromEntries(ks.map((k) => [k, median(rates[k])]));
}

/** Mean NLL of each next token over the fixture cases' ids (the prompts and the chat case). */
async function meanNll(model, cases, k) {
  const V = model.config.vocabSize;
  let total = 0, count = 0;
  for (const c of cases) {
    const logits = await model.logits(c.ids, { allLogits: true, expertsPerToken: k });
    for (let p = 0; p + 1 < c.ids.length; p++) {
      const row = logits.subarray(p * V, (p + 1) * V);
      let mx = -Infinity;
      for (const v of row) mx = Math.max(mx, v);
      let s = 0;
      for (const v of row) s += Math.exp(v - mx);
      total += mx + Math.log(s) - row[c.ids[p + 1]];
      count++;
    }
  }
  return { nll: total / count, tokens: count };
}

const speedModel = await loadModel(speedDir, { threads });
const speed = await decodeSpeeds(speedModel, [2, 1]);
const speedInfo = `${name(speedDir)} (hidden ${speedModel.config.hiddenSize}, ${speedModel.config.numLayers} layers, top-${speedModel.config.topK} of ${speedModel.config.numExperts})`;
await speedModel.close();

const qualityModel = await loadModel(qualityDir, { threads });
const refPath = join(qualityDir, 'reference.json');
if (!existsSync(refPath)) throw new Error(`${qualityDir} has no reference.json with cases[].ids`);
const cases = JSON.parse(readFileSync(refPath, 'utf8')).cases;
const quality = {};
for (const k of [1, 2]) quality[k] = await meanNll(qualityModel, cases, k);
await qualityModel.close();

console.log(`\n### expertsPerToken 1 vs 2 (${threads} threads, ${runs} runs, decode ${decodeLen} tokens after a ${promptLen}-token prompt)\n`);
console.log('| experts per token | decode tok/s | speed-up | mean NLL | perplexity | ΔNLL vs top-2 |');
console.log('|---:|---:|---:|---:|---:|---:|');
for (const k of [1, 2])
  console.log(`| ${k} | ${speed[k].toFixed(1)} | ${(speed[k] / speed[2]).toFixed(2)}x | ${quality[k].nll.toFixed(4)} | ${Math.exp(quality[k].nll).toFixed(2)} | ${(quality[k].nll - quality[2].nll >= 0 ? '+' : '')}${(quality[k].nll - quality[2].nll).toFixed(4)} |`);
console.log(`\nspeed: ${speedInfo}; quality: ${name(qualityDir)}, ${quality[2].tokens} next-token predictions over ${cases.length} fixture prompts` +
  ' (a random-weight fixture: the perplexity change shows the mechanism, not a trained model\'s loss; the demo model will give real figures).');
