/** Opening a checkpoint file for reading, with the loader's errors (FILE_MISSING, FILE_OPEN) naming it. */
import { open, type FileHandle } from 'node:fs/promises';

import { ModelLoadError } from '../errors.js';

export async function openModelFile(file: string): Promise<FileHandle> {
  try {
    return await open(file, 'r');
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new ModelLoadError(missing ? 'FILE_MISSING' : 'FILE_OPEN', `${file}: ${missing ? 'no such file' : (e as Error).message}`, {
      file,
      cause: e,
    });
  }
}
