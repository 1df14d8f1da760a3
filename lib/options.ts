/** Checks of caller-supplied options and token ids, shared by the public API. */
import { InvalidArgumentError } from './errors.js';

export function optionalObject(v: unknown, what: string): Record<string, unknown> {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new InvalidArgumentError('INVALID_OPTION', `${what} must be an object`, { field: what });
  return v as Record<string, unknown>;
}

export function optionalInt(o: Record<string, unknown>, key: string, min: number, max: number): number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new InvalidArgumentError('INVALID_OPTION', `option '${key}' must be an integer in [${min}, ${max}] (got ${String(v)})`, {
      field: key,
    });
  return v;
}

export function optionalBool(o: Record<string, unknown>, key: string): boolean | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean')
    throw new InvalidArgumentError('INVALID_OPTION', `option '${key}' must be a boolean (got ${typeof v})`, { field: key });
  return v;
}

export function optionalEnum<T extends string>(o: Record<string, unknown>, key: string, allowed: readonly T[]): T | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v))
    throw new InvalidArgumentError('INVALID_OPTION', `option '${key}' must be one of ${allowed.join(', ')} (got ${JSON.stringify(v)})`, {
      field: key,
    });
  return v as T;
}

/** Validates token ids (non-empty, integers in [0, vocab)) and packs them for the addon. */
export function toIds(ids: unknown, vocab: number): Int32Array {
  if (!Array.isArray(ids) && !ArrayBuffer.isView(ids))
    throw new InvalidArgumentError('INVALID_ARGUMENT', 'token ids must be an array or typed array of integers');
  const list = ids as ArrayLike<unknown>;
  if (list.length === 0) throw new InvalidArgumentError('EMPTY_INPUT', 'token ids must not be empty');
  const out = new Int32Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const v = list[i];
    if (typeof v !== 'number' || !Number.isInteger(v))
      throw new InvalidArgumentError('INVALID_ARGUMENT', `token id at index ${i} is not an integer (got ${String(v)})`);
    if (v < 0 || v >= vocab)
      throw new InvalidArgumentError('TOKEN_OUT_OF_RANGE', `token id ${v} at index ${i} is outside the vocabulary [0, ${vocab})`);
    out[i] = v;
  }
  return out;
}

/**
 * A finite number option in a range: `min`/`max` are inclusive unless `minExclusive`/`maxExclusive`.
 * @throws InvalidArgumentError INVALID_OPTION naming the option
 */
export function optionalNumber(
  o: Record<string, unknown>,
  key: string,
  range: { min?: number; max?: number; minExclusive?: boolean; maxExclusive?: boolean } = {},
): number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  const { min = -Infinity, max = Infinity, minExclusive = false, maxExclusive = false } = range;
  const ok = typeof v === 'number' && Number.isFinite(v) && (minExclusive ? v > min : v >= min) && (maxExclusive ? v < max : v <= max);
  if (!ok) {
    const lo = min === -Infinity ? '(-inf' : `${minExclusive ? '(' : '['}${min}`;
    const hi = max === Infinity ? 'inf)' : `${max}${maxExclusive ? ')' : ']'}`;
    throw new InvalidArgumentError('INVALID_OPTION', `option '${key}' must be a number in ${lo}, ${hi} (got ${describeValue(v)})`, { field: key });
  }
  return v as number;
}

/** Rejects keys of `o` that are not in `known` (catches typos such as `max_tokens`). */
export function rejectUnknownKeys(o: Record<string, unknown>, known: readonly string[], what = 'option'): void {
  for (const k of Object.keys(o))
    if (!known.includes(k)) throw new InvalidArgumentError('INVALID_OPTION', `unknown ${what} '${k}' (known: ${known.join(', ')})`, { field: k });
}

/** A short description of a bad value for error messages. */
export function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  if (v === null || typeof v !== 'object') return String(v);
  return Array.isArray(v) ? 'an array' : 'an object';
}
