/** Reading JSON files of a model folder with errors that name the file. */
import { readFile } from 'node:fs/promises';

import { ModelLoadError } from '../errors.js';

export async function readJsonFile(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ModelLoadError(
      code === 'ENOENT' ? 'FILE_MISSING' : 'FILE_OPEN',
      `${what} ${path}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`,
      { file: path, cause: e },
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new ModelLoadError('CONFIG_INVALID', `${what} ${path} is not valid JSON: ${(e as Error).message}`, {
      file: path,
      cause: e,
    });
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
