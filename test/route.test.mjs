// The router lens: model.route() against transformers' router choices, its statistics recomputed here from
// the reference data, `smoe route` (JSON, SVG, bad flags), and generate()'s router telemetry against a
// Sequence's routerTrace.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { loadModel, randomRates } from '../dist/index.js';
import { fixture, MODELS, reference } from './helpers.mjs';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli', 'main.js');

function smoe(args, env = {}) {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: 60000, env: { ...process.env, ...env }, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? err.code : 0, stdout, stderr });
    });
  });
}

/** The Mixtral paper's repetition rates, computed from per-position expert lists of one layer. */
function rates(perPosition) {
  let same = 0, any = 0;
  for (let i = 1; i < perPosition.length; i++) {
    if (perPosition[i][0] === perPosition[i - 1][0]) same++;
    if (perPosition[i].some((e) => perPosition[i - 1].includes(e))) any++;
  }
  return { same: same / (perPosition.length - 1), any: any / (perPosition.length - 1) };
}

const close = (a, b, eps = 1e-12) => Math.abs(a - b) <= eps;

for (const name of MODELS) {
  describe(`model.route() on ${name}`, () => {
    let model;
    const ref = reference(name);
    before(async () => { model = await loadModel(fixture(name), { threads: 2 }); });
    after(async () => { await model.close(); });

    test('every case: experts per layer and position equal transformers\' top-k', async () => {
      for (const c of ref.cases) {
        const r = await model.route(c.ids);
        assert.equal(r.layers, model.config.numLayers);
        assert.equal(r.experts, model.config.numExperts);
        assert.equal(r.topK, model.config.topK);
        assert.equal(r.tokens.length, c.ids.length);
        r.tokens.forEach((t, p) => {
          assert.equal(t.id, c.ids[p]);
          assert.equal(t.position, p);
          assert.equal(t.layers.length, r.layers);
        });
        for (let l = 0; l < r.layers; l++)
          for (let p = 0; p < c.ids.length; p++)
            assert.deepEqual(r.tokens[p].layers[l].experts, c.router_topk_per_layer[l][p], `layer ${l} position ${p}`);
      }
    });

    test('usage sums to 1 per layer; weights sum to 1; rates equal the ones recomputed from the reference', async () => {
      for (const c of ref.cases) {
        const r = await model.route(c.ids);
        for (let l = 0; l < r.layers; l++) {
          assert.ok(close(r.usage[l].reduce((a, b) => a + b, 0), 1, 1e-9), `usage of layer ${l}`);
          // usage recomputed from the reference's choices
          const counts = new Array(r.experts).fill(0);
          for (const choice of c.router_topk_per_layer[l]) for (const e of choice) counts[e]++;
          counts.forEach((n, e) => assert.ok(close(r.usage[l][e], n / (c.ids.length * r.topK)), `usage[${l}][${e}]`));
          const want = rates(c.router_topk_per_layer[l]);
          assert.ok(close(r.sameExpertRate[l], want.same), `sameExpertRate[${l}] ${r.sameExpertRate[l]} vs ${want.same}`);
          assert.ok(close(r.sameAnyRate[l], want.any), `sameAnyRate[${l}]`);
        }
        for (const t of r.tokens)
          for (const { weights } of t.layers) assert.ok(close(weights.reduce((a, b) => a + b, 0), 1, 1e-5));
      }
    });
  });
}

