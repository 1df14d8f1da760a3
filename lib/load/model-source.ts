/**
 * What a model path names: a Hugging Face folder (config.json + safetensors), a GGUF file, or a folder
 * without config.json that holds exactly one .gguf file (then that file).
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { ModelLoadError } from '../errors.js';

export type ModelSource = { kind: 'hf'; dir: string } | { kind: 'gguf'; file: string };

/** @throws ModelLoadError FILE_MISSING (nothing there), MODEL_AMBIGUOUS (a folder with several .gguf files) */
export async function resolveModelSource(path: string): Promise<ModelSource> {
  const st = await stat(path).catch(() => null);
  if (st === null) {
    if (path.toLowerCase().endsWith('.gguf')) throw new ModelLoadError('FILE_MISSING', `${path}: no such file`, { file: path });
    return { kind: 'hf', dir: path }; // readConfig names the missing config.json
  }
  if (st.isFile()) {
    if (!path.toLowerCase().endsWith('.gguf'))
      throw new ModelLoadError('UNSUPPORTED_MODEL', `${path} is a file but not a .gguf file (pass a model folder or a GGUF file)`, { file: path });
    return { kind: 'gguf', file: path };
  }
  const hasConfig = await stat(join(path, 'config.json')).then(() => true, () => false);
  if (hasConfig) return { kind: 'hf', dir: path };
  const ggufs = (await readdir(path).catch(() => [] as string[])).filter((n) => n.toLowerCase().endsWith('.gguf')).sort();
  if (ggufs.length === 1) return { kind: 'gguf', file: join(path, ggufs[0]!) };
  if (ggufs.length > 1)
    throw new ModelLoadError('MODEL_AMBIGUOUS', `${path} holds ${ggufs.length} GGUF files (${ggufs.join(', ')}) and no config.json: pass the file to load`, {
      file: path,
    });
  return { kind: 'hf', dir: path }; // readConfig reports the missing config.json
}
