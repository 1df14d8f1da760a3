#!/usr/bin/env node
// npm run fuzz [-- --cases N --seed S --formats a,b --only I --jobs J --timeout-ms T --no-keep --json]
// (--only I: just case I of each format, to reproduce one)
// Seeded, structure-aware fuzzing of every file smoe parses (fuzz/formats/). Prints per format: cases, typed
// errors, loads, untyped errors, crashes, hangs, and the error codes seen; keeps each bad case under
// test/fixtures/fuzz-regressions/ (replayed by test/fuzz-regressions.test.mjs). Exit code 1 when any case was bad.
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { BAD, runCampaign } from './campaign.mjs';
import { FORMATS } from './formats/index.mjs';

const { values: a } = parseArgs({
  options: {
    cases: { type: 'string', default: '200' },
    only: { type: 'string' },
    seed: { type: 'string', default: '1' },
    formats: { type: 'string' },
    jobs: { type: 'string', default: '2' },
    'timeout-ms': { type: 'string', default: '20000' },
    'no-keep': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
  },
});
const names = a.formats ? a.formats.split(',') : FORMATS.map((f) => f.name);
const formats = names.map((n) => FORMATS.find((f) => f.name === n) ?? fail(`unknown format '${n}' (known: ${FORMATS.map((f) => f.name).join(', ')})`));
const cases = Number(a.cases);
const only = a.only === undefined ? undefined : Number(a.only);
const seed = Number(a.seed);
const work = join(process.platform === 'linux' ? '/dev/shm' : tmpdir(), `smoe-fuzz-${process.pid}`);

const t0 = Date.now();
let done = 0;
const summary = {};
// Stopped early (SIGTERM / SIGINT): print what was done so far.
for (const sig of ['SIGTERM', 'SIGINT'])
  process.on(sig, () => {
    console.log(`stopped by ${sig} after ${done} cases`);
    report();
    rmSync(work, { recursive: true, force: true });
    process.exit(Object.values(summary).some((s) => s.untyped + s.crash + s.hang > 0) ? 1 : 0);
  });
await runCampaign({
  summary,
  formats, cases, only, seed, jobs: Number(a.jobs), timeoutMs: Number(a['timeout-ms']), work, keep: !a['no-keep'],
  onCase(format, i, r, note) {
    done++;
    if (BAD.includes(r.outcome)) console.error(`fuzz: ${format} case ${i} (seed ${seed}): ${r.outcome.toUpperCase()}: ${note}\n  ${r.message?.split('\n')[0]?.slice(0, 300)}`);
    else if (!a.quiet && done % 500 === 0) console.error(`fuzz: ${done} cases, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  },
});

report();
process.exitCode = Object.values(summary).some((s) => s.untyped + s.crash + s.hang > 0) ? 1 : 0;

function report() {
  if (a.json) return console.log(JSON.stringify(summary, null, 1));
  console.log(`seed ${seed}, ${only ?? cases} cases per format asked, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  console.log('format             cases  typed  loaded  untyped  crash  hang');
  for (const [name, s] of Object.entries(summary))
    console.log(`${name.padEnd(17)} ${String(s.cases).padStart(6)} ${String(s.typed).padStart(6)} ${String(s.loaded).padStart(7)} ${String(s.untyped).padStart(8)} ${String(s.crash).padStart(6)} ${String(s.hang).padStart(5)}`);
  for (const [name, s] of Object.entries(summary))
    console.log(`${name}: ${Object.entries(s.codes).sort((x, y) => y[1] - x[1]).map(([c, n]) => `${c} ${n}`).join(', ')}`);
  for (const s of Object.values(summary)) for (const k of s.kept) console.log(`kept ${k}`);
}

function fail(msg) {
  console.error(`fuzz: ${msg}`);
  process.exit(2);
}
