/**
 * The demo model: a tiny Mixtral trained by tools/train-tiny (fortunes in English, German, Spanish, Italian
 * and the King James Bible) that ships in the package as `models/demo`, so smoe runs without a download.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { SmoeError } from './errors.js';
import { packageRoot } from './package-root.js';

/** The packaged demo model's folder (trained on the CPU by tools/train-tiny; a checkout may lack it, see tools/train-tiny/README.md). */
export const DEMO_MODEL_DIR: string = join(packageRoot, 'models', 'demo');

/**
 * The folder of the model to use when none is given: the packaged `models/demo` when it is there.
 *
 * @example
 * const model = await loadModel(dir ?? defaultModelDir());
 * @throws SmoeError MODEL_REQUIRED when the package holds no demo model
 */
export function defaultModelDir(): string {
  const dir = DEMO_MODEL_DIR;
  const ok = existsSync(dir) && statSync(dir).isDirectory() && existsSync(`${dir}/config.json`);
  if (!ok)
    throw new SmoeError(
      'MODEL_REQUIRED',
      `no model given and this package has no demo model (${dir}): pass --model DIR (CLI) or a model folder to loadModel(dir)`,
      { file: dir },
    );
  return dir;
}
