#!/usr/bin/env node
// smoe side by side with llama.cpp on the same model files (npm run bench:peer), in one run on this machine:
//   1. builds llama.cpp once (bench/peer/build-llama-cpp.sh DEST; a bench-only step, never a dependency),
//   2. writes the model pair once (bench/peer/make-mixtral-pair.py: HF f16 + HF bf16 + GGUF f16 from the same
//      numbers) and quantizes the GGUF with llama-quantize (bf16, q8_0, q4_k_m, q6_k),
//   3. probes the read bandwidth, FMA and int8 MAC peaks (bench/roofline.cpp) on each thread count, before and after,
//   4. alternates smoe and `llama-bench -p P -n N -t T -r 1` run by run (each run a fresh process), for every
//      type and thread count; smoe also decodes with expertsPerToken 1 (top-1),
//   5. appends to bench/RESULTS.md a table of medians: tok/s, ratio smoe / llama.cpp, bytes per decoded token
//      (the active weights in their stored format, read from the GGUF), share of the probed bandwidth, thread
//      scaling, the top-1 speed-up, CPU model and flags, smoe's SIMD path, date and command.
// smoe loads F16 / BF16 from the HF folders, and the quantized types from the GGUF file once it reads GGUF;
// a type smoe cannot load is skipped with smoe's own error as the reason (llama.cpp still runs it).
//   node bench/peer.mjs [--shape 1024 | mixtral-width | H,FF,L,E,NH,NKV] [--types f16,bf16,q8_0,q4_k_m,q6_k]
//     [--threads 1,2] [--reps 5] [--prompt 128] [--decode 32] [--simd auto[,avx2]] [--llama DEST (or
//     SMOE_LLAMA_DIR; default /tmp/llama)] [--llama-bin DIR (its binaries; default DEST/src/build/bin)]
//     [--data DIR] [--no-write]
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, statSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const { values } = parseArgs({
  options: {
    shape: { type: 'string', default: '1024' }, types: { type: 'string' }, threads: { type: 'string', default: '1,2' },
    reps: { type: 'string', default: '5' }, prompt: { type: 'string', default: '128' }, decode: { type: 'string', default: '32' },
    simd: { type: 'string', default: 'auto' }, llama: { type: 'string' }, 'llama-bin': { type: 'string' },
    data: { type: 'string' },
    'no-write': { type: 'boolean', default: false }, child: { type: 'string' },
  },
});
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// ---- one smoe measurement, in a fresh process: prefill of P tokens and decode of N tokens, each from an
// empty sequence (as llama-bench's pp and tg tests), after a warm-up that faults the mapped weights in.
if (values.child) {
  const a = JSON.parse(values.child);
  const { loadModel } = await import('../dist/index.js');
  if (a.check) {
    // The same numbers in both files: the largest logit difference between the HF folder and the GGUF.
    const ids = [1, 415, 2936, 9060, 285, 1142, 28705, 13];
    const rows = [];
    for (const src of a.check) {
      const m = await loadModel(src, { threads: 1 });
      rows.push(await m.logits(ids));
      await m.close();
    }
    console.log(JSON.stringify({ maxDiff: rows[0].reduce((mx, v, i) => Math.max(mx, Math.abs(v - rows[1][i])), 0) }));
    process.exit(0);
  }
  let model;
  try {
    model = await loadModel(a.model, { threads: a.threads, simd: a.simd, ...(a.interleave !== undefined ? { interleave: a.interleave } : {}) });
  } catch (e) {
    console.log(JSON.stringify({ error: `smoe cannot load ${a.model}: ${e.code ?? e.name}: ${e.message}` }));
    process.exit(0);
  }
  const V = model.config.vocabSize;
  const prompt = Array.from({ length: a.prompt }, (_, i) => 1 + ((i * 7919 + 17) % (V - 1)));
  const decode = async (k) => {
    const s = model.createSequence();
    const t = performance.now();
    for (let i = 0; i < a.decode; i++) await s.eval([1 + ((i * 104729) % (V - 1))], { expertsPerToken: k });
    const tps = a.decode / ((performance.now() - t) / 1000);
    s.dispose();
    return tps;
  };
  { const s = model.createSequence(); await s.eval(prompt); s.dispose(); }  // warm-up
  await decode(model.config.topK);
  const s = model.createSequence();
  const t = performance.now();
  await s.eval(prompt);
  const prefill = a.prompt / ((performance.now() - t) / 1000);
  s.dispose();
  const out = { prefill, decode: await decode(model.config.topK), simd: model.info.simd, topK: model.config.topK, mmap: model.info.mmap };
  if (model.config.topK > 1) out.decodeTop1 = await decode(1);
  await model.close();
  console.log(JSON.stringify(out));
  process.exit(0);
}

