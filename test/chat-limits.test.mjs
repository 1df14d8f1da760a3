// Bounded chat templates: a template from a model folder cannot hold the event loop past templateLimits.timeMs,
// build strings past outputChars, or recurse past depth; each gives SmoeError CHAT_TEMPLATE_LIMIT naming the
// limit, and rendering keeps working afterwards.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { ChatTemplate, DEFAULT_TEMPLATE_LIMITS, loadModel } from '../dist/index.js';
import { copyModel } from './helpers.mjs';

const MSGS = [{ role: 'user', content: 'Hi' }];
const ECHO = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}";
// Without the bound, this loop held the event loop for more than a minute (issue 15).
const BIG_LOOP = '{% for i in range(100000000) %}x{% endfor %}';
const NESTED_LOOPS = '{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}';
const DOUBLING = "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}";
const RECURSION = '{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}';
const TWO_WAY_RECURSION = '{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}';

/** Runs `fn`, expecting CHAT_TEMPLATE_LIMIT on `limit`; returns the milliseconds it blocked. */
function limitHit(fn, limit) {
  const t0 = Date.now();
  assert.throws(fn, (e) => {
    assert.equal(e.name, 'SmoeError');
    assert.equal(e.code, 'CHAT_TEMPLATE_LIMIT', e.message);
    assert.equal(e.field, `templateLimits.${limit}`, e.message);
    assert.match(e.message, new RegExp(`templateLimits\\.${limit}`));
    return true;
  });
  return Date.now() - t0;
}

// The bound is timeMs; the slack covers a loaded machine (the unbounded loop took more than 60 s).
const SLACK_MS = 4000;

test('range(100000000) stops at once: the range is longer than outputChars', () => {
  const ms = limitHit(() => new ChatTemplate(BIG_LOOP).render(MSGS), 'outputChars');
  assert.ok(ms < DEFAULT_TEMPLATE_LIMITS.timeMs + SLACK_MS, `blocked ${ms} ms`);
});

test('range(100000000) with outputChars raised: stopped at timeMs (the worker is killed or runs out of heap)', () => {
  const t = new ChatTemplate(BIG_LOOP, { timeMs: 300, outputChars: 200_000_000 });
  const ms = limitHit(() => t.render(MSGS), 'timeMs');
  assert.ok(ms >= 300 && ms < 300 + SLACK_MS, `blocked ${ms} ms`);
});

test('nested loops of 10^10 steps: stopped at timeMs', () => {
  const ms = limitHit(() => new ChatTemplate(NESTED_LOOPS, { timeMs: 300 }).render(MSGS), 'timeMs');
  assert.ok(ms >= 300 && ms < 300 + SLACK_MS, `blocked ${ms} ms`);
});

test('a string doubled 40 times: stopped at outputChars as it grows', () => {
  limitHit(() => new ChatTemplate(DOUBLING).render(MSGS), 'outputChars');
  limitHit(() => new ChatTemplate(DOUBLING, { outputChars: 1000 }).render(MSGS), 'outputChars');
});

test('output longer than outputChars (a long message) is refused; a shorter one renders', () => {
  const t = new ChatTemplate(ECHO, { outputChars: 100 });
  assert.equal(t.render([{ role: 'user', content: 'x'.repeat(80) }]), `user: ${'x'.repeat(80)}\n`);
  limitHit(() => t.render([{ role: 'user', content: 'x'.repeat(100) }]), 'outputChars');
});

test('endless macro recursion: stopped at depth (default and raised), before the stack runs out', () => {
  // (timeMs raised: on a loaded machine 5000 nested macro calls can take more than the default second)
  limitHit(() => new ChatTemplate(RECURSION, { timeMs: 30_000 }).render(MSGS), 'depth');
  limitHit(() => new ChatTemplate(RECURSION, { depth: 5000, timeMs: 30_000 }).render(MSGS), 'depth');
});

test('recursion of 2^60 calls within the depth: stopped at timeMs', () => {
  const ms = limitHit(() => new ChatTemplate(TWO_WAY_RECURSION, { timeMs: 300 }).render(MSGS), 'timeMs');
  assert.ok(ms < 300 + SLACK_MS, `blocked ${ms} ms`);
});

test('after a stopped render, templates render again (a fresh worker)', () => {
  limitHit(() => new ChatTemplate(NESTED_LOOPS, { timeMs: 200 }).render(MSGS), 'timeMs');
  assert.equal(new ChatTemplate(ECHO).render(MSGS), 'user: Hi\n');
  assert.equal(new ChatTemplate('{{ range(3) | join(",") }}|{{ range(1, 10, 3) | join(",") }}|{{ range(5, 0, -2) | join(",") }}').render(MSGS),
    '0,1,2|1,4,7|5,3,1');
});

test('bad limits: INVALID_OPTION naming the field', () => {
  for (const [limits, field] of [[{ timeMs: 0 }, 'templateLimits.timeMs'], [{ outputChars: 1.5 }, 'templateLimits.outputChars'],
    [{ depth: 'deep' }, 'templateLimits.depth'], [{ time: 5 }, 'templateLimits.time']]) {
    assert.throws(() => new ChatTemplate(ECHO, limits), (e) => e.code === 'INVALID_OPTION' && e.field === field, JSON.stringify(limits));
  }
  assert.throws(() => new ChatTemplate(ECHO, 5), (e) => e.code === 'INVALID_OPTION' && e.field === 'templateLimits');
});

test('a model folder with a hostile chat template: applyChatTemplate() and chat() throw CHAT_TEMPLATE_LIMIT', async () => {
  const { dir, cleanup } = copyModel();
  try {
    const file = join(dir, 'tokenizer_config.json');
    const cfg = JSON.parse(readFileSync(file, 'utf8'));
    cfg.chat_template = NESTED_LOOPS;
    writeFileSync(file, JSON.stringify(cfg));
    const model = await loadModel(dir, { threads: 1, templateLimits: { timeMs: 250 } });
    try {
      const ms = limitHit(() => model.applyChatTemplate(MSGS, { addGenerationPrompt: true }), 'timeMs');
      assert.ok(ms < 250 + SLACK_MS, `blocked ${ms} ms`);
      limitHit(() => model.chat(MSGS, { maxTokens: 2 }), 'timeMs');
    } finally {
      await model.close();
    }
    await assert.rejects(loadModel(dir, { templateLimits: { timeMs: -1 } }), (e) => e.code === 'INVALID_OPTION' && e.field === 'templateLimits.timeMs');
  } finally {
    cleanup();
  }
});
