/**
 * Pre-tokenizers: the `pre_tokenizer` section of tokenizer.json.
 *
 * A pre-tokenizer cuts a normalized segment into "words"; the model (BPE)
 * then runs on each word independently.
 */
import { BYTE_LEVEL_REGEX, toByteChars } from './byte-level.js';
import { JsonContext, asArray, asBool, asChar, asObject, asPattern, asString, typeOf } from './errors.js';

/** Cuts normalized text into pieces that are tokenized independently. */
export interface PreTokenizer {
  /**
   * @param text  normalized text of one segment (never contains added tokens)
   * @param atStart true when the segment starts at offset 0 of the original input
   *                (used by Metaspace `prepend_scheme: "first"`)
   */
  split(text: string, atStart: boolean): string[];
}

/** How matched delimiters are kept, as tokenizers' `SplitDelimiterBehavior`. */
export type SplitBehavior = 'Removed' | 'Isolated' | 'MergedWithPrevious' | 'MergedWithNext' | 'Contiguous';

type Span = [start: number, end: number, isMatch: boolean];

/** Turn a sorted list of match ranges into a full cover of `text` (matches and gaps). */
function coverWithMatches(text: string, matches: Array<[number, number]>, invert: boolean): Span[] {
  const out: Span[] = [];
  let pos = 0;
  for (const [s, e] of matches) {
    if (s > pos) out.push([pos, s, invert]);
    out.push([s, e, !invert]);
    pos = e;
  }
  if (pos < text.length) out.push([pos, text.length, invert]);
  return out;
}

/** Apply tokenizers' split behaviour to a cover of the text; returns non-empty pieces. */
export function splitSpans(text: string, spans: Span[], behavior: SplitBehavior): string[] {
  let res: Span[];
  switch (behavior) {
    case 'Isolated':
      res = spans.map(([s, e]) => [s, e, false]);
      break;
    case 'Removed':
      res = spans;
      break;
    case 'Contiguous': {
      res = [];
      let prev = false;
      for (const [s, e, m] of spans) {
        const last = res[res.length - 1];
        if (m === prev && last) last[1] = e;
        else res.push([s, e, false]);
        prev = m;
      }
      break;
    }
    case 'MergedWithPrevious': {
      res = [];
      let prev = false;
      for (const [s, e, m] of spans) {
        const last = res[res.length - 1];
        if (m && !prev && last) last[1] = e;
        else res.push([s, e, false]);
        prev = m;
      }
      break;
    }
    case 'MergedWithNext': {
      res = [];
      let prev = false;
      for (let i = spans.length - 1; i >= 0; i--) {
        const [s, e, m] = spans[i]!;
        const last = res[res.length - 1];
        if (m && !prev && last) last[0] = s;
        else res.push([s, e, false]);
        prev = m;
      }
      res.reverse();
      break;
    }
  }
  const out: string[] = [];
  for (const [s, e, m] of res) if (!m && e > s) out.push(text.slice(s, e));
  return out;
}

/** All non-overlapping occurrences of a literal string. */
function findString(text: string, pat: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  if (pat === '') return out;
  let i = text.indexOf(pat);
  while (i >= 0) {
    out.push([i, i + pat.length]);
    i = text.indexOf(pat, i + pat.length);
  }
  return out;
}

/** All non-empty matches of a global regex. */
function findRegex(text: string, re: RegExp): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const m of text.matchAll(re)) {
    if (m[0].length > 0) out.push([m.index, m.index + m[0].length]);
  }
  return out;
}

function parseBehavior(v: unknown, ctx: JsonContext): SplitBehavior {
  const b = asString(v, ctx);
  if (b === 'Removed' || b === 'Isolated' || b === 'MergedWithPrevious' || b === 'MergedWithNext' || b === 'Contiguous') return b;
  throw ctx.unsupported(`unknown split behavior "${b}"`);
}

/** Metaspace prepend scheme. */
export type PrependScheme = 'first' | 'always' | 'never';

/** Read Metaspace's prepend scheme in both the new (`prepend_scheme`) and old (`add_prefix_space`) forms. */
export function metaspaceScheme(o: Record<string, unknown>, ctx: JsonContext): PrependScheme {
  const ps = o['prepend_scheme'];
  if (ps !== undefined && ps !== null) {
    const s = asString(ps, ctx.at('prepend_scheme'));
    if (s === 'first' || s === 'always' || s === 'never') return s;
    throw ctx.at('prepend_scheme').unsupported(`unknown prepend_scheme "${s}"`);
  }
  return asBool(o['add_prefix_space'], ctx.at('add_prefix_space'), true) ? 'always' : 'never';
}

