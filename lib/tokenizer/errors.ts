/**
 * Error type shared by every part of the tokenizer.
 *
 * Every failure carries a stable, machine-readable {@link TokenizerErrorCode}
 * and, when it comes from a file, the file path and the JSON field that was
 * at fault, so callers can branch on `err.code` instead of parsing messages.
 */

import { backtrackingRisk } from './regex-backtracking.js';

/** Stable error codes thrown by the tokenizer. */
export type TokenizerErrorCode =
  /** tokenizer.json / tokenizer_config.json is missing, unreadable, not JSON, or a field is malformed. */
  | 'TOKENIZER_FILE'
  /** tokenizer.json asks for a component (model, normalizer, pre-tokenizer, decoder, post-processor) this implementation does not support. */
  | 'TOKENIZER_UNSUPPORTED'
  /** A token id passed to decode / idToToken-style APIs is not an integer in [0, vocabSize). */
  | 'TOKEN_ID_RANGE'
  /** A caller passed an argument of the wrong type (e.g. encode(42)). */
  | 'TOKENIZER_INPUT';

/** Error thrown by all tokenizer code. */
export class TokenizerError extends Error {
  /** Stable code; see {@link TokenizerErrorCode}. */
  readonly code: TokenizerErrorCode;
  /** File the problem was found in, when there is one. */
  readonly file: string | undefined;
  /** Dotted JSON path of the offending field inside {@link file}, when there is one. */
  readonly field: string | undefined;

  constructor(code: TokenizerErrorCode, message: string, opts: { file?: string | undefined; field?: string | undefined; cause?: unknown } = {}) {
    const where = [opts.file, opts.field].filter((x) => x !== undefined && x !== '').join(': ');
    super(where ? `${message} (${where})` : message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'TokenizerError';
    this.code = code;
    this.file = opts.file;
    this.field = opts.field;
  }
}

/**
 * Where a JSON value came from: used to build error messages that name the
 * file and the field (e.g. `tokenizer.json: decoder.decoders[2].type`).
 */
export class JsonContext {
  constructor(readonly file: string, readonly path: string = '') {}

  /** Context for a child field or array index. */
  at(key: string | number): JsonContext {
    const p = typeof key === 'number' ? `${this.path}[${key}]` : this.path ? `${this.path}.${key}` : key;
    return new JsonContext(this.file, p);
  }

  /** Error for a malformed / missing field. */
  invalid(message: string): TokenizerError {
    return new TokenizerError('TOKENIZER_FILE', message, { file: this.file, field: this.path });
  }

  /** Error for a component type this implementation does not support. */
  unsupported(message: string): TokenizerError {
    return new TokenizerError('TOKENIZER_UNSUPPORTED', message, { file: this.file, field: this.path });
  }
}

/** A parsed JSON object. */
export type JsonObject = { [key: string]: unknown };

/** Narrow `v` to a plain JSON object or throw a TOKENIZER_FILE error naming the field. */
export function asObject(v: unknown, ctx: JsonContext): JsonObject {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw ctx.invalid('expected a JSON object');
  return v as JsonObject;
}

/** Narrow `v` to an array or throw. */
export function asArray(v: unknown, ctx: JsonContext): unknown[] {
  if (!Array.isArray(v)) throw ctx.invalid('expected a JSON array');
  return v;
}

/** Narrow `v` to a string or throw. */
export function asString(v: unknown, ctx: JsonContext): string {
  if (typeof v !== 'string') throw ctx.invalid('expected a string');
  return v;
}

/** Narrow `v` to a boolean, using `dflt` when it is absent/null. */
export function asBool(v: unknown, ctx: JsonContext, dflt: boolean): boolean {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') throw ctx.invalid('expected a boolean');
  return v;
}

/** Narrow `v` to a non-negative integer, using `dflt` when absent/null. */
export function asUint(v: unknown, ctx: JsonContext, dflt?: number): number {
  if ((v === undefined || v === null) && dflt !== undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw ctx.invalid('expected a non-negative integer');
  return v;
}

/** Read a single character (one Unicode code point) field, as Rust's `char` in tokenizers. */
export function asChar(v: unknown, ctx: JsonContext): string {
  const s = asString(v, ctx);
  if ([...s].length !== 1) throw ctx.invalid('expected a single character');
  return s;
}

/** The `type` field of a component, validated as a string. */
export function typeOf(obj: JsonObject, ctx: JsonContext): string {
  return asString(obj['type'], ctx.at('type'));
}

/**
 * Read a `{"String": "..."}` / `{"Regex": "..."}` pattern as used by Replace and Split.
 * Regexes are compiled with JavaScript semantics (`gu` flags), which agree with
 * the Oniguruma syntax tokenizers uses for the common cases; one that could backtrack
 * exponentially (regex-backtracking.ts) is refused as TOKENIZER_UNSUPPORTED.
 */
export function asPattern(v: unknown, ctx: JsonContext): { kind: 'string'; value: string } | { kind: 'regex'; value: RegExp } {
  const o = asObject(v, ctx);
  if (typeof o['String'] === 'string') return { kind: 'string', value: o['String'] };
  if (typeof o['Regex'] === 'string') {
    let re: RegExp;
    try {
      re = new RegExp(o['Regex'], 'gu');
    } catch (e) {
      throw ctx.at('Regex').unsupported(`regex cannot be compiled by JavaScript: ${(e as Error).message}`);
    }
    const risk = backtrackingRisk(o['Regex']);
    if (risk !== null) throw ctx.at('Regex').unsupported(`regex could take exponential time to match (catastrophic backtracking): ${risk}`);
    return { kind: 'regex', value: re };
  }
  throw ctx.invalid('expected {"String": ...} or {"Regex": ...}');
}