// ---- settings ------------------------------------------------------------------------------------------
const SHAPES = { '1024': [1024, 3584, 8, 8, 16, 4], 'mixtral-width': [4096, 14336, 2, 8, 32, 8] };
const shapeName = values.shape;
const shape = SHAPES[shapeName] ?? shapeName.split(',').map(Number);
if (shape.length !== 6 || shape.some((v) => !Number.isInteger(v) || v <= 0))
  throw new Error(`--shape: 1024, mixtral-width or H,FF,L,E,NH,NKV (got ${shapeName})`);
const ALL_TYPES = ['f16', 'bf16', 'q8_0', 'q4_k_m', 'q6_k'];
// The Mixtral-width files are ~6 GB each in f16: by default only the types the issue asks for there.
const types = (values.types ?? (shapeName === 'mixtral-width' ? 'f16,q4_k_m' : ALL_TYPES.join(','))).split(',');
for (const t of types) if (!ALL_TYPES.includes(t)) throw new Error(`--types: each of ${ALL_TYPES.join(', ')} (got ${t})`);
const threadList = values.threads.split(',').map(Number);
const reps = Number(values.reps), promptLen = Number(values.prompt), decodeLen = Number(values.decode);
const simds = values.simd.split(',');
const llamaDir = values.llama ?? process.env.SMOE_LLAMA_DIR ?? '/tmp/llama';
// --llama-bin: another build of the same source (e.g. one without AMX, whose kernels crash on some Xeons:
// ggml-org/llama.cpp#20824); llama-quantize and llama-bench come from it.
const bin = values['llama-bin'] ?? join(llamaDir, 'src', 'build', 'bin');
const dataDir = values.data ?? join(here, 'data', `peer-${shapeName.replace(/,/g, 'x')}`);
const log = (m) => console.error(`[peer] ${m}`);