/**
 * Build a pre-tokenizer from its tokenizer.json description; `null` stays `null`
 * (the whole normalized segment is then one word).
 * Supported: Metaspace, Sequence, Split, WhitespaceSplit, Whitespace, Digits, Punctuation, ByteLevel.
 */
export function buildPreTokenizer(json: unknown, ctx: JsonContext): PreTokenizer | null {
  if (json === null || json === undefined) return null;
  const o = asObject(json, ctx);
  const type = typeOf(o, ctx);
  switch (type) {
    case 'Sequence': {
      const parts = asArray(o['pretokenizers'], ctx.at('pretokenizers'))
        .map((p, i) => buildPreTokenizer(p, ctx.at('pretokenizers').at(i)))
        .filter((p): p is PreTokenizer => p !== null);
      return {
        split(text, atStart) {
          let pieces: Array<[string, boolean]> = [[text, atStart]];
          for (const p of parts) {
            const next: Array<[string, boolean]> = [];
            for (const [t, first] of pieces) p.split(t, first).forEach((s, i) => next.push([s, first && i === 0]));
            pieces = next;
          }
          return pieces.map(([t]) => t);
        },
      };
    }
    case 'Metaspace': {
      const rep = asChar(o['replacement'], ctx.at('replacement'));
      const scheme = metaspaceScheme(o, ctx);
      const doSplit = asBool(o['split'], ctx.at('split'), true);
      return {
        split(text, atStart) {
          if (text.length === 0) return [];
          let t = text.split(' ').join(rep);
          if (!t.startsWith(rep) && (scheme === 'always' || (scheme === 'first' && atStart))) t = rep + t;
          if (!doSplit) return [t];
          return splitSpans(t, coverWithMatches(t, findString(t, rep), false), 'MergedWithNext');
        },
      };
    }
    case 'Split': {
      const pattern = asPattern(o['pattern'], ctx.at('pattern'));
      const behavior = parseBehavior(o['behavior'], ctx.at('behavior'));
      const invert = asBool(o['invert'], ctx.at('invert'), false);
      return {
        split(text) {
          const m = pattern.kind === 'string' ? findString(text, pattern.value) : findRegex(text, pattern.value);
          return splitSpans(text, coverWithMatches(text, m, invert), behavior);
        },
      };
    }
    case 'ByteLevel': {
      // Optionally a leading space, then GPT-2's regex split (Isolated), then each piece's bytes as chars.
      const prefix = asBool(o['add_prefix_space'], ctx.at('add_prefix_space'), true);
      const useRegex = asBool(o['use_regex'], ctx.at('use_regex'), true);
      return {
        split(text) {
          const t = prefix && !text.startsWith(' ') ? ' ' + text : text;
          const pieces = useRegex ? splitSpans(t, coverWithMatches(t, findRegex(t, BYTE_LEVEL_REGEX), false), 'Isolated') : t ? [t] : [];
          return pieces.map(toByteChars);
        },
      };
    }
    case 'WhitespaceSplit':
      return { split: (text) => splitSpans(text, coverWithMatches(text, findRegex(text, /\p{White_Space}+/gu), false), 'Removed') };
    case 'Whitespace': {
      const re = /[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]+|[^\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}\p{White_Space}]+/gu;
      return { split: (text) => splitSpans(text, coverWithMatches(text, findRegex(text, re), true), 'Removed') };
    }
    case 'Digits': {
      const individual = asBool(o['individual_digits'], ctx.at('individual_digits'), false);
      const re = individual ? /\p{N}/gu : /\p{N}+/gu;
      return { split: (text) => splitSpans(text, coverWithMatches(text, findRegex(text, re), false), 'Isolated') };
    }
    case 'Punctuation': {
      const behavior = parseBehavior(o['behavior'] ?? 'Isolated', ctx.at('behavior'));
      return { split: (text) => splitSpans(text, coverWithMatches(text, findRegex(text, /[\p{P}!-\/:-@[-`{-~]/gu), false), behavior) };
    }
    default:
      throw ctx.at('type').unsupported(`unsupported pre_tokenizer type "${type}"`);
  }
}
