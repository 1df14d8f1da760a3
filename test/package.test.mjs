// The package as users get it: pack the tarball (with the prebuilt binary), install it into an empty project
// whose PATH has no compiler, make, cmake or nvcc, and check that nothing is built, that `npx smoe generate`
// streams text from a fixture model, and that ESM, CommonJS and TypeScript consumers work.
// Slow and needs the npm registry: runs on CI (CI=true) or with SMOE_PACKAGE_TEST=1.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { fixture, maxAbsDiff, reference } from './helpers.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const enabled = process.env.CI === 'true' || process.env.SMOE_PACKAGE_TEST === '1';
const skip = enabled ? false : 'packs and installs the package (slow, needs the npm registry): set SMOE_PACKAGE_TEST=1 (CI does)';
const TOOLS = ['cc', 'gcc', 'g++', 'c++', 'clang', 'clang++', 'make', 'cmake', 'nvcc', 'ninja'];

describe('the packed package, installed without build tools', { skip, timeout: 15 * 60_000 }, () => {
  let work, project, env, tarball;
  const run = (cmd, args, opts = {}) => spawnSync(cmd, args, { cwd: project, env, encoding: 'utf8', timeout: 10 * 60_000, ...opts });

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'smoe-pkg-'));
    // The prebuilt binary, as `npm run prebuild` makes it for a release.
    execFileSync('npm', ['run', 'prebuild'], { cwd: repo, stdio: 'ignore' });
    const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: repo, encoding: 'utf8' });
    tarball = join(work, JSON.parse(out)[0].filename);
    // A PATH with node, npm, npx and a POSIX shell (npm runs install scripts with sh) only.
    const bin = join(work, 'bin');
    mkdirSync(bin);
    const nodeDir = dirname(process.execPath);
    for (const t of ['node', 'npm', 'npx', 'sh']) {
      const p = [nodeDir, ...process.env.PATH.split(delimiter)].map((d) => join(d, t)).find((f) => existsSync(f));
      symlinkSync(p, join(bin, t));
    }
    env = { ...process.env, PATH: bin, npm_config_update_notifier: 'false', npm_config_audit: 'false', npm_config_fund: 'false' };
    for (const k of Object.keys(env)) if (k.startsWith('npm_') && !k.startsWith('npm_config_')) delete env[k];
    project = join(work, 'project');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  });
  after(() => { if (work) rmSync(work, { recursive: true, force: true }); });

  test('no build tool is reachable on the PATH', () => {
    assert.deepEqual(readdirSync(env.PATH).sort(), ['node', 'npm', 'npx', 'sh']);
    for (const t of TOOLS) assert.equal(existsSync(join(env.PATH, t)), false, `${t} is on the PATH`);
    const r = run('sh', ['-c', `for t in ${TOOLS.join(' ')}; do command -v $t && exit 1; done; command -v node`]);
    assert.equal(r.status, 0, `a build tool was found: ${r.stdout}`);
  });

  test('the tarball holds the package and nothing else', () => {
    const list = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean);
    assert.ok(list.some((f) => /^package\/prebuilds\/linux-x64\/.+\.node$/.test(f)), 'a prebuilt binary');
    for (const f of ['package/dist/index.js', 'package/dist/index.d.ts', 'package/dist/cjs/index.js', 'package/dist/cli/main.js',
      'package/CMakeLists.txt', 'package/binding.gyp', 'package/native/sources.json', 'package/README.md', 'package/LICENSE'])
      assert.ok(list.includes(f), f);
    for (const f of list) assert.doesNotMatch(f, /^package\/(test|bench|tools|lib|build|docs)\//, f);
    assert.ok(!list.some((f) => f.endsWith('.map')), 'no source maps');
    console.log(`tarball ${(statSync(tarball).size / 1e6).toFixed(1)} MB, ${list.length} files`);
  });

  test('npm install uses the prebuilt binary and builds nothing', () => {
    const r = run('npm', ['install', '--foreground-scripts', tarball]);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stdout + r.stderr, /smoe: using prebuilt binary prebuilds\/linux-x64\//);
    assert.ok(!existsSync(join(project, 'node_modules', 'smoe', 'build')), 'nothing was built');
  });

  test('npx smoe generate streams text from a fixture model', () => {
    const c = reference('tiny-mixtral').cases[0];
    const r = run('npx', ['smoe', 'generate', '--model', fixture('tiny-mixtral'), '--prompt', c.prompt, '--temperature', '0',
      '--max-tokens', String(c.greedy_new_ids.length), '--ignore-eos', '-q']);
    assert.equal(r.status, 0, r.stderr);
    const decode = `import('smoe').then(async ({ loadModel }) => { const m = await loadModel(${JSON.stringify(fixture('tiny-mixtral'))});
      process.stdout.write(m.tokenizer.decode(${JSON.stringify(c.greedy_new_ids)})); await m.close(); })`;
    const expected = run('node', ['-e', decode]);
    assert.equal(expected.status, 0, expected.stderr);
    assert.equal(r.stdout.replace(/\n$/, ''), expected.stdout);
  });

  const c = reference('tiny-mixtral-f32').cases[1];
  const body = `const m = await loadModel(${JSON.stringify(fixture('tiny-mixtral-f32'))});
    const l = await m.logits(${JSON.stringify(c.ids)}); await m.close();
    process.stdout.write(JSON.stringify(Array.from(l.slice(0, 64))));`;
  const check = (out) => {
    const got = JSON.parse(out);
    assert.ok(maxAbsDiff(got, c.last_logits.slice(0, 64)) < 1e-3);
  };

  test('ESM consumer: import', () => {
    writeFileSync(join(project, 'esm.mjs'), `import { loadModel } from 'smoe';\n${body}\n`);
    const r = run('node', ['esm.mjs']);
    assert.equal(r.status, 0, r.stderr);
    check(r.stdout);
  });

  test('CommonJS consumer: require', () => {
    writeFileSync(join(project, 'cjs.cjs'), `const { loadModel, SmoeError } = require('smoe');\nif (typeof SmoeError !== 'function') throw new Error('no SmoeError');\n(async () => { ${body} })();\n`);
    const r = run('node', ['cjs.cjs']);
    assert.equal(r.status, 0, r.stderr);
    check(r.stdout);
  });

  test('TypeScript consumers (strict; ESM and CommonJS) compile against the published types', () => {
    const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
    const typesNode = join(repo, 'node_modules', '@types');
    const src = `import { loadModel, SmoeError, type Model, type GenerateOptions, type MixtralConfig } from 'smoe';
      async function main(): Promise<number> {
        const model: Model = await loadModel('dir', { threads: 2, expertsPerToken: 1 });
        const cfg: Readonly<MixtralConfig> = model.config;
        const opts: GenerateOptions = { maxTokens: 8, temperature: 0.7, stop: ['\\n'] };
        for await (const piece of model.generate('Hi', opts)) { const t: string = piece.text; void t; }
        const r = await model.generate([1, 2], opts).result;
        const reason: 'stop' | 'length' | 'abort' = r.finishReason;
        void reason;
        try { await model.logits([1]); } catch (e) { if (e instanceof SmoeError) { const code: string = e.code; void code; } }
        return cfg.numExperts;
      }
      void main;\n`;
    for (const [name, mod] of [['esm', 'NodeNext'], ['cjs', 'NodeNext']]) {
      const dir = join(project, `ts-${name}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: name === 'esm' ? 'module' : 'commonjs' }));
      writeFileSync(join(dir, 'main.ts'), src);
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
        compilerOptions: { strict: true, noEmit: true, module: mod, moduleResolution: 'NodeNext', target: 'ES2022', types: ['node'], typeRoots: [typesNode], skipLibCheck: false },
        files: ['main.ts'],
      }));
      const r = run('node', [tsc, '-p', join(dir, 'tsconfig.json')]);
      assert.equal(r.status, 0, `${name}: ${r.stdout}${r.stderr}`);
    }
  });
});
