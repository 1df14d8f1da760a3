#!/usr/bin/env node
// Stands in for node-gyp when prebuildify runs (scripts/prebuild.mjs): prebuildify calls
// `node-gyp rebuild --target=... --release` in a staging folder; this builds the addon with cmake-js, the
// real build (CPU + CUDA where nvcc is found), in the repository's build/ folder, and copies the binary to
// the staging folder's build/Release/, where prebuildify picks it up.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const cmakeJs = createRequire(import.meta.url).resolve('cmake-js/bin/cmake-js');
const r = spawnSync(process.execPath, [cmakeJs, 'compile', '--directory', repo, '--out', join(repo, 'build')], {
  stdio: 'inherit',
});
if (r.status !== 0) process.exit(r.status ?? 1);
mkdirSync(join(process.cwd(), 'build', 'Release'), { recursive: true });
copyFileSync(join(repo, 'build', 'Release', 'smoe.node'), join(process.cwd(), 'build', 'Release', 'smoe.node'));
