#!/usr/bin/env node
// Builds the CommonJS flavour of the library (dist/cjs/, for `require('smoe')`) from the same sources as the
// ESM build: lib/ without the CLI is compiled with module CommonJS, and lib/package-root.ts, the one file
// that needs import.meta, is swapped for its __dirname twin. The sources are copied into a folder of the
// package marked "type": "commonjs", so TypeScript (NodeNext) emits CommonJS and still finds node_modules.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'cjs');
const src = join(root, '.cjs-src');
rmSync(src, { recursive: true, force: true });
try {
  cpSync(join(root, 'lib'), src, { recursive: true, filter: (p) => !p.startsWith(join(root, 'lib', 'cli')) });
  writeFileSync(join(src, 'package-root.ts'),
    "/** The package's root folder (CommonJS build: dist/cjs/ is two levels down). */\n" +
    "import { join } from 'node:path';\n\nexport const packageRoot: string = join(__dirname, '..', '..');\n");
  writeFileSync(join(src, 'package.json'), JSON.stringify({ type: 'commonjs' }));
  writeFileSync(join(src, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', rootDir: '.', outDir: out, declaration: true,
      strict: true, noUncheckedIndexedAccess: true, esModuleInterop: true, skipLibCheck: true, types: ['node'],
    },
    include: ['**/*.ts'],
  }));
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', join(src, 'tsconfig.json')], { stdio: 'inherit' });
  writeFileSync(join(out, 'package.json'), JSON.stringify({ type: 'commonjs' }) + '\n');
} finally {
  rmSync(src, { recursive: true, force: true });
}