describe('model.route() options and text', () => {
  let model;
  const ref = reference('tiny-mixtral');
  before(async () => { model = await loadModel(fixture('tiny-mixtral'), { threads: 2 }); });
  after(async () => { await model.close(); });

  test('text is encoded with BOS like generate(); token texts are the decoded pieces', async () => {
    const c = ref.cases[2]; // code, an emoji in byte-fallback tokens, λ
    const r = await model.route(c.prompt);
    assert.deepEqual(r.tokens.map((t) => t.id), c.ids);
    assert.equal(r.tokens[0].text, '<s>');
    assert.equal(r.tokens.slice(1).map((t) => t.text).join(''), ' ' + c.prompt);
    assert.equal(r.tokens[1].text, ' def'.slice(0, r.tokens[1].text.length)); // the first word keeps its space
  });

  test('expertsPerToken: top-1 routing keeps the reference\'s first choice in layer 0', async () => {
    const c = ref.cases[1];
    const r = await model.route(c.ids, { expertsPerToken: 1 });
    assert.equal(r.topK, 1);
    r.tokens.forEach((t, p) => {
      assert.deepEqual(t.layers[0].experts, [c.router_topk_per_layer[0][p][0]]);
      assert.deepEqual(t.layers[0].weights, [1]);
    });
    for (let l = 0; l < r.layers; l++) assert.equal(r.sameAnyRate[l], r.sameExpertRate[l]); // one expert: the same measure
  });

  test('random-router baselines', () => {
    assert.deepEqual(model.route.length, 2);
    const { sameExpert, sameAny } = randomRates(8, 2);
    assert.ok(close(sameExpert, 1 / 8));
    assert.ok(close(sameAny, 1 - 15 / 28)); // 1 - C(6,2)/C(8,2), the Mixtral paper's ~46%
    assert.ok(close(randomRates(8, 1).sameAny, 1 / 8));
  });

  test('bad input is a clear error', async () => {
    await assert.rejects(model.route([]), (e) => e.code === 'EMPTY_INPUT');
    await assert.rejects(model.route([1], { expertsPerToken: 9 }), (e) => e.code === 'INVALID_OPTION');
    await assert.rejects(model.route([1], { bogus: 1 }), (e) => e.code === 'INVALID_OPTION');
    await assert.rejects(model.route([1e9]), (e) => e.code === 'TOKEN_OUT_OF_RANGE');
    await assert.rejects(model.route(42), (e) => e.code === 'INVALID_ARGUMENT');
  });
});

test('generate() router telemetry equals a Sequence\'s routerTrace of the same ids', async () => {
  const model = await loadModel(fixture('tiny-mixtral'), { threads: 2 });
  try {
    for (const c of reference('tiny-mixtral').cases.slice(0, 2)) {
      const gen = model.generate(c.ids, { temperature: 0, maxTokens: 12, ignoreEos: true, routerTrace: true });
      const steps = [];
      const tokens = [];
      for await (const piece of gen) {
        assert.ok(Array.isArray(piece.router));
        assert.equal(piece.router.length, piece.tokens.length);
        steps.push(...piece.router);
        tokens.push(...piece.tokens);
      }
      const r = await gen.result;
      assert.deepEqual(tokens, r.tokens);
      assert.deepEqual(r.tokens, c.greedy_new_ids.slice(0, 12));
      // Evaluate prompt + generated ids through one sequence: the generated tokens' steps must match.
      const seq = model.createSequence({ routerTrace: true });
      await seq.eval([...c.ids, ...r.tokens]);
      const want = seq.routerTrace.slice(c.ids.length);
      seq.dispose();
      assert.equal(steps.length, want.length);
      steps.forEach((s, i) => {
        assert.equal(s.position, want[i].position);
        assert.equal(s.token, want[i].token);
        s.layers.forEach((layer, l) => {
          assert.deepEqual(layer.experts, want[i].layers[l].experts, `token ${i} layer ${l}`);
          layer.weights.forEach((w, k) => assert.ok(Math.abs(w - want[i].layers[l].weights[k]) < 1e-4, `weight ${i}/${l}/${k}`));
        });
      });
    }
  } finally {
    await model.close();
  }
});

