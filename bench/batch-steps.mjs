#!/usr/bin/env node
// 16 concurrent greedy generations of 64 tokens after 8-token prompts, through the library's batching (no
// HTTP), against one generation alone: aggregate tok/s and wall time per step.
//   node bench/batch-steps.mjs MODEL [threads=2]
import { loadModel } from '../dist/index.js';
const m = await loadModel(process.argv[2], { threads: Number(process.argv[3] ?? 2) });
const N = 64, V = m.config.vocabSize;
const prompt = (k) => Array.from({ length: 8 }, (_, i) => 1 + ((i * 7919 + k * 131) % (V - 1)));
async function run(n) {
  const t = performance.now();
  await Promise.all(Array.from({ length: n }, (_, k) => m.generate(prompt(k), { maxTokens: N, temperature: 0, ignoreEos: true }).result));
  const s = (performance.now() - t) / 1000;
  return { sequences: n, tokS: +((n * N) / s).toFixed(1), msPerStep: +((s * 1000) / N).toFixed(1) };
}
await run(1); // warm-up
console.log(JSON.stringify(await run(1)));
console.log(JSON.stringify(await run(16)));
await m.close();
