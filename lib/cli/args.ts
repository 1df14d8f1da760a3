/** Flag parsing with node:util parseArgs: shared flag sets, number checks, errors worded for the command line. */
import { parseArgs, type ParseArgsConfig } from 'node:util';

import { defaultModelDir } from '../demo-model.js';
import type { GenerateOptions } from '../generate-options.js';
import { validateGenerateOptions } from '../generate-options.js';
import { UsageError } from './errors.js';

type Flags = NonNullable<ParseArgsConfig['options']>;

/** Flags every model command takes. */
export const MODEL_FLAGS = {
  model: { type: 'string', short: 'm' },
  threads: { type: 'string', short: 't' },
  device: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Flags;

/** Help lines of MODEL_FLAGS but --model, which each command words for itself. */
export const MODEL_FLAGS_HELP = `  -t, --threads N              CPU threads (default: all cores)
      --device D               cpu (default), auto, cuda or cuda:N
  -h, --help                   show this help
`;

/** Flags that become generate() options. */
export const SAMPLING_FLAGS = {
  'max-tokens': { type: 'string', short: 'n' },
  temperature: { type: 'string' },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  'min-p': { type: 'string' },
  'repeat-penalty': { type: 'string' },
  'frequency-penalty': { type: 'string' },
  'presence-penalty': { type: 'string' },
  seed: { type: 'string' },
  stop: { type: 'string', multiple: true },
  'ignore-eos': { type: 'boolean' },
  'experts-per-token': { type: 'string', short: 'k' },
} as const satisfies Flags;

export type Values = Record<string, string | boolean | string[] | undefined>;

/**
 * Parses `argv` against `flags`; no positional arguments.
 * @throws UsageError naming the bad flag
 */
export function parse(argv: string[], flags: Flags, command: string): Values {
  return parseCommand(argv, flags, command, false).values;
}

/**
 * Parses `argv` against `flags`, with positional arguments when `allowPositionals`.
 * @throws UsageError naming the bad flag
 */
export function parseCommand(argv: string[], flags: Flags, command: string, allowPositionals: boolean): { values: Values; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: joinNegativeValues(argv, flags), options: flags, strict: true, allowPositionals });
    return { values: values as Values, positionals };
  } catch (e) {
    const err = e as { code?: string; message?: string };
    const m = String(err.message ?? e);
    const help = `(see smoe ${command} --help)`;
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const flag = /'([^']+)'/.exec(m)?.[1] ?? '';
      throw new UsageError(`unknown option '${flag}' ${help}`);
    }
    if (err.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      const arg = /'([^']*)'/.exec(m)?.[1] ?? '';
      throw new UsageError(`unexpected argument '${arg}' ${help}`);
    }
    if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      const flag = /--[\w-]+/.exec(m)?.[0] ?? 'an option';
      throw new UsageError(`${flag} ${/argument missing|ambiguous/.test(m) ? 'needs a value' : 'does not take a value'} ${help}`);
    }
    throw new UsageError(`${m.replace(/\s+/g, ' ')} ${help}`);
  }
}

/** `--flag -1` -> `--flag=-1` for flags that take a value, so negative numbers need no `=`. */
function joinNegativeValues(argv: string[], flags: Flags): string[] {
  const takesValue = (a: string): boolean => {
    if (a.startsWith('--')) return flags[a.slice(2)]?.type === 'string';
    if (/^-\w$/.test(a)) return Object.values(flags).some((f) => f.short === a.slice(1) && f.type === 'string');
    return false;
  };
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!, next = argv[i + 1];
    if (next !== undefined && /^-(\d|\.\d)/.test(next) && takesValue(a)) {
      out.push(a.startsWith('--') ? `${a}=${next}` : `${a}${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/** An integer flag value, or undefined when absent. */
export function intFlag(v: Values, name: string): number | undefined {
  const s = v[name];
  if (s === undefined) return undefined;
  if (typeof s !== 'string' || !/^[+-]?\d+$/.test(s.trim())) throw new UsageError(`--${name} must be an integer (got ${JSON.stringify(s)})`);
  return Number(s);
}

/** A number flag value, or undefined when absent. */
export function numFlag(v: Values, name: string): number | undefined {
  const s = v[name];
  if (s === undefined) return undefined;
  const n = typeof s === 'string' && s.trim() !== '' ? Number(s) : NaN;
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number (got ${JSON.stringify(s)})`);
  return n;
}

/** The --model folder; without one, the package's demo model (MODEL_REQUIRED when it has none). */
export function modelFlag(v: Values, command: string): string {
  const m = v['model'];
  if (m === undefined) return defaultModelDir();
  if (typeof m !== 'string' || m === '') throw new UsageError(`--model needs a folder (see smoe ${command} --help)`);
  return m;
}

/** generate() options from the sampling flags, checked by the library (INVALID_OPTION names the flag). */
export function generateOptions(v: Values): GenerateOptions {
  const o: Record<string, unknown> = {
    maxTokens: intFlag(v, 'max-tokens'),
    temperature: numFlag(v, 'temperature'),
    topK: intFlag(v, 'top-k'),
    topP: numFlag(v, 'top-p'),
    minP: numFlag(v, 'min-p'),
    repeatPenalty: numFlag(v, 'repeat-penalty'),
    frequencyPenalty: numFlag(v, 'frequency-penalty'),
    presencePenalty: numFlag(v, 'presence-penalty'),
    seed: intFlag(v, 'seed'),
    stop: v['stop'],
    ignoreEos: v['ignore-eos'],
    expertsPerToken: intFlag(v, 'experts-per-token'),
  };
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return validateGenerateOptions(o);
}
