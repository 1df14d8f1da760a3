// A fuzz campaign: for each format, `cases` seeded mutations of the base folder, each run in a child
// process (a pool of `jobs`, restarted after every `recycle` cases), classified as typed error / loaded /
// untyped error / crash (the child died) / hang (no answer within `timeoutMs`; the child is killed).
// Crashes, hangs and untyped errors are kept as regression fixtures (saveRegression).
import { fork } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { makeBase, REPO, writeCase } from './base.mjs';
import { caseSeed, FuzzRng } from './rng.mjs';

export const REGRESSIONS = join(REPO, 'test', 'fixtures', 'fuzz-regressions');
const CHILD = join(REPO, 'fuzz', 'child.mjs');
export const BAD = ['untyped', 'crash', 'hang'];

/** A child process that runs cases; `run(dir)` resolves to a result whatever happens to the child. */
export class CaseRunner {
  #proc = null;
  #ready = null;
  #done = 0;
  #stderr = '';

  constructor(timeoutMs, recycle, env) {
    Object.assign(this, { timeoutMs, recycle, env });
  }

  #start() {
    this.#stderr = '';
    this.#proc = fork(CHILD, [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env: this.env, execArgv: [] });
    this.#proc.stderr.on('data', (d) => (this.#stderr = (this.#stderr + d).slice(-4000)));
    const proc = this.#proc;
    this.#ready = new Promise((resolve) => {
      proc.once('message', resolve);
      proc.once('exit', resolve);
    });
    this.#done = 0;
  }

  async run(id, dir, exercise = 'model') {
    if (this.#proc === null || this.#done >= this.recycle) {
      this.stop();
      this.#start();
    }
    const proc = this.#proc;
    await this.#ready;
    this.#done++;
    this.#stderr = '';
    return await new Promise((resolve) => {
      const finish = (result) => {
        clearTimeout(timer);
        proc.off('message', onMessage);
        proc.off('exit', onExit);
        resolve(result);
      };
      const onMessage = (m) => {
        if (m.id === id) finish(m.result);
      };
      const onExit = (code, signal) => {
        this.#proc = null;
        finish({ outcome: 'crash', message: `child exited (code ${code}, signal ${signal})`, stderr: this.#stderr });
      };
      const timer = setTimeout(() => {
        proc.off('exit', onExit);
        proc.kill('SIGKILL');
        this.#proc = null;
        finish({ outcome: 'hang', message: `no answer within ${this.timeoutMs} ms (killed)`, stderr: this.#stderr });
      }, this.timeoutMs);
      proc.on('message', onMessage);
      proc.on('exit', onExit);
      if (!proc.connected) return onExit(proc.exitCode, proc.signalCode);
      proc.send({ id, dir, exercise });
    });
  }

  stop() {
    if (this.#proc !== null) {
      this.#proc.kill('SIGKILL');
      this.#proc = null;
    }
  }
}

/** The files of one case: { files, note } from the format's mutator, seeded by (seed, format, index). */
export function makeCase(format, base, seed, index) {
  return format.mutate(new FuzzRng(caseSeed(seed, format.name, index)), base);
}

/** Keeps a bad case: test/fixtures/fuzz-regressions/<format>-s<seed>-c<index>/case.json. */
export function saveRegression(format, seed, index, files, note, result, dir = REGRESSIONS) {
  const out = join(dir, `${format.name}-s${seed}-c${index}`);
  mkdirSync(out, { recursive: true });
  const { stderr, ...found } = result;
  writeFileSync(join(out, 'case.json'), JSON.stringify({ format: format.name, exercise: format.exercise, exclusive: format.exclusive, seed, index, note, found, stderr: stderr?.slice(-2000), files }, null, 1) + '\n');
  return out;
}

/**
 * Runs the campaign (`only`: just that case index); `onCase(format, index, result, note)` sees every case. Fills
 * and resolves to `summary`: { [format]: { cases, typed, loaded, untyped, crash, hang, codes: { code: n }, kept } }.
 */
export async function runCampaign({
  formats, cases, only, seed, jobs = 2, timeoutMs = 20_000, recycle = 200, work, keep = true, env = process.env, onCase = () => {}, summary = {},
}) {
  const base = makeBase(join(work, 'base'));
  const runners = Array.from({ length: jobs }, () => new CaseRunner(timeoutMs, recycle, env));
  try {
    for (const format of formats) {
      if (format.prepare) await format.prepare(base);
      const s = (summary[format.name] = { cases: 0, typed: 0, loaded: 0, untyped: 0, crash: 0, hang: 0, codes: {}, kept: [] });
      const indices = only !== undefined ? [only] : Array.from({ length: cases }, (_, i) => i);
      let next = 0;
      await Promise.all(runners.map(async (runner, slot) => {
        for (let k = next++; k < indices.length; k = next++) {
          const i = indices[k];
          const { files, note } = makeCase(format, base, seed, i);
          const dir = writeCase(join(work, `case-${slot}-${i}`), base, files, { exclusive: format.exclusive });
          const result = await runner.run(`${format.name}/${i}`, dir, format.exercise);
          s.cases++;
          s[result.outcome]++;
          if (result.outcome === 'typed') s.codes[result.code] = (s.codes[result.code] ?? 0) + 1;
          if (BAD.includes(result.outcome) && keep) s.kept.push(saveRegression(format, seed, i, files, note, result));
          rmSync(dir, { recursive: true, force: true });
          onCase(format.name, i, result, note);
        }
      }));
    }
  } finally {
    for (const r of runners) r.stop();
    rmSync(join(work), { recursive: true, force: true });
  }
  return summary;
}
