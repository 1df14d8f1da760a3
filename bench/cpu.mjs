#!/usr/bin/env node
// CPU benchmark (npm run bench): prefill and decode speed, load time and peak RSS on a random Mixtral-shaped
// bf16 checkpoint (hidden 1024, intermediate 3584, 8 layers, 8 experts top-2, 16/4 heads, vocab 32000), next to
// this machine's measured limits (read bandwidth, FMA peak). Appends a section to bench/RESULTS.md.
//   node bench/cpu.mjs [--threads 2] [--model DIR] [--prompt 128] [--decode 32] [--runs 5] [--simd auto,avx2]
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' }, model: { type: 'string' }, prompt: { type: 'string', default: '128' },
    decode: { type: 'string', default: '32' }, runs: { type: 'string', default: '9' }, simd: { type: 'string' },
    child: { type: 'string' }, 'no-write': { type: 'boolean', default: false },
  },
});
const threads = Number(values.threads), promptLen = Number(values.prompt), decodeLen = Number(values.decode), runs = Number(values.runs);
const modelDir = values.model ?? join(here, 'data', 'mixtral-1024');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// One measurement in a fresh process, so load time and peak RSS are this model's alone.
if (values.child) {
  const { loadModel } = await import('../dist/index.js');
  const t0 = performance.now();
  const model = await loadModel(modelDir, { threads, simd: values.child });
  const loadMs = performance.now() - t0;
  const prompt = Array.from({ length: promptLen }, (_, i) => 1 + ((i * 7919 + 17) % (model.config.vocabSize - 1)));
  let t = performance.now();
  { const s = model.createSequence(); await s.eval(prompt); s.dispose(); }
  const firstPrefillMs = performance.now() - t; // includes faulting the mapped weights in
  const prefill = [], decode = [];
  for (let r = 0; r < runs; r++) {
    const s = model.createSequence();
    t = performance.now();
    await s.eval(prompt);
    prefill.push(promptLen / ((performance.now() - t) / 1000));
    t = performance.now();
    for (let i = 0; i < decodeLen; i++) await s.eval([1 + ((i * 104729) % (model.config.vocabSize - 1))]);
    decode.push(decodeLen / ((performance.now() - t) / 1000));
    s.dispose();
  }
  const out = {
    simd: model.info.simd, threads: model.info.threads, loadMs, firstPrefillMs,
    prefillTokS: median(prefill), decodeTokS: median(decode), prefillAll: prefill, decodeAll: decode,
    peakRssMB: process.resourceUsage().maxRSS / 1024, activeParams: model.info.activeParams,
    totalParams: model.info.totalParams, vocab: model.config.vocabSize, hidden: model.config.hiddenSize,
  };
  await model.close();
  console.log(JSON.stringify(out));
  process.exit(0);
}

if (!existsSync(join(modelDir, 'config.json'))) {
  console.log(`writing the benchmark checkpoint to ${modelDir} ...`);
  execFileSync(process.execPath, [join(here, '..', 'tools', 'make-random-checkpoint.mjs'), modelDir], { stdio: 'inherit' });
}
const weightBytes = readFileSync(join(modelDir, 'model.safetensors.index.json'), 'utf8').match(/"total_size":\s*(\d+)/);

// The limits: read bandwidth and FMA peak on the same number of threads, probed right before each
// configuration is measured (shared machines drift: the same probe has read 35 to 59 GB/s here).
let probe = null;
try {
  const bin = join(tmpdir(), 'smoe-roofline');
  execFileSync('g++', ['-O3', '-pthread', join(here, 'roofline.cpp'), '-o', bin]);
  probe = () => JSON.parse(execFileSync(bin, [String(threads)], { encoding: 'utf8' }));
} catch (e) {
  console.warn(`roofline probe unavailable (${e.message.split('\n')[0]})`);
}

const { backends } = await import('../dist/index.js');
const levels = values.simd ? values.simd.split(',') : ['auto', ...(backends().cpu.simdLevels.includes('avx2') ? ['avx2'] : [])];
const results = [];
for (const simd of levels) {
  const roof = probe ? probe() : null;
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', simd, '--threads', String(threads), '--model', modelDir,
    '--prompt', String(promptLen), '--decode', String(decodeLen), '--runs', String(runs)], { encoding: 'utf8' });
  if (r.status !== 0) { console.error(r.stderr); process.exit(1); }
  results.push({ ...JSON.parse(r.stdout.trim().split('\n').pop()), roof });
}

const lines = [];
const cpu = cpus()[0]?.model ?? 'unknown CPU';
const date = new Date().toISOString().slice(0, 10);
lines.push(`\n## ${date} — CPU, ${cpu}, ${cpus().length} cores, ${threads} threads`, '');
lines.push(`Command: \`npm run bench -- --threads ${threads}\` (node bench/cpu.mjs); model: ${modelDir.replace(join(here, '..') + '/', '')} ` +
  `(${weightBytes ? (Number(weightBytes[1]) / 1e9).toFixed(2) + ' GB' : '?'} bf16, random weights), prompt ${promptLen} tokens, decode ${decodeLen} tokens, median of ${runs} runs.`);
lines.push(`Limits: bench/roofline.cpp on ${threads} threads just before each row (read bandwidth; fp32 FMA peak of the row's kernels).`);
lines.push('', '| kernels | prefill tok/s (min–max) | decode tok/s (min–max) | read limit GB/s | decode GB/s (share) | FMA peak GFLOP/s | prefill GFLOP/s (share) | load ms | first prefill ms | peak RSS MB |', '|---|---|---|---|---|---|---|---|---|---|');
for (const r of results) {
  const roof = r.roof;
  // A decoded token reads every active weight once (one embedding row, not the table); 2 FLOPs per weight.
  const activeBytes = (r.activeParams - r.vocab * r.hidden + r.hidden) * 2;
  const flopsPerToken = 2 * (r.activeParams - r.vocab * r.hidden);
  const gbs = (r.decodeTokS * activeBytes) / 1e9;
  const gflops = (r.prefillTokS * flopsPerToken) / 1e9;
  const peak = r.simd === 'avx512' ? roof?.fmaAvx512GFlops : roof?.fmaAvx2GFlops;
  const pct = (a, b) => (b ? ` (${Math.round((100 * a) / b)}%)` : '');
  const range = (xs, d) => `${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)}`;
  lines.push(`| ${r.simd} | ${r.prefillTokS.toFixed(0)} (${range(r.prefillAll, 0)}) | ${r.decodeTokS.toFixed(1)} (${range(r.decodeAll, 1)}) | ${roof?.readGBs ?? '?'} | ${gbs.toFixed(1)}${pct(gbs, roof?.readGBs)} | ` +
    `${peak ?? '?'} | ${gflops.toFixed(0)}${pct(gflops, peak)} | ${r.loadMs.toFixed(0)} | ${r.firstPrefillMs.toFixed(0)} | ${r.peakRssMB.toFixed(0)} |`);
}
lines.push('', `Active weights per decoded token: ${((results[0].activeParams - results[0].vocab * results[0].hidden) * 2 / 1e6).toFixed(0)} MB (bf16); ` +
  `weight files ${weightBytes ? (Number(weightBytes[1]) / 1e6).toFixed(0) : '?'} MB; peak RSS includes the mapped weights (page cache).`);
const text = lines.join('\n') + '\n';
console.log(text);
if (!values['no-write']) appendFileSync(join(here, 'RESULTS.md'), text);
