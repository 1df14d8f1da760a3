#!/usr/bin/env node
// GPU benchmark (npm run bench:gpu): decode tok/s and 512-token prefill tok/s on device cuda, on a random
// Mixtral-shaped bf16 checkpoint of ~12 GB (hidden 4096, intermediate 14336, 4 layers, 32/8 heads, 8 experts
// top-2: the layer shapes of Mixtral 8x7B), for each precision mode. Appends a section to bench/RESULTS.md.
// Skips, saying why, where there is no CUDA device.
//   node bench/gpu.mjs [--device 0] [--model DIR] [--prompt 512] [--decode 128] [--runs 5] [--precision bf16,fp32]
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { readConfig } from '../dist/load/config.js';
import { mixtralWeights } from '../dist/load/mixtral-weights.js';
import { readTensorIndex } from '../dist/load/safetensors.js';
import { native } from '../dist/native.js';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    device: { type: 'string', default: '0' }, model: { type: 'string' }, prompt: { type: 'string', default: '512' },
    decode: { type: 'string', default: '128' }, runs: { type: 'string', default: '5' },
    precision: { type: 'string', default: 'bf16,fp32' }, 'no-write': { type: 'boolean', default: false },
  },
});
const device = Number(values.device), promptLen = Number(values.prompt), decodeLen = Number(values.decode), runs = Number(values.runs);
const modelDir = resolve(values.model ?? join(here, 'data', 'mixtral-4096x4'));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const addon = native();
const cuda = addon.backends().cuda;
const gpu = cuda.devices.find((d) => (d.index ?? 0) === device);
if (!cuda.compiled || !gpu) {
  const why = !cuda.compiled ? 'this build of smoe has no CUDA backend' : `cuda:${device} is not present`;
  console.log(`bench:gpu skipped: no CUDA device: ${why}${cuda.reason ? ` (${cuda.reason})` : ''}`);
  process.exit(0);
}

if (!existsSync(join(modelDir, 'config.json'))) {
  console.log(`writing the benchmark checkpoint (~12 GB) to ${modelDir} ...`);
  execFileSync(process.execPath, [join(here, '..', 'tools', 'make-random-checkpoint.mjs'), modelDir, '--hidden', '4096', '--intermediate', '14336',
    '--layers', '4', '--heads', '32', '--kv-heads', '8', '--experts', '8', '--top-k', '2'], { stdio: 'inherit' });
}
const totalSize = Number(readFileSync(join(modelDir, 'model.safetensors.index.json'), 'utf8').match(/"total_size":\s*(\d+)/)?.[1] ?? 0);

// The native spec (what lib/model.ts builds), with the device and precision.
const config = await readConfig(modelDir);
const { files, tensors } = await readTensorIndex(modelDir);
const layout = mixtralWeights(config, files, tensors);
const baseSpec = { config: { ...config, slidingWindow: config.slidingWindow ?? 0 }, threads: 1, simd: 'auto', files, weights: layout.weights };

const c = config;
const D = c.hiddenSize, Q = c.numHeads * c.headDim, KV = c.numKvHeads * c.headDim;
// Weights one decoded token reads: attention, router, top-k experts per layer, final norm and lm_head (bf16).
const perLayer = D * Q * 2 + D * KV * 2 + c.numExperts * D + c.topK * 3 * D * c.intermediateSize + 2 * D;
const activeParams = c.numLayers * perLayer + D + c.vocabSize * D;
const decodeBytes = activeParams * 2;
const prefillFlopsPerToken = 2 * activeParams;

async function measure(precision) {
  const t0 = performance.now();
  const handle = await addon.openModel({ ...baseSpec, device: `cuda:${device}`, precision });
  const loadMs = performance.now() - t0;
  const prompt = Int32Array.from({ length: promptLen }, (_, i) => 1 + ((i * 7919 + 17) % (c.vocabSize - 1)));
  const prefill = [], decode = [];
  try {
    { const s = handle.createSequence(); await s.eval(prompt, false, false, 0); s.dispose(); }  // warm-up
    for (let r = 0; r < runs; r++) {
      const s = handle.createSequence();
      let t = performance.now();
      await s.eval(prompt, false, false, 0);
      prefill.push(promptLen / ((performance.now() - t) / 1000));
      t = performance.now();
      for (let i = 0; i < decodeLen; i++) await s.eval(Int32Array.of(1 + ((i * 104729) % (c.vocabSize - 1))), false, false, 0);
      decode.push(decodeLen / ((performance.now() - t) / 1000));
      s.dispose();
    }
  } finally {
    await handle.close();
  }
  return { precision, loadMs, prefill, decode, prefillTokS: median(prefill), decodeTokS: median(decode) };
}

const results = [];
for (const p of values.precision.split(',')) {
  console.log(`measuring precision ${p} ...`);
  results.push(await measure(p));
}

const date = new Date().toISOString().slice(0, 10);
const range = (xs, d) => `${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)}`;
const lines = [];
lines.push(`\n## ${date} — GPU, ${gpu.name} (${(gpu.memory / 2 ** 30).toFixed(0)} GiB, compute capability ${gpu.computeCapability}), cuda:${device}`, '');
lines.push(`Command: \`npm run bench:gpu\` (node bench/gpu.mjs); model: ${modelDir.replace(join(here, '..') + '/', '')} ` +
  `(${(totalSize / 1e9).toFixed(2)} GB bf16, random weights: hidden ${D}, intermediate ${c.intermediateSize}, ${c.numLayers} layers, ` +
  `${c.numHeads}/${c.numKvHeads} heads, ${c.numExperts} experts top-${c.topK}), prompt ${promptLen} tokens, decode ${decodeLen} tokens after it, median of ${runs} runs.`);
lines.push('', '| precision | prefill tok/s (min–max) | prefill TFLOP/s | decode tok/s (min–max) | decode GB/s of weights | load ms |', '|---|---|---|---|---|---|');
for (const r of results)
  lines.push(`| ${r.precision} | ${r.prefillTokS.toFixed(0)} (${range(r.prefill, 0)}) | ${((r.prefillTokS * prefillFlopsPerToken) / 1e12).toFixed(1)} | ` +
    `${r.decodeTokS.toFixed(1)} (${range(r.decode, 1)}) | ${((r.decodeTokS * decodeBytes) / 1e9).toFixed(0)} | ${r.loadMs.toFixed(0)} |`);
lines.push('', `A decoded token reads ${(decodeBytes / 1e9).toFixed(2)} GB of weights (attention, router, ${c.topK} experts per layer, lm_head); ` +
  `prefill FLOPs per token ${(prefillFlopsPerToken / 1e9).toFixed(1)} G. Times include the host round trip of each eval (logits download).`);
const text = lines.join('\n') + '\n';
console.log(text);
if (!values['no-write']) appendFileSync(join(here, 'RESULTS.md'), text);
