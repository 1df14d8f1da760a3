/**
 * Normalizers: the `normalizer` section of tokenizer.json.
 *
 * Only the normalized text matters for encoding ids (offsets are not tracked),
 * so each normalizer is a plain `string -> string` function.
 */
import { JsonContext, asArray, asBool, asObject, asPattern, asString, typeOf } from './errors.js';

/** A text normalizer. */
export interface Normalizer {
  normalize(text: string): string;
}

const LEADING_WS = /^\p{White_Space}+/u;
const TRAILING_WS = /\p{White_Space}+$/u;

/** Replace every non-overlapping occurrence of a pattern (String or Regex) in `text`. */
export function replacePattern(text: string, pattern: ReturnType<typeof asPattern>, content: string): string {
  if (pattern.kind === 'string') {
    if (pattern.value === '') return text;
    return text.split(pattern.value).join(content);
  }
  // A replacer function avoids `$` in `content` being read as a group reference.
  return text.replace(pattern.value, () => content);
}

/**
 * Build a normalizer from its tokenizer.json description.
 * Returns `null` for a `null` normalizer.
 * @throws TokenizerError TOKENIZER_UNSUPPORTED for unknown types, TOKENIZER_FILE for malformed fields.
 */
export function buildNormalizer(json: unknown, ctx: JsonContext): Normalizer | null {
  if (json === null || json === undefined) return null;
  const o = asObject(json, ctx);
  const type = typeOf(o, ctx);
  switch (type) {
    case 'Sequence': {
      const list = asArray(o['normalizers'], ctx.at('normalizers')).map((n, i) => buildNormalizer(n, ctx.at('normalizers').at(i)));
      const parts = list.filter((n): n is Normalizer => n !== null);
      return { normalize: (t) => parts.reduce<string>((acc, n) => n.normalize(acc), t) };
    }
    case 'Prepend': {
      const prepend = asString(o['prepend'], ctx.at('prepend'));
      // tokenizers only prepends to non-empty strings.
      return { normalize: (t) => (t.length === 0 ? t : prepend + t) };
    }
    case 'Append': {
      const append = asString(o['append'], ctx.at('append'));
      return { normalize: (t) => (t.length === 0 ? t : t + append) };
    }
    case 'Replace': {
      const pattern = asPattern(o['pattern'], ctx.at('pattern'));
      const content = asString(o['content'], ctx.at('content'));
      return { normalize: (t) => replacePattern(t, pattern, content) };
    }
    case 'NFC':
    case 'NFD':
    case 'NFKC':
    case 'NFKD':
      return { normalize: (t) => t.normalize(type) };
    case 'Lowercase':
      return { normalize: (t) => t.toLowerCase() };
    case 'Strip': {
      const left = asBool(o['strip_left'], ctx.at('strip_left'), false);
      const right = asBool(o['strip_right'], ctx.at('strip_right'), false);
      return {
        normalize: (t) => {
          let s = t;
          if (left) s = s.replace(LEADING_WS, '');
          if (right) s = s.replace(TRAILING_WS, '');
          return s;
        },
      };
    }
    default:
      throw ctx.at('type').unsupported(`unsupported normalizer type "${type}"`);
  }
}
