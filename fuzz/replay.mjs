// Replays kept fuzz cases (test/fixtures/fuzz-regressions/*/case.json): each is rebuilt over the base folder
// and run in a fresh child process, as the fuzzer ran it.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { makeBase, writeCase } from './base.mjs';
import { CaseRunner, REGRESSIONS } from './campaign.mjs';
import { FORMATS } from './formats/index.mjs';

/** The kept cases: [{ name, case }] where case is the parsed case.json. */
export function regressionCases(dir = REGRESSIONS) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((n) => existsSync(join(dir, n, 'case.json')))
    .map((name) => ({ name, case: JSON.parse(readFileSync(join(dir, name, 'case.json'), 'utf8')) }));
}

/** Runs each kept case; resolves to [{ name, case, result }]. */
export async function replay(cases, { timeoutMs = 30_000, env = process.env } = {}) {
  const work = mkdtempSync(join(tmpdir(), 'smoe-fuzz-replay-'));
  const runner = new CaseRunner(timeoutMs, 1, env);
  try {
    const base = makeBase(join(work, 'base'));
    // Formats whose base files come from prepare() (the GGUF file) get them made once.
    for (const f of FORMATS.filter((f) => f.prepare && cases.some((c) => c.case.format === f.name))) await f.prepare(base);
    const out = [];
    for (const c of cases) {
      const dir = writeCase(join(work, c.name), base, c.case.files, { exclusive: c.case.exclusive });
      out.push({ ...c, result: await runner.run(c.name, dir, c.case.exercise) });
    }
    return out;
  } finally {
    runner.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
