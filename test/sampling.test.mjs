// The sampler on hand-made logits: penalties and bias with hand-computed results, the token sets that
// top-k / top-p / min-p allow, draw frequencies against the softmax, seeding; the stop-string matcher.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { argmax, Rng, Sampler, StopStringMatcher } from '../dist/index.js';

const row = (xs) => Float32Array.from(xs);
const logs = (ps) => row(ps.map(Math.log));

/** Counts of `n` draws, each from a fresh copy of `logits`. */
function draws(sampler, logits, n) {
  const counts = new Map();
  for (let i = 0; i < n; i++) {
    const t = sampler.sample(logits.slice());
    counts.set(t, (counts.get(t) ?? 0) + 1);
  }
  return counts;
}

describe('greedy, penalties and bias', () => {
  test('argmax takes the first of equal maxima', () => {
    assert.equal(argmax(row([1, 3, 2])), 1);
    assert.equal(argmax(row([5, 2, 5])), 0);
    assert.equal(new Sampler({ temperature: 0 }).sample(row([0, 2, 2, 1])), 1);
  });

  test('repeatPenalty divides positive and multiplies negative logits of context tokens', () => {
    const s = new Sampler({ temperature: 0, repeatPenalty: 2 });
    s.observe([0, 2], false); // prompt tokens count for repeatPenalty
    const l = row([2, 1.5, -1, 0.5]);
    assert.equal(s.sample(l), 1);
    assert.deepEqual(Array.from(l), [1, 1.5, -2, 0.5]);
    // a token seen twice is penalised once
    const s2 = new Sampler({ temperature: 0, repeatPenalty: 2 });
    s2.observe([0, 0]);
    const l2 = row([4, 1]);
    s2.sample(l2);
    assert.deepEqual(Array.from(l2), [2, 1]);
  });

  test('frequency and presence penalties count generated tokens only', () => {
    const f = new Sampler({ temperature: 0, frequencyPenalty: 0.25 });
    f.observe([0, 0, 0], false);
    assert.equal(f.sample(row([3, 2.5])), 0, 'prompt tokens are not penalised');
    f.observe([0, 0]);
    const l = row([3, 2.75]);
    assert.equal(f.sample(l), 1);
    assert.deepEqual(Array.from(l), [2.5, 2.75]);
    const p = new Sampler({ temperature: 0, presencePenalty: 0.5 });
    p.observe([0, 0, 0]);
    const l2 = row([3, 2.75]);
    assert.equal(p.sample(l2), 1);
    assert.deepEqual(Array.from(l2), [2.5, 2.75]);
  });

  test('logitBias adds to logits, -Infinity bans', () => {
    assert.equal(new Sampler({ temperature: 0, logitBias: { 0: -1.5 } }).sample(row([3, 2])), 1);
    assert.equal(new Sampler({ temperature: 0, logitBias: { 2: 10 } }).sample(row([3, 2, -5])), 2);
    const banned = new Sampler({ temperature: 1, seed: 3, logitBias: { 0: -Infinity } });
    assert.deepEqual([...draws(banned, row([5, 0, 0]), 200).keys()].sort(), [1, 2]);
  });

  test('the vocabulary limit keeps padded ids out', () => {
    assert.equal(new Sampler({ temperature: 0 }, 2).sample(row([0, 1, 9])), 1);
  });
});

