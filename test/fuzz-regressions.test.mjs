// Every case the fuzzer kept (a crash, hang or untyped error when it was found; test/fixtures/fuzz-regressions/)
// now ends in a typed error or a load, in a fresh child process.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { regressionCases, replay } from '../fuzz/replay.mjs';

const cases = regressionCases();

test('there are kept fuzz cases to replay', () => {
  assert.ok(cases.length >= 1);
});

test('each kept fuzz case gives a typed error or loads', { timeout: 600_000 }, async () => {
  for (const { name, case: c, result } of await replay(cases))
    assert.ok(['typed', 'loaded'].includes(result.outcome), `${name} (${c.note}): ${result.outcome}: ${result.message}\n${result.stderr ?? ''}`);
});
