#!/usr/bin/env node
// The cost of one forward pass by its size: prompts of n tokens (8 .. 128) on a fresh sequence, best of 4 each,
// printed as tok/s. A batched step over n tokens costs about what an n-token prompt does, so this is the step
// cost behind the serving figures of bench/RESULTS.md.
//   node bench/prompt-steps.mjs MODEL [threads=2]
import { loadModel } from '../dist/index.js';
const m = await loadModel(process.argv[2], { threads: Number(process.argv[3] ?? 2) });
const V = m.config.vocabSize;
const out = [];
for (const P of [8, 16, 32, 64, 128]) {
  const prompt = Array.from({ length: P }, (_, i) => 1 + ((i * 7919 + 17) % (V - 1)));
  let best = 0;
  for (let r = 0; r < 4; r++) {
    const s = m.createSequence();
    const t = performance.now();
    await s.eval(prompt);
    best = Math.max(best, (P * 1000) / (performance.now() - t));
    s.dispose();
  }
  out.push(`pp${P} ${best.toFixed(0)} tok/s (${((P * 1000) / best).toFixed(0)} ms)`);
}
console.log(out.join('  '));
await m.close();