describe('truncation and draws', () => {
  const P = [0.5, 0.3, 0.15, 0.05];

  test('temperature 1 draws follow the softmax', () => {
    const c = draws(new Sampler({ temperature: 1, topK: 0, seed: 11 }), logs([0.6, 0.3, 0.1]), 20000);
    assert.ok(Math.abs(c.get(0) / 20000 - 0.6) < 0.02, `p0 ${c.get(0) / 20000}`);
    assert.ok(Math.abs(c.get(2) / 20000 - 0.1) < 0.015, `p2 ${c.get(2) / 20000}`);
  });

  test('temperature 0.5 sharpens: p^2 renormalised', () => {
    const c = draws(new Sampler({ temperature: 0.5, topK: 0, seed: 12 }), logs([0.6, 0.3, 0.1]), 20000);
    assert.ok(Math.abs(c.get(0) / 20000 - 0.36 / 0.46) < 0.02);
    assert.ok(Math.abs(c.get(1) / 20000 - 0.09 / 0.46) < 0.02);
  });

  test('topK keeps the k best (ties to the lower id); topK 1 is greedy', () => {
    assert.deepEqual([...draws(new Sampler({ topK: 2, seed: 1 }), logs(P), 2000).keys()].sort(), [0, 1]);
    const c = draws(new Sampler({ topK: 2, seed: 2 }), logs(P), 20000);
    assert.ok(Math.abs(c.get(0) / 20000 - 0.5 / 0.8) < 0.02);
    assert.deepEqual([...draws(new Sampler({ topK: 3, seed: 1 }), row([1, 2, 2, 2, 2]), 500).keys()].sort(), [1, 2, 3]);
    const one = new Sampler({ topK: 1, temperature: 5, seed: 9 });
    for (const l of [row([0, 1, 3, 2]), row([7, 7, 1]), logs(P)]) assert.equal(one.sample(l.slice()), argmax(l));
  });

  test('topP keeps the smallest set reaching P', () => {
    const keys = (o) => [...draws(new Sampler({ seed: 4, topK: 0, ...o }), logs(P), 3000).keys()].sort();
    assert.deepEqual(keys({ topP: 0.4 }), [0]);
    assert.deepEqual(keys({ topP: 0.75 }), [0, 1]);
    assert.deepEqual(keys({ topP: 0.85 }), [0, 1, 2]);
    assert.deepEqual(keys({ topP: 0.75, topK: 3 }), [0, 1]);
    assert.deepEqual(keys({ topP: 0.99, topK: 2 }), [0, 1]);
  });

  test('topP over a flat 32000-token row keeps the first half', () => {
    const s = new Sampler({ topK: 0, topP: 0.5, seed: 5 });
    const flat = new Float32Array(32000);
    let max = 0;
    for (let i = 0; i < 150; i++) max = Math.max(max, s.sample(flat.slice()));
    assert.ok(max < 16000 && max > 12000, `max id ${max}`);
  });

  test('topP on an irregular row draws only from the nucleus computed by sorting', () => {
    const V = 3000;
    const l = new Float32Array(V).map((_, i) => 4 * Math.sin(i * 12.9898) * Math.cos(i * 0.37));
    const p = Array.from(l, (x) => Math.exp(x));
    const z = p.reduce((a, b) => a + b, 0);
    const order = [...p.keys()].sort((a, b) => p[b] - p[a] || a - b);
    const nucleus = new Set();
    for (let c = 0, j = 0; c < 0.3 * z; j++) { nucleus.add(order[j]); c += p[order[j]]; }
    const seen = draws(new Sampler({ topK: 0, topP: 0.3, seed: 8 }), l, 3000);
    for (const t of seen.keys()) assert.ok(nucleus.has(t), `token ${t} is outside the nucleus`);
    assert.ok(seen.size >= nucleus.size * 0.8, `${seen.size} of ${nucleus.size}`);
    assert.ok(nucleus.size > 10);
  });

  test('minP drops tokens below minP x the top probability', () => {
    const keys = (o) => [...draws(new Sampler({ seed: 6, ...o }), logs(P), 3000).keys()].sort();
    assert.deepEqual(keys({ topK: 0, minP: 0.2 }), [0, 1, 2]); // floor 0.1
    assert.deepEqual(keys({ topK: 0, minP: 0.5 }), [0, 1]); // floor 0.25
    assert.deepEqual(keys({ topK: 3, minP: 0.5 }), [0, 1]);
    assert.deepEqual(keys({ topK: 0, topP: 0.99, minP: 0.2 }), [0, 1, 2]);
  });

  test('the same seed gives the same draws, another seed others', () => {
    const l = new Float32Array(1000).map((_, i) => Math.sin(i));
    const run = (seed) => { const s = new Sampler({ seed, topK: 0 }); return Array.from({ length: 50 }, () => s.sample(l.slice())); };
    assert.deepEqual(run(42), run(42));
    assert.notDeepEqual(run(42), run(43));
    const r = new Rng(7), r2 = new Rng(7);
    for (let i = 0; i < 100; i++) {
      const x = r.next();
      assert.ok(x >= 0 && x < 1);
      assert.equal(x, r2.next());
    }
  });

  test('bad sampling options are INVALID_OPTION naming the option', () => {
    for (const [o, field] of [[{ topP: 0 }, 'topP'], [{ temperature: -1 }, 'temperature'], [{ topK: 1.5 }, 'topK'], [{ minP: 2 }, 'minP'],
      [{ repeatPenalty: 0 }, 'repeatPenalty'], [{ seed: -2 }, 'seed'], [{ logitBias: { x: 1 } }, 'logitBias']])
      assert.throws(() => new Sampler(o), (e) => e.code === 'INVALID_OPTION' && e.field === field);
  });
});

describe('StopStringMatcher', () => {
  test('holds back a possible start and releases it when it does not match', () => {
    const m = new StopStringMatcher(['\nUser:']);
    assert.deepEqual(m.push('Hi!\nUs'), { text: 'Hi!' });
    assert.deepEqual(m.push('ed'), { text: '\nUsed' });
    assert.deepEqual(m.push(' it\n'), { text: ' it' });
    assert.equal(m.flush(), '\n');
  });

  test('finds a stop string spread over pieces and cuts what follows', () => {
    const m = new StopStringMatcher(['STOP', 'xyz']);
    assert.deepEqual(m.push('abS'), { text: 'ab' });
    assert.deepEqual(m.push('T'), { text: '' });
    assert.deepEqual(m.push('OP and more'), { text: '', stop: 'STOP' });
    assert.deepEqual(m.push('later'), { text: '' });
    assert.equal(m.flush(), '');
  });

  test('the earliest stop string wins', () => {
    assert.deepEqual(new StopStringMatcher(['cd', 'b']).push('abcd'), { text: 'a', stop: 'b' });
    assert.deepEqual(new StopStringMatcher([]).push('abc'), { text: 'abc' });
  });
});
