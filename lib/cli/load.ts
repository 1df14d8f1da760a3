/** Loading the --model folder for a command, with a progress line on stderr when it takes a while. */
import { stat } from 'node:fs/promises';

import { loadModel, type Device, type Model } from '../model.js';
import { intFlag, modelFlag, type Values } from './args.js';
import { UsageError } from './errors.js';

/** Delay before the progress indication appears. */
const PROGRESS_AFTER_MS = 500;

/**
 * Loads the model named by --model (with --threads / --device). Shows "loading ..." on stderr when loading
 * takes more than half a second: a spinner on a terminal, one line otherwise.
 * @throws UsageError when the folder does not exist; SmoeError from loadModel
 */
export async function loadFromFlags(v: Values, command: string, quiet = false): Promise<Model> {
  const dir = modelFlag(v, command);
  const st = await stat(dir).catch(() => null);
  if (st === null) throw new UsageError(`model folder '${dir}' does not exist`);
  if (!st.isDirectory() && !dir.toLowerCase().endsWith('.gguf'))
    throw new UsageError(`--model must be a folder or a .gguf file ('${dir}' is another file)`);
  const threads = intFlag(v, 'threads');
  const device = v['device'];
  const stop = quiet ? () => undefined : showProgress(`loading ${dir}`);
  try {
    return await loadModel(dir, {
      ...(threads !== undefined ? { threads } : {}),
      ...(typeof device === 'string' ? { device: device as Device } : {}),
    });
  } finally {
    stop();
  }
}

/** Starts a delayed progress indication; returns the function that removes it. */
function showProgress(label: string): () => void {
  const err = process.stderr;
  const frames = '|/-\\';
  let frame = 0;
  let shown = false;
  let spin: NodeJS.Timeout | undefined;
  const start = Date.now();
  const delay = setTimeout(() => {
    shown = true;
    if (!err.isTTY) {
      err.write(`smoe: ${label}...\n`);
      return;
    }
    const draw = (): void => {
      err.write(`\r${frames[frame++ % frames.length]} ${label} (${((Date.now() - start) / 1000).toFixed(1)} s)`);
    };
    draw();
    spin = setInterval(draw, 100);
  }, PROGRESS_AFTER_MS);
  return () => {
    clearTimeout(delay);
    if (spin) clearInterval(spin);
    if (shown && err.isTTY) err.write('\r\x1b[K');
  };
}