// ---- 1. llama.cpp --------------------------------------------------------------------------------------
if (values['llama-bin'] && !existsSync(join(bin, 'llama-bench'))) throw new Error(`--llama-bin ${bin}: no llama-bench there`);
if (!existsSync(join(bin, 'llama-bench'))) {
  log(`building llama.cpp into ${llamaDir} (once; ~10 minutes on 2 cores) ...`);
  execFileSync('bash', [join(here, 'peer', 'build-llama-cpp.sh'), llamaDir], { stdio: 'inherit' });
}
const llamaCommit = (() => {
  try { return execFileSync('git', ['-C', join(llamaDir, 'src'), 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim(); }
  catch { return '?'; }
})();

// ---- 2. the model files --------------------------------------------------------------------------------
const ggufPy = join(llamaDir, 'src', 'gguf-py');
const pyEnv = { ...process.env, GGUF_PY: ggufPy, PYTHONPATH: [ggufPy, process.env.PYTHONPATH].filter(Boolean).join(':') };
const f16Gguf = join(dataDir, 'model-f16.gguf');
// Only the parts this run needs and lacks (the bf16 folder of the Mixtral width alone is 6 GB).
const parts = [['hf-f16', join(dataDir, 'hf-f16', 'model.safetensors'), true], ['hf-bf16', join(dataDir, 'hf-bf16', 'model.safetensors'), types.includes('bf16')],
  ['gguf', f16Gguf, true]].filter(([, file, wanted]) => wanted && !existsSync(file)).map(([name]) => name);
if (parts.length) {
  log(`writing ${parts.join(', ')} of the model pair (shape ${shape.join(',')}) to ${dataDir} ...`);
  execFileSync('python3', [join(here, 'peer', 'make-mixtral-pair.py'), dataDir, ...shape.map(String)], { stdio: 'inherit', env: { ...pyEnv, PAIR_PARTS: parts.join(',') } });
}
const ggufOf = (t) => join(dataDir, `model-${t}.gguf`);
for (const t of types) {
  if (t === 'f16' || existsSync(ggufOf(t))) continue;
  log(`llama-quantize ${t} ...`);
  // The quantized files come from DEST's own build: a --llama-bin build may carry llama-bench alone.
  execFileSync(join(llamaDir, 'src', 'build', 'bin', 'llama-quantize'), [f16Gguf, ggufOf(t), t.toUpperCase()], { stdio: ['ignore', 'ignore', 'inherit'] });
}
// Bytes a decoded token reads: every tensor once, but one row of the embedding and K / E of the experts.
const bytesPy = `
import json, sys
from gguf import GGUFReader
out = {}
for path in sys.argv[2:]:
    r = GGUFReader(path); E = int(sys.argv[1].split(",")[0]); K = int(sys.argv[1].split(",")[1])
    total = active = 0
    for t in r.tensors:
        n = int(t.n_bytes); total += n
        if t.name == "token_embd.weight": active += n // int(t.shape[-1])
        elif "_exps." in t.name: active += n * K // E
        else: active += n
    out[path] = {"total": total, "active": active}
print(json.dumps(out))`;
const E = shape[3], K = 2;
const bytes = JSON.parse(execFileSync('python3', ['-c', bytesPy, `${E},${K}`, ...types.map((t) => ggufOf(t))], { encoding: 'utf8', env: pyEnv }));
const smoeSource = (t) => (t === 'f16' ? join(dataDir, 'hf-f16') : t === 'bf16' ? join(dataDir, 'hf-bf16') : ggufOf(t));

// The pair check: smoe's logits from each HF folder and the GGUF of the same type (where smoe reads GGUF).
const pairCheck = [];
for (const t of ['f16', 'bf16'].filter((x) => types.includes(x))) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', JSON.stringify({ check: [smoeSource(t), ggufOf(t)] })], { encoding: 'utf8' });
  pairCheck.push(r.status === 0 ? `${t} ${JSON.parse(r.stdout.trim().split('\n').pop()).maxDiff.toExponential(1)}` : `${t} not checked (${r.stderr.trim().split('\n').pop()})`);
}
log(`pair check (max |logit diff| HF vs GGUF, smoe): ${pairCheck.join(', ')}`);

// ---- 3. the limits -------------------------------------------------------------------------------------
const probeBin = join(tmpdir(), 'smoe-roofline');
execFileSync('g++', ['-O3', '-pthread', join(here, 'roofline.cpp'), '-o', probeBin]);
const probes = Object.fromEntries(threadList.map((n) => [n, []]));
const probe = () => { for (const n of threadList) probes[n].push(JSON.parse(execFileSync(probeBin, [String(n)], { encoding: 'utf8' }))); };
log('probing read bandwidth and FMA peak ...');
probe();

// ---- 4. alternating runs -------------------------------------------------------------------------------
const runSmoe = (t, threads, simd) => {
  const args = JSON.stringify({ model: smoeSource(t), threads, simd, prompt: promptLen, decode: decodeLen });
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', args], { encoding: 'utf8' });
  if (r.status === 0) return JSON.parse(r.stdout.trim().split('\n').pop());
  return { error: `smoe failed (exit ${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' ').slice(0, 300)}` };
};
// mmap: llama.cpp's default on the CPU (--load-mode mmap: weights mapped in place) or --load-mode none (read into memory, as smoe's default does
// for a model that fits: bench/RESULTS.md shows both, so a ratio never hides where the weights live).
const runLlama = (t, threads, mmap) => {
  const r = spawnSync(join(bin, 'llama-bench'), ['-m', ggufOf(t), '-p', String(promptLen), '-n', String(decodeLen), '-t', String(threads),
    '-r', '1', '--load-mode', mmap ? 'mmap' : 'none', '-o', 'json'], { encoding: 'utf8' });
  if (r.signal) return { error: `killed by ${r.signal}` };
  if (r.status !== 0) return { error: (r.stderr.trim().split('\n').pop() || `exit ${r.status}`).slice(0, 200) };
  const rows = JSON.parse(r.stdout);
  return { prefill: rows.find((x) => x.n_prompt > 0).avg_ts, decode: rows.find((x) => x.n_gen > 0).avg_ts };
};
const keyOf = (t, n, simd) => `${t}|${n}|${simd}`;
const smoeRuns = {}, llamaRuns = {}, llamaReadRuns = {}, skipped = {}, llamaFailed = {};
for (let rep = 0; rep < reps; rep++) {
  for (const t of types)
    for (const n of threadList) {
      for (const simd of simds) {
        const k = keyOf(t, n, simd);
        if (skipped[k]) continue;
        const s = runSmoe(t, n, simd);
        if (s.error) { skipped[k] = s.error; log(`smoe ${t} skipped: ${s.error}`); }
        else (smoeRuns[k] ??= []).push(s);
      }
      for (const [mmap, runs, mode] of [[true, llamaRuns, 'mmap'], [false, llamaReadRuns, 'read-in']]) {
        const l = runLlama(t, n, mmap);
        if (l.error) { llamaFailed[`${t} t${n} ${mode}`] = l.error; log(`llama.cpp ${mode} ${t} failed: ${l.error}`); }
        else (runs[`${t}|${n}`] ??= []).push(l);
      }
      log(`rep ${rep + 1}/${reps} ${t} t${n} done`);
    }
}
probe();

// ---- 5. the table --------------------------------------------------------------------------------------
const cpuModel = cpus()[0]?.model ?? 'unknown CPU';
const flags = (() => {
  try {
    const f = readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1].trim().split(/\s+/) ?? [];
    return ['avx2', 'fma', 'f16c', 'avx512f', 'avx512bw', 'avx512_vnni', 'avx512_bf16', 'avx_vnni'].filter((x) => f.includes(x)).join(' ');
  } catch { return '?'; }
})();
const range = (xs, f, d) => { const v = xs.map(f); return `${Math.min(...v).toFixed(d)}–${Math.max(...v).toFixed(d)}`; };
const fmt = (x, d = 1) => (x === undefined ? '—' : x.toFixed(d));
const lines = [];
const date = new Date().toISOString().replace('T', ' ').slice(0, 16);
const cmd = `npm run bench:peer -- ${process.argv.slice(2).join(' ')}`.trim();
lines.push(`\n## ${date} UTC — smoe vs llama.cpp, ${cpuModel}, ${cpus().length} cores`, '');
lines.push(`Command: \`${cmd}\`. Model: random Mixtral shape ${shape.join(',')} (hidden, ff, layers, experts, heads, kv heads; vocab 32000, ` +
  `top-2), files in ${dataDir.startsWith(root) ? relative(root, dataDir) : dataDir}. prefill-${promptLen} and decode-${decodeLen} tok/s, each from an empty context, ` +
  `median of ${reps} runs, smoe and \`llama-bench -p ${promptLen} -n ${decodeLen} -t T -r 1\` alternating run by run (fresh process each), ` +
  `llama.cpp both with its CPU default (weights mapped, --load-mode mmap) and with --load-mode none (read into memory); smoe with its default, ` +
  `mmap 'auto' (weights ${Object.values(smoeRuns).flat().some((x) => x.mmap) ? 'mapped in some runs' : 'read into huge-page memory in every run'}). ` +
  `llama.cpp ${llamaCommit} (node-llama-cpp 3.22.1's source, bench/peer/build-llama-cpp.sh).`);
