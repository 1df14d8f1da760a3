#!/usr/bin/env node
// npm run prebuild [-- --clean]: makes prebuilds/<platform>-<arch>/smoe.napi.glibc.node with prebuildify
// (Node-API, stripped, libc-tagged) from the cmake-js build. --clean starts from an empty build/ folder, as a
// release build should. The staging folder keeps prebuildify from moving the developer's own build/.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
if (process.argv.includes('--clean')) rmSync(join(repo, 'build'), { recursive: true, force: true });
const staging = mkdtempSync(join(tmpdir(), 'smoe-prebuild-'));
try {
  writeFileSync(join(staging, 'package.json'), JSON.stringify({ name: 'smoe' }));
  const prebuildify = createRequire(import.meta.url).resolve('prebuildify/bin.js');
  const r = spawnSync(process.execPath, [prebuildify, '--napi', '--strip', '--tag-libc', '--cwd', staging, '--out', repo,
    '--node-gyp', join(repo, 'scripts', 'cmake-js-as-node-gyp.mjs')], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
} finally {
  rmSync(staging, { recursive: true, force: true });
}
const dir = join(repo, 'prebuilds', `${process.platform}-${process.arch}`);
for (const f of readdirSync(dir)) console.log(`${join('prebuilds', `${process.platform}-${process.arch}`, f)}  ${(statSync(join(dir, f)).size / 1e6).toFixed(1)} MB`);