/** A minimal XML well-formedness check: every tag closes in order; returns the list of elements. */
function parseXml(text) {
  const body = text.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack = [];
  const elements = [];
  const re = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<!--[\s\S]*?-->/g;
  let last = 0, m;
  while ((m = re.exec(body))) {
    const between = body.slice(last, m.index);
    assert.ok(!/[<>]/.test(between), `stray markup near ${JSON.stringify(between.slice(0, 40))}`);
    assert.ok(!/&(?!(amp|lt|gt|quot|apos|#\d+);)/.test(between), 'unescaped &');
    last = re.lastIndex;
    if (m[0].startsWith('<!--')) continue;
    const [, closing, tag, attrs, selfClosing] = m;
    if (closing) {
      assert.equal(stack.pop()?.tag, tag, `</${tag}> closes the wrong element`);
      continue;
    }
    const attributes = Object.fromEntries([...attrs.matchAll(/([\w:-]+)="([^"]*)"/g)].map((a) => [a[1], a[2]]));
    const el = { tag, attributes, text: '' };
    if (stack.length) stack[stack.length - 1].children.push(el);
    el.children = [];
    elements.push(el);
    if (!selfClosing) stack.push(el);
    // text directly after an opening tag (up to the next tag)
    const next = body.indexOf('<', re.lastIndex);
    if (!selfClosing) el.text = body.slice(re.lastIndex, next === -1 ? undefined : next);
  }
  assert.equal(stack.length, 0, 'unclosed elements');
  assert.equal(body.slice(last).trim(), '');
  return elements;
}

describe('smoe route', { concurrency: 3 }, () => {
  const ref = reference('tiny-mixtral');
  const m = fixture('tiny-mixtral');
  let tmp;
  before(() => { tmp = mkdtempSync(join(tmpdir(), 'smoe-route-')); });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  test('--json: the experts of a fixture prompt equal transformers\'', async () => {
    for (const c of ref.cases.filter((x) => x.prompt)) {
      const r = await smoe(['route', '--model', m, '--text', c.prompt, '--json', '--threads', '1']);
      assert.equal(r.code, 0, r.stderr);
      const j = JSON.parse(r.stdout);
      assert.equal(j.input, 'text');
      assert.deepEqual(j.tokens.map((t) => t.id), c.ids);
      for (let l = 0; l < j.layers; l++)
        j.tokens.forEach((t, p) => assert.deepEqual(t.layers[l].experts, c.router_topk_per_layer[l][p], `layer ${l} position ${p}`));
    }
  });

  test('the grid: one row per token, no colours off a terminal or with --no-color', async () => {
    const c = ref.cases[0];
    const r = await smoe(['route', '-m', m, '--text', c.prompt, '--no-color']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes('\x1b['));
    const grid = (out) => out.split('\n\n')[0].split('\n').filter((l) => /^\s*\d+ {2}/.test(l));
    const rows = grid(r.stdout);
    assert.equal(rows.length, c.ids.length);
    rows.forEach((row, p) => {
      const cells = row.trim().split(/\s+/).slice(-ref.cases[0].router_topk_per_layer.length);
      cells.forEach((cell, l) => assert.equal(cell, c.router_topk_per_layer[l][p].join('')));
    });
    assert.match(r.stdout, /same top-1/);
    assert.match(r.stdout, /random\s+12\.5%\s+46\.4%/);
    const limited = await smoe(['route', '-m', m, '--text', c.prompt, '--rows', '5']);
    assert.equal(grid(limited.stdout).length, 5);
    assert.match(limited.stdout, /13 more tokens/);
  });

  test('--svg: well-formed, one cell per layer x expert per input, numbers equal the JSON usage', async () => {
    const dir = join(tmp, 'langs');
    mkdirSync(dir);
    writeFileSync(join(dir, 'en.txt'), ref.cases[0].prompt);
    writeFileSync(join(dir, 'fr-de.txt'), ref.cases[1].prompt);
    writeFileSync(join(dir, 'notes.md'), 'ignored');
    const codeFile = join(tmp, 'code & <stuff>.py');
    writeFileSync(codeFile, ref.cases[2].prompt);
    const svg = join(tmp, 'out.svg');
    const r = await smoe(['route', '-m', m, '--by-language', dir, '--file', codeFile, '--svg', svg, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const reports = JSON.parse(r.stdout);
    assert.deepEqual(reports.map((x) => x.input), ['code & <stuff>.py', 'en', 'fr-de']);
    const text = readFileSync(svg, 'utf8');
    assert.match(text, /<svg[\s>]/);
    const els = parseXml(text);
    assert.equal(els[0].tag, 'svg');
    assert.ok(els.some((e) => e.tag === 'title' && e.text.includes('Expert usage per layer')));
    assert.ok(text.includes('code &amp; &lt;stuff&gt;.py'));
    const cells = els.filter((e) => e.tag === 'rect' && e.attributes.class === 'cell');
    const { layers, experts } = reports[0];
    assert.equal(cells.length, layers * experts * reports.length);
    const groups = els.filter((e) => e.tag === 'g' && e.children.length === 2 && e.children[0].attributes.class === 'cell');
    assert.equal(groups.length, cells.length);
    for (const g of groups) {
      const a = g.children[0].attributes;
      const share = reports[Number(a['data-input'])].usage[Number(a['data-layer'])][Number(a['data-expert'])];
      assert.ok(Math.abs(Number(a['data-share']) - share) < 1e-12);
      assert.equal(g.children[1].tag, 'text');
      assert.equal(g.children[1].text, (share * 100).toFixed(1));
    }
    // each input's same-expert rate per layer is written beside its heatmap
    const rates = els.filter((e) => e.tag === 'text' && e.attributes.class === 'rate' && e.attributes['data-kind'] === 'top1');
    assert.equal(rates.length, layers * reports.length);
    assert.deepEqual(rates.map((e) => e.text), reports.flatMap((x) => x.sameExpertRate.map((v) => `${(v * 100).toFixed(1)}%`)));
    // the terminal form compares the inputs' rates
    const t = await smoe(['route', '-m', m, '--by-language', dir, '--rows', '2']);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /same top-1 expert for consecutive tokens, per layer:\nlayer\s+en\s+fr-de\n/);
  });

  test('without -m: the packaged demo model, else one MODEL_REQUIRED line', async () => {
    const r = await smoe(['route', '--text', 'In the beginning God', '--json']);
    if (existsSync(join(dirname(MAIN), '..', '..', 'models', 'demo', 'config.json'))) {
      assert.equal(r.code, 0, r.stderr);
      const report = JSON.parse(r.stdout);
      assert.ok(report.tokens.length > 1 && report.usage.length > 0, 'a report of the text routed through the demo model');
    } else {
      assert.equal(r.code, 1);
      assert.match(r.stderr, /no model given and this package has no demo model.*pass --model DIR/);
    }
  });

  test('bad flags exit 2 with one error line', async () => {
    const runs = await Promise.all([
      smoe(['route', '-m', m, '--text', 'x', '--bogus']),
      smoe(['route', '-m', m]),
      smoe(['route', '-m', m, '--text', 'x', '--png', join(tmp, 'x.png')]),
      smoe(['route', '-m', m, '--text', 'x', '--rows', 'many']),
      smoe(['route', '-m', m, '--text', 'x', '--experts-per-token', '9']),
      smoe(['route', '-m', m, '--file', join(tmp, 'missing.txt')]),
      smoe(['route', '-m', m, '--by-language', join(tmp, 'missing')]),
      smoe(['route', '-m', m, '--text', 'x', 'extra']),
    ]);
    const expect = [/unknown option '--bogus'/, /--text TEXT, --file F or --by-language DIR is required/,
      /--png is not supported.*--svg/, /--rows must be an integer/, /--experts-per-token must be in \[1, 8\]/, /cannot read .*no such file/,
      /--by-language needs a folder/, /unexpected argument 'extra'/];
    runs.forEach((r, i) => {
      assert.equal(r.code, 2, `${i}: ${r.stderr}`);
      // (a "loading ..." line may come first when loading takes over half a second)
      const lines = r.stderr.split('\n').filter((l) => l && !/^smoe: loading /.test(l));
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], /^smoe: error: /);
      assert.match(lines[0], expect[i]);
      assert.equal(r.stdout, '');
    });
  });

  test('--help', async () => {
    const [h, top] = await Promise.all([smoe(['route', '--help']), smoe(['--help'])]);
    assert.equal(h.code, 0);
    for (const flag of ['--text', '--file', '--by-language', '--json', '--svg', '--png', '--no-color', '--experts-per-token'])
      assert.ok(h.stdout.includes(flag), flag);
    assert.match(top.stdout, /route/);
  });
});
