/**
 * Hugging Face–compatible tokenizer for Mistral / Mixtral (and other BPE)
 * `tokenizer.json` files.
 *
 * ```ts
 * import { loadTokenizer } from './tokenizer/index.js';
 * const tok = await loadTokenizer('/models/Mixtral-8x7B-Instruct');
 * const ids = tok.encode('Hello world');       // [1, 22557, 1526]
 * tok.decode(ids);                              // 'Hello world'
 * const s = tok.createStreamDecoder();
 * for (const id of ids) process.stdout.write(s.push(id));
 * process.stdout.write(s.flush());
 * ```
 */
import { readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TokenizerError } from './errors.js';
import { Tokenizer } from './tokenizer.js';

export { Tokenizer } from './tokenizer.js';
export type { EncodeOptions, DecodeOptions, SpecialTokenInfo, TokenizerSources } from './tokenizer.js';
export { StreamDecoder } from './stream.js';
export type { StreamDecoderOptions } from './stream.js';
export { TokenizerError } from './errors.js';
export type { TokenizerErrorCode } from './errors.js';

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new TokenizerError('TOKENIZER_FILE', `invalid JSON: ${(e as Error).message}`, { file, cause: e });
  }
}

function isMissing(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

async function readJson(file: string, required: boolean): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if (!required && isMissing(e)) return undefined;
    throw new TokenizerError('TOKENIZER_FILE', `cannot read ${required ? 'required ' : ''}file: ${(e as Error).message}`, { file, cause: e });
  }
  return parseJson(text, file);
}

function readJsonSync(file: string, required: boolean): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (!required && isMissing(e)) return undefined;
    throw new TokenizerError('TOKENIZER_FILE', `cannot read ${required ? 'required ' : ''}file: ${(e as Error).message}`, { file, cause: e });
  }
  return parseJson(text, file);
}

/**
 * Load the tokenizer of a model folder: `tokenizer.json` (required) and
 * `tokenizer_config.json` (optional: BOS/EOS flags, chat template). `dir` may
 * also be the path of a tokenizer.json file itself.
 * @throws TokenizerError TOKENIZER_FILE when tokenizer.json is missing or invalid,
 *         TOKENIZER_UNSUPPORTED for pipeline components that are not implemented
 */
export async function loadTokenizer(dir: string): Promise<Tokenizer> {
  let tokenizerFile = join(dir, 'tokenizer.json');
  let configFile: string | undefined = join(dir, 'tokenizer_config.json');
  if (dir.endsWith('.json')) {
    const st = await stat(dir).catch(() => null);
    if (st?.isFile()) {
      tokenizerFile = dir;
      configFile = undefined;
    }
  }
  const [tj, cfg] = await Promise.all([readJson(tokenizerFile, true), configFile ? readJson(configFile, false) : undefined]);
  return new Tokenizer(tj, cfg, { tokenizerFile, ...(configFile && cfg !== undefined ? { configFile } : {}) });
}

/** Synchronous {@link loadTokenizer}. */
export function loadTokenizerSync(dir: string): Tokenizer {
  const asFile = dir.endsWith('.json');
  const tokenizerFile = asFile ? dir : join(dir, 'tokenizer.json');
  const configFile = asFile ? undefined : join(dir, 'tokenizer_config.json');
  const tj = readJsonSync(tokenizerFile, true);
  const cfg = configFile ? readJsonSync(configFile, false) : undefined;
  return new Tokenizer(tj, cfg, { tokenizerFile, ...(configFile && cfg !== undefined ? { configFile } : {}) });
}
