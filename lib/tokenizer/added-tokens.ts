/**
 * Added tokens (`added_tokens` in tokenizer.json): matched in the input before
 * the model runs, as tokenizers' `AddedVocabulary`:
 *  - tokens with `normalized: false` are matched in the raw text,
 *  - tokens with `normalized: true` are matched in the normalized text of the
 *    segments left between raw matches,
 *  - matching is leftmost-longest; `single_word` rejects matches touching word
 *    characters; `lstrip` / `rstrip` swallow neighbouring whitespace.
 */
import { JsonContext, TokenizerError, asArray, asBool, asObject, asString, asUint } from './errors.js';

/** One entry of `added_tokens`. */
export interface AddedToken {
  id: number;
  content: string;
  singleWord: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/** A piece of input: either an added token (`id` set) or text for the model. */
export interface Segment {
  text: string;
  /** id of the matched added token; `undefined` for ordinary text */
  id: number | undefined;
  /** UTF-16 offset of the piece in the string that was split */
  start: number;
}

// Rust regex `\w` and `\s` (Unicode-aware), used by tokenizers for these checks.
const WORD_CHAR_AT_END = /[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]$/u;
const WORD_CHAR_AT_START = /^[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]/u;
const SPACES_AT_END = /\p{White_Space}*$/u;
const SPACES_AT_START = /^\p{White_Space}*/u;

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** A compiled leftmost-longest matcher over a set of added tokens. */
class Matcher {
  private readonly re: RegExp | null;
  private readonly byContent = new Map<string, AddedToken>();

  constructor(tokens: Array<{ pattern: string; token: AddedToken }>) {
    for (const t of tokens) if (t.pattern !== '' && !this.byContent.has(t.pattern)) this.byContent.set(t.pattern, t.token);
    const pats = [...this.byContent.keys()].sort((a, b) => b.length - a.length);
    // At each start position JS alternation takes the first alternative that
    // matches; listing longer patterns first yields leftmost-longest matching.
    this.re = pats.length ? new RegExp(pats.map(escapeRegex).join('|'), 'gu') : null;
    // V8 compiles a regex at its first use; a hostile file's added tokens (one of 40,000 characters) can make
    // it too large to compile, which would surface as a SyntaxError from encode(). Compile it now.
    try {
      this.re?.test('');
    } catch (e) {
      throw new TokenizerError('TOKENIZER_UNSUPPORTED', `the added tokens are too long to match together (${pats.length} tokens, ` +
        `${pats.reduce((n, p) => n + p.length, 0)} characters): ${(e as Error).message.slice(-40)}`, { field: 'added_tokens' });
    }
    if (this.re) this.re.lastIndex = 0;
  }

  get empty(): boolean {
    return this.re === null;
  }

  /** Split `text` as tokenizers' `AddedVocabulary::find_matches`. */
  split(text: string): Segment[] {
    if (this.re === null || text.length === 0) return [{ text, id: undefined, start: 0 }];
    const out: Segment[] = [];
    let startOffset = 0;
    for (const m of text.matchAll(this.re)) {
      const tok = this.byContent.get(m[0])!;
      let start = m.index;
      let stop = start + m[0].length;
      if (tok.singleWord) {
        const startSpace = start === 0 || !WORD_CHAR_AT_END.test(text.slice(0, start));
        const stopSpace = stop === text.length || !WORD_CHAR_AT_START.test(text.slice(stop));
        if (!startSpace || !stopSpace) continue;
      }
      if (tok.lstrip) {
        const before = text.slice(0, start);
        const ws = SPACES_AT_END.exec(before)!;
        start = Math.max(ws.index, startOffset);
      }
      if (tok.rstrip) stop += SPACES_AT_START.exec(text.slice(stop))![0].length;
      if (start < startOffset) continue; // overlaps whitespace already swallowed by a previous rstrip
      if (start > startOffset) out.push({ text: text.slice(startOffset, start), id: undefined, start: startOffset });
      out.push({ text: text.slice(start, stop), id: tok.id, start });
      startOffset = stop;
    }
    if (startOffset < text.length) out.push({ text: text.slice(startOffset), id: undefined, start: startOffset });
    return out;
  }
}

/** The set of added tokens of a tokenizer. */
export class AddedVocabulary {
  readonly tokens: AddedToken[];
  private readonly byId = new Map<number, AddedToken>();
  private readonly byContent = new Map<string, AddedToken>();
  private readonly raw: Matcher;
  private normalizedMatcher: Matcher | null = null;

  constructor(tokens: AddedToken[]) {
    this.tokens = tokens;
    for (const t of tokens) {
      this.byId.set(t.id, t);
      this.byContent.set(t.content, t);
    }
    this.raw = new Matcher(tokens.filter((t) => !t.normalized).map((t) => ({ pattern: t.content, token: t })));
  }

  /** Parse the `added_tokens` array of tokenizer.json. */
  static fromJson(json: unknown, ctx: JsonContext): AddedToken[] {
    if (json === undefined || json === null) return [];
    return asArray(json, ctx).map((v, i) => {
      const c = ctx.at(i);
      const o = asObject(v, c);
      return {
        id: asUint(o['id'], c.at('id')),
        content: asString(o['content'], c.at('content')),
        singleWord: asBool(o['single_word'], c.at('single_word'), false),
        lstrip: asBool(o['lstrip'], c.at('lstrip'), false),
        rstrip: asBool(o['rstrip'], c.at('rstrip'), false),
        normalized: asBool(o['normalized'], c.at('normalized'), true),
        special: asBool(o['special'], c.at('special'), false),
      };
    });
  }

  /** Compile the matcher for `normalized: true` tokens; their patterns are the normalized contents. */
  setNormalizer(normalize: (s: string) => string): void {
    const list = this.tokens.filter((t) => t.normalized).map((t) => ({ pattern: normalize(t.content), token: t }));
    this.normalizedMatcher = list.length ? new Matcher(list) : null;
  }

  getById(id: number): AddedToken | undefined {
    return this.byId.get(id);
  }

  getByContent(content: string): AddedToken | undefined {
    return this.byContent.get(content);
  }

  /** Split raw input on `normalized: false` tokens. */
  splitRaw(text: string): Segment[] {
    return this.raw.split(text);
  }

  /** Split normalized text on `normalized: true` tokens. */
  splitNormalized(text: string): Segment[] {
    return this.normalizedMatcher === null ? [{ text, id: undefined, start: 0 }] : this.normalizedMatcher.split(text);
  }
}
