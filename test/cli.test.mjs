// The smoe command, spawned for real on the fixture models: generate against transformers' greedy
// continuation, info against config.json and the checkpoint index, chat over a pipe, and bad flags.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { loadTokenizer } from '../dist/index.js';
import { fixture, reference } from './helpers.mjs';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli', 'main.js');
const ROOT = join(dirname(MAIN), '..', '..');
const pkg = JSON.parse(readFileSync(join(dirname(MAIN), '..', '..', 'package.json'), 'utf8'));

/** Runs the CLI; resolves to { code, stdout, stderr } (stdin: `input`, else empty). */
function smoe(args, input = '') {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [MAIN, ...args], { timeout: 30000 }, (err, stdout, stderr) => {
      resolve({ code: err ? err.code : 0, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

/** One `smoe: error: ...` line, no stack trace. */
function assertOneErrorLine(r, re) {
  assert.notEqual(r.code, 0);
  const lines = r.stderr.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, `stderr: ${r.stderr}`);
  assert.match(lines[0], /^smoe: error: /);
  if (re) assert.match(lines[0], re);
  assert.equal(r.stdout, '');
}

describe('smoe CLI', { concurrency: 4 }, () => {
  const ref = reference('tiny-mixtral');

  test('generate --temperature 0 prints the greedy continuation, stats on stderr', async () => {
    const c = ref.cases[0];
    const tok = await loadTokenizer(fixture('tiny-mixtral'));
    const r = await smoe(['generate', '--model', fixture('tiny-mixtral'), '--prompt', c.prompt, '--temperature', '0', '--max-tokens', '16', '--ignore-eos', '--threads', '1']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, tok.decode(c.greedy_new_ids) + '\n');
    // (a "loading ..." line may come first when loading takes over half a second)
    assert.match(r.stderr, /^(smoe: loading .*\.\.\.\n)?smoe: 16 tokens \(length\) \| prompt 18 tokens, [\d.]+ tok\/s \| generation [\d.]+ tok\/s\n$/);
  });

  test('generate --stop cuts the output at the stop string', async () => {
    const c = ref.cases[2];
    const tok = await loadTokenizer(fixture('tiny-mixtral'));
    const full = tok.decode(c.greedy_new_ids);
    const stop = full.slice(10, 14);
    const r = await smoe(['generate', '-m', fixture('tiny-mixtral'), '-p', c.prompt, '--temperature', '0', '-n', '16', '--ignore-eos', '--stop', 'zzzz', '--stop', stop]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, full.slice(0, full.indexOf(stop)) + '\n');
    assert.match(r.stderr, /\(stop: string\)/);
  });

  test('info prints the architecture and figures', async () => {
    const dir = fixture('tiny-mixtral-sliding');
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8'));
    const total = index.metadata.total_parameters;
    const active = total - cfg.num_hidden_layers * (cfg.num_local_experts - cfg.num_experts_per_tok) * 3 * cfg.hidden_size * cfg.intermediate_size;
    const r = await smoe(['info', '--model', dir]);
    assert.equal(r.code, 0, r.stderr);
    const line = (k) => r.stdout.split('\n').find((l) => l.startsWith(k)) ?? '';
    assert.match(line('architecture'), new RegExp(`${cfg.architectures[0]} \\(mixtral\\)`));
    assert.match(line('layers'), new RegExp(`\\b${cfg.num_hidden_layers}$`));
    assert.match(line('experts'), new RegExp(`${cfg.num_local_experts} per layer, top-${cfg.num_experts_per_tok} per token`));
    assert.match(line('hidden size'), new RegExp(`\\b${cfg.hidden_size}$`));
    assert.match(line('attention heads'), new RegExp(`${cfg.num_attention_heads} \\(kv heads ${cfg.num_key_value_heads}`));
    assert.match(line('parameters'), new RegExp(`${total.toLocaleString('en-US')} .*total, ${active.toLocaleString('en-US')} .*active`));
    assert.match(line('context length'), new RegExp(`\\b${cfg.max_position_embeddings}$`));
    assert.match(line('sliding window'), new RegExp(`\\b${cfg.sliding_window}$`));
    assert.match(line('dtypes'), /BF16/);
    for (const f of Object.values(index.weight_map)) assert.ok(r.stdout.includes(f), f);
    assert.ok(r.stdout.includes(readFileSync(join(dir, 'model-00001-of-00003.safetensors')).length.toLocaleString('en-US')));
  });

  test('info --json', async () => {
    const dir = fixture('tiny-mixtral-f32');
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    const r = await smoe(['info', '--model', dir, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.deepEqual(
      [j.layers, j.experts, j.expertsPerToken, j.hiddenSize, j.heads, j.kvHeads, j.contextLength, j.slidingWindow, j.dtypes],
      [cfg.num_hidden_layers, cfg.num_local_experts, cfg.num_experts_per_tok, cfg.hidden_size, cfg.num_attention_heads,
        cfg.num_key_value_heads, cfg.max_position_embeddings, cfg.sliding_window, ['F32']],
    );
    assert.deepEqual(j.files, [{ name: 'model.safetensors', bytes: readFileSync(join(dir, 'model.safetensors')).length }]);
  });

  test('chat over a pipe answers each line and exits', async () => {
    const c = ref.cases.find((x) => x.chat);
    const [system, user] = c.chat;
    const tok = await loadTokenizer(fixture('tiny-mixtral'));
    const r = await smoe(['chat', '--model', fixture('tiny-mixtral'), '--system', system.content, '--temperature', '0', '--max-tokens', '16', '--ignore-eos'],
      `${user.content}\n`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, tok.decode(c.greedy_new_ids) + '\n');
    const two = await smoe(['chat', '--model', fixture('tiny-mixtral'), '--max-tokens', '4', '--seed', '1', '--stats'], 'Hello\n\nAnd then?\n');
    assert.equal(two.code, 0, two.stderr);
    assert.equal(two.stdout.split('\n').length, 3, JSON.stringify(two.stdout)); // two replies, one per line
    assert.equal(two.stderr.split('\n').filter((l) => /tokens \(/.test(l)).length, 2);
  });

  test('without --model: the packaged demo model, else one MODEL_REQUIRED line', async () => {
    const r = await smoe(['generate', '--prompt', 'Das Leben ist', '-n', '4', '--seed', '1', '-q']);
    if (existsSync(join(ROOT, 'models', 'demo', 'config.json'))) {
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.length > 0, 'the demo model generated nothing');
    } else {
      assertOneErrorLine(r, /no model given and this package has no demo model.*pass --model DIR/);
    }
  });

  test('bad flags and folders: one error line, non-zero exit', async () => {
    const m = fixture('tiny-mixtral');
    const runs = await Promise.all([
      smoe(['generate', '--model', m, '--prompt', 'x', '--bogus']),
      smoe(['generate', '--model', m]),
      smoe(['generate', '--model', m, '--prompt', 'x', '--top-p', '2']),
      smoe(['generate', '--model', m, '--prompt', 'x', '--max-tokens', '-3']),
      smoe(['generate', '--model', m, '--prompt', 'x', '--temperature', 'hot']),
      smoe(['generate', '--model', join(m, 'missing'), '--prompt', 'x']),
      smoe(['generate', '--model', dirname(m), '--prompt', 'x']),
      smoe(['info', '--model', join(m, 'config.json')]),
      smoe(['chat', '--model', m, 'extra']),
      smoe(['frobnicate']),
    ]);
    const expect = [/unknown option '--bogus'/, /--prompt TEXT is required/, /--top-p must be a number in \(0, 1\]/,
      /--max-tokens must be an integer in \[1,/, /--temperature must be a number/, /does not exist/, /config\.json: no such file/,
      /must be a folder/, /unexpected argument 'extra'/, /unknown command 'frobnicate'/];
    runs.forEach((r, i) => assertOneErrorLine(r, expect[i]));
    assert.equal(runs[0].code, 2);
  });

  test('--help and --version', async () => {
    const [top, gen, chat, info, ver, none] = await Promise.all([
      smoe(['--help']), smoe(['generate', '--help']), smoe(['chat', '-h']), smoe(['info', '--help']), smoe(['--version']), smoe([]),
    ]);
    for (const r of [top, gen, chat, info, ver]) assert.equal(r.code, 0);
    assert.match(top.stdout, /Commands:[\s\S]*generate[\s\S]*chat[\s\S]*info/);
    for (const flag of ['--model', '--prompt', '--max-tokens', '--temperature', '--top-k', '--top-p', '--min-p', '--repeat-penalty', '--seed', '--stop', '--threads'])
      assert.ok(gen.stdout.includes(flag), flag);
    assert.match(chat.stdout, /--system/);
    assert.match(info.stdout, /--json/);
    assert.equal(ver.stdout, `smoe ${pkg.version}\n`);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /Usage: smoe/);
  });
});
