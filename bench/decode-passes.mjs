#!/usr/bin/env node
// Decode tok/s of one model over 3 passes in one process (32 steps after a 4-token prompt each), to tell
// first-touch page faults from kernel speed; with SMOE_PROFILE=1 the op shares print when the model closes.
//   node bench/decode-passes.mjs MODEL [threads=1]
import { loadModel } from '../dist/index.js';
const m = await loadModel(process.argv[2], { threads: Number(process.argv[3] ?? 1) });
for (let r = 0; r < 3; r++) {
  const s = m.createSequence();
  await s.eval([1, 2, 3, 4]);
  const t0 = performance.now();
  for (let i = 0; i < 32; i++) await s.eval([5 + i]);
  console.log('pass', r, 'decode tok/s', (32000 / (performance.now() - t0)).toFixed(1));
  s.dispose();
}
await m.close();
