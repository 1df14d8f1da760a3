/** Loading a model folder's tokenizer, shared between loads of the same unchanged files. */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';

import { ModelLoadError } from './errors.js';
import { loadTokenizer, TokenizerError, type Tokenizer } from './tokenizer/index.js';

const cache = new Map<string, Tokenizer>();

/**
 * The tokenizer of a model folder, or null when it has no tokenizer.json. Tokenizers are immutable, so a
 * folder loaded again with unchanged tokenizer files gets the same instance.
 * @throws ModelLoadError TOKENIZER_INVALID when the tokenizer files cannot be used
 */
export async function loadModelTokenizer(dir: string): Promise<Tokenizer | null> {
  const file = join(dir, 'tokenizer.json');
  const st = await stat(file).catch(() => null);
  if (st === null) return null;
  const cst = await stat(join(dir, 'tokenizer_config.json')).catch(() => null);
  const key = `${file}\0${st.mtimeMs}\0${st.size}\0${cst?.mtimeMs ?? '-'}\0${cst?.size ?? '-'}`;
  const hit = cache.get(key);
  if (hit) return hit;
  try {
    const tok = await loadTokenizer(dir);
    cache.set(key, tok);
    if (cache.size > 8) cache.delete(cache.keys().next().value!);
    return tok;
  } catch (e) {
    if (e instanceof TokenizerError)
      throw new ModelLoadError('TOKENIZER_INVALID', `cannot load the tokenizer: ${e.message}`, {
        file: e.file ?? file,
        ...(e.field !== undefined ? { field: e.field } : {}),
        cause: e,
      });
    throw e;
  }
}
