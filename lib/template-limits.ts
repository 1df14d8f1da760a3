/** The bounds a chat template renders under (a template comes with a model folder, so from strangers). */
import { InvalidArgumentError } from './errors.js';
import { optionalInt, optionalObject, rejectUnknownKeys } from './options.js';

/**
 * Limits on rendering one chat template. Defaults are far above what real templates need (they render
 * in milliseconds, a few kB beyond the messages themselves).
 */
export interface TemplateLimits {
  /** Wall-clock time for one render, parse included (default 1000 ms). */
  timeMs?: number;
  /**
   * The longest string a template may build, its output included, and the longest `range()` it may ask
   * for (default 10,000,000).
   */
  outputChars?: number;
  /** How deeply evaluation may nest: macro recursion, nested loops and expressions (default 1000). */
  depth?: number;
}

export type ResolvedTemplateLimits = Required<TemplateLimits>;

export const DEFAULT_TEMPLATE_LIMITS: Readonly<ResolvedTemplateLimits> = Object.freeze({
  timeMs: 1000,
  outputChars: 10_000_000,
  depth: 1000,
});

const KEYS: readonly (keyof TemplateLimits)[] = ['timeMs', 'outputChars', 'depth'];

/**
 * Checks a `templateLimits` option and fills in the defaults.
 *
 * @example
 * resolveTemplateLimits({ timeMs: 200 }); // { timeMs: 200, outputChars: 10000000, depth: 1000 }
 * @throws InvalidArgumentError INVALID_OPTION naming the bad field (`templateLimits.timeMs`, ...)
 */
export function resolveTemplateLimits(v: unknown): ResolvedTemplateLimits {
  const o = optionalObject(v, 'templateLimits');
  try {
    rejectUnknownKeys(o, KEYS, 'templateLimits field');
    return {
      timeMs: optionalInt(o, 'timeMs', 1, 600_000) ?? DEFAULT_TEMPLATE_LIMITS.timeMs,
      outputChars: optionalInt(o, 'outputChars', 1, 500_000_000) ?? DEFAULT_TEMPLATE_LIMITS.outputChars,
      depth: optionalInt(o, 'depth', 10, 5000) ?? DEFAULT_TEMPLATE_LIMITS.depth,
    };
  } catch (e) {
    if (!(e instanceof InvalidArgumentError)) throw e;
    throw new InvalidArgumentError('INVALID_OPTION', `templateLimits: ${e.message}`, { field: `templateLimits.${e.field ?? ''}` });
  }
}
