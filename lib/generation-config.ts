/** generation_config.json -> the model's default generation settings (only the fields smoe uses). */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { ModelLoadError, showValue } from './errors.js';

/**
 * Defaults a model folder's generation_config.json sets; every field is absent when the file does not set
 * it. They are used by `model.generate()` / `model.chat()` unless the call overrides them.
 */
export interface GenerationDefaults {
  /** `do_sample`: false means greedy decoding unless a call asks for a temperature. */
  doSample?: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  /** `max_new_tokens`. */
  maxTokens?: number;
  /** `repetition_penalty`. */
  repeatPenalty?: number;
  /** `eos_token_id` (one id or several). */
  eosTokenIds?: number[];
}

/**
 * Reads `<dir>/generation_config.json`; an empty object when the folder has none.
 *
 * @example
 * const d = await readGenerationDefaults('./Mixtral-8x7B-Instruct-v0.1'); // { eosTokenIds: [2] }
 */
export async function readGenerationDefaults(dir: string): Promise<GenerationDefaults> {
  const file = join(dir, 'generation_config.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ModelLoadError('FILE_OPEN', `generation config ${file}: ${(e as Error).message}`, { file, cause: e });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ModelLoadError('CONFIG_INVALID', `generation config ${file} is not valid JSON: ${(e as Error).message}`, { file, cause: e });
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new ModelLoadError('CONFIG_INVALID', `generation config ${file} must hold a JSON object`, { file });
  return normalizeGenerationConfig(raw as Record<string, unknown>, file);
}

/** @internal exported for tests: maps generation_config.json fields, ignoring nulls and rejecting bad types. */
export function normalizeGenerationConfig(raw: Record<string, unknown>, file: string): GenerationDefaults {
  const out: GenerationDefaults = {};
  const bad = (field: string, why: string): never => {
    throw new ModelLoadError('CONFIG_INVALID', `${file}: field '${field}' ${why} (got ${showValue(raw[field])})`, { file, field });
  };
  const num = (field: string, ok: (v: number) => boolean, why: string): number | undefined => {
    const v = raw[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) return bad(field, why);
    return v;
  };
  if (raw['do_sample'] !== undefined && raw['do_sample'] !== null) {
    if (typeof raw['do_sample'] !== 'boolean') bad('do_sample', 'must be a boolean');
    out.doSample = raw['do_sample'] as boolean;
  }
  const set = <K extends keyof GenerationDefaults>(key: K, v: GenerationDefaults[K] | undefined): void => {
    if (v !== undefined) out[key] = v;
  };
  set('temperature', num('temperature', (v) => v >= 0, 'must be a number >= 0'));
  set('topK', num('top_k', (v) => Number.isInteger(v) && v >= 0, 'must be an integer >= 0'));
  set('topP', num('top_p', (v) => v > 0 && v <= 1, 'must be a number in (0, 1]'));
  set('minP', num('min_p', (v) => v >= 0 && v <= 1, 'must be a number in [0, 1]'));
  set('maxTokens', num('max_new_tokens', (v) => Number.isInteger(v) && v >= 1, 'must be an integer >= 1'));
  set('repeatPenalty', num('repetition_penalty', (v) => v > 0, 'must be a number > 0'));
  const eos = raw['eos_token_id'];
  if (eos !== undefined && eos !== null) {
    const list = Array.isArray(eos) ? eos : [eos];
    if (!list.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0)) bad('eos_token_id', 'must be a token id or a list of ids');
    out.eosTokenIds = list as number[];
  }
  return out;
}
