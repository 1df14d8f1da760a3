// A short fuzz run (fuzz/, `npm run fuzz` for long ones): a fixed seed, 150 cases of every format (60 GGUF), each in a
// child process. None may crash, hang or throw an untyped error, and every format must produce both typed
// errors and loads (the mutations reach past the first check and are not all rejected).
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { BAD, runCampaign } from '../fuzz/campaign.mjs';
import { FORMATS } from '../fuzz/formats/index.mjs';

const SEED = 15;
const CASES = 150;
// GGUF cases build the whole 32,000-token vocabulary from metadata each time: fewer of them.
const CASES_OF = { gguf: 60 };

test(`fuzz: ${CASES} cases of each format (GGUF ${CASES_OF.gguf}) (seed ${SEED}): typed errors or loads, no crash, hang or untyped error`, { timeout: 600_000 }, async () => {
  const bad = [];
  const summary = {};
  for (const f of FORMATS) await runCampaign({
    summary, formats: [f], cases: CASES_OF[f.name] ?? CASES, seed: SEED, jobs: 2, timeoutMs: 30_000, keep: false,
    work: join(tmpdir(), `smoe-fuzz-test-${process.pid}-${f.name}`),
    onCase(format, i, r, note) {
      if (BAD.includes(r.outcome)) bad.push(`${format} case ${i}: ${r.outcome}: ${note}\n  ${r.message}\n  (reproduce: npm run fuzz -- --formats ${format} --seed ${SEED} --only ${i})`);
    },
  });
  assert.deepEqual(bad, []);
  for (const f of FORMATS) {
    const s = summary[f.name];
    assert.equal(s.cases, CASES_OF[f.name] ?? CASES, f.name);
    assert.ok(s.typed > 0 && s.loaded > 0, `${f.name}: ${s.typed} typed errors, ${s.loaded} loads`);
  }
});
