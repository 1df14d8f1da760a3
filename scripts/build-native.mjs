#!/usr/bin/env node
// `npm install` step: use a prebuilt binary when one loads on this machine, else build from source with
// cmake-js (the real build), or with node-gyp (CPU-only fallback) where cmake is missing.
//   --force or SMOE_BUILD_FROM_SOURCE=1  build even when a prebuilt binary fits
//   --emulate  the SIMT emulation build into build-emu/ (the CUDA kernels on the CPU, for the tests; `pretest`)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const force = process.argv.includes('--force') || /^(1|true|yes)$/i.test(process.env.SMOE_BUILD_FROM_SOURCE ?? '');

function prebuiltThatLoads() {
  const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  if (!existsSync(dir)) return null;
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.node'))) {
    try {
      require(join(dir, f));
      return join(dir, f);
    } catch {
      // wrong libc or CPU: try the next one, then build
    }
  }
  return null;
}

function has(cmd, args = ['--version']) {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  return r.status === 0;
}

if (process.argv.includes('--emulate')) {
  if (process.platform !== 'linux' || !has('cmake')) {
    console.log(`smoe: ${process.platform !== 'linux' ? 'not Linux' : 'cmake not found'}; skipping the SIMT emulation ` +
      'build (the CUDA kernel tests will skip)');
    process.exit(0);
  }
  const args = ['compile', '--log-level', 'warn', '--out', 'build-emu', '--CDSMOE_CUDA_EMULATE=ON'];
  if (!run(process.execPath, [require.resolve('cmake-js/bin/cmake-js'), ...args])) {
    console.error('smoe: the SIMT emulation build (build-emu/) failed');
    process.exit(1);
  }
  process.exit(0);
}

if (!force) {
  const p = prebuiltThatLoads();
  if (p) {
    console.log(`smoe: using prebuilt binary ${p.slice(root.length + 1)}`);
    process.exit(0);
  }
}

let ok;
if (has('cmake')) {
  console.log('smoe: building the native addon from source with cmake-js');
  ok = run(process.execPath, [require.resolve('cmake-js/bin/cmake-js'), 'compile', '--log-level', 'warn']);
} else {
  console.log('smoe: cmake not found; building the CPU-only addon with node-gyp');
  const gyp = process.env.npm_config_node_gyp;
  ok = gyp ? run(process.execPath, [gyp, 'rebuild']) : run('node-gyp', ['rebuild']);
}
if (!ok) {
  console.error(
    'smoe: building the native addon failed. It needs a C++17 compiler (g++ or clang++) and cmake >= 3.19 ' +
      '(or, without cmake, python3 and make for node-gyp). Set SMOE_BUILD_FROM_SOURCE=1 to force a source build.',
  );
  process.exit(1);
}