if (pairCheck.length) lines.push(`Same numbers in both formats: smoe's max |logit difference| HF folder vs GGUF on 8 tokens: ${pairCheck.join(', ')}.`);
lines.push(`CPU flags: ${flags}. Limits (bench/roofline.cpp, before / after): ` + threadList.map((n) =>
  `${n} thread${n > 1 ? 's' : ''}: read ${probes[n].map((p) => p.readGBs).join(' / ')} GB/s, FMA ${probes[n].map((p) => p.fmaAvx512GFlops ?? p.fmaAvx2GFlops).join(' / ')} GFLOP/s, ` +
  `int8 MAC (AVX2 vpmaddubsw + vpmaddwd) ${probes[n].map((p) => p.int8Avx2GMacs).join(' / ')} GMAC/s`).join('; ') + '.');
lines.push('', '| type | threads | smoe SIMD | smoe prefill | llama.cpp prefill | ratio | smoe decode (min–max) | llama.cpp decode | ratio | llama.cpp read-in decode | ratio | MB / token | smoe GB/s (% of read) | llama.cpp GB/s (% of read) | smoe top-1 decode (speed-up) |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
const summary = {};
for (const t of types)
  for (const n of threadList)
    for (const simd of simds) {
      const s = smoeRuns[keyOf(t, n, simd)], l = llamaRuns[`${t}|${n}`];
      const readGBs = median(probes[n].map((p) => p.readGBs));
      const mb = bytes[ggufOf(t)].active / 1e6;
      const gbs = (tps) => (tps === undefined ? '—' : `${((tps * mb) / 1e3).toFixed(1)} (${Math.round((100 * tps * mb) / 1e3 / readGBs)}%)`);
      const lp = l && median(l.map((x) => x.prefill)), ld = l && median(l.map((x) => x.decode));
      const l0 = llamaReadRuns[`${t}|${n}`], ld0 = l0 && median(l0.map((x) => x.decode));
      if (!s) {
        lines.push(`| ${t} | ${n} | — | skipped: ${skipped[keyOf(t, n, simd)] ?? 'no run'} | ${fmt(lp, 0)} | — | — | ${fmt(ld)} | — | ${fmt(ld0)} | — | ${mb.toFixed(0)} | — | ${gbs(ld)} | — |`);
        continue;
      }
      const sp = median(s.map((x) => x.prefill)), sd = median(s.map((x) => x.decode));
      const s1 = s[0].decodeTop1 !== undefined ? median(s.map((x) => x.decodeTop1)) : undefined;
      summary[keyOf(t, n, simd)] = { sd, ld };
      lines.push(`| ${t} | ${n} | ${s[0].simd} | ${fmt(sp, 0)} | ${fmt(lp, 0)} | ${lp ? (sp / lp).toFixed(2) + 'x' : '—'} | ${fmt(sd)} (${range(s, (x) => x.decode, 1)}) | ` +
        `${fmt(ld)} | ${ld ? (sd / ld).toFixed(2) + 'x' : '—'} | ${fmt(ld0)} | ${ld0 ? (sd / ld0).toFixed(2) + 'x' : '—'} | ${mb.toFixed(0)} | ${gbs(sd)} | ${gbs(ld)} | ${s1 === undefined ? '—' : `${fmt(s1)} (${(s1 / sd).toFixed(2)}x)`} |`);
    }
if (threadList.length > 1) {
  const [a, b] = [threadList[0], threadList[threadList.length - 1]];
  const cells = [];
  for (const t of types)
    for (const simd of simds) {
      const x = summary[keyOf(t, a, simd)], y = summary[keyOf(t, b, simd)];
      if (x && y) cells.push(`${t}${simds.length > 1 ? ` (${simd})` : ''}: smoe ${(y.sd / x.sd).toFixed(2)}x, llama.cpp ${x.ld && y.ld ? (y.ld / x.ld).toFixed(2) + 'x' : '—'}`);
    }
  if (cells.length) lines.push('', `Decode thread scaling ${a} -> ${b}: ${cells.join('; ')}.`);
}
const failures = Object.entries(llamaFailed);
if (failures.length) lines.push('', `llama.cpp failed (a — in its columns): ${failures.map(([k, e]) => `${k}: ${e}`).join('; ')}.`);
const fileMb = (t) => (existsSync(ggufOf(t)) ? (statSync(ggufOf(t)).size / 1e6).toFixed(0) : '?');
lines.push('', `MB / token: the active weights a decoded token reads in the stored format (one embedding row, ${K} of ${E} experts), ` +
  `from the GGUF of each type (files: ${types.map((t) => `${t} ${fileMb(t)} MB`).join(', ')}); GB/s = decode tok/s x MB / token.`);
const text = lines.join('\n') + '\n';
console.log(text);
if (!values['no-write']) appendFileSync(join(here, 'RESULTS.md'), text);
