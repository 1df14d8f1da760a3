#!/usr/bin/env node
// Prefill tok/s of one model: PASSES (default 4) fresh sequences each evaluating one 128-token prompt, in one
// process; with SMOE_PROFILE=1 the op shares print when the model closes. SIMD picks the kernel level
// ('auto', 'avx512', 'avx2', 'generic'). A/B two builds by alternating SMOE_ADDON=... runs.
//   [PASSES=5] [SIMD=avx2] node bench/prefill-passes.mjs MODEL [threads=2]
import { loadModel } from '../dist/index.js';
const m = await loadModel(process.argv[2], { threads: Number(process.argv[3] ?? 2), simd: process.env.SIMD ?? 'auto' });
const ids = Array.from({ length: 128 }, (_, i) => 5 + (i * 37) % 30000);
for (let r = 0; r < Number(process.env.PASSES ?? 4); r++) {
  const s = m.createSequence();
  const t0 = performance.now();
  await s.eval(ids);
  console.log('pass', r, 'prefill tok/s', (128000 / (performance.now() - t0)).toFixed(1));
  s.dispose();
}
await m.close();
