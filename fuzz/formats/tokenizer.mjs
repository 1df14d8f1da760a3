// tokenizer.json: the tokenizer pipeline read by lib/tokenizer/. Besides field-level mutation, whole
// components are swapped for others of the kinds the reader knows (or does not), and vocab / merges /
// added tokens get entries that collide, point out of range or are empty.
import { interestingValue, mutateJson } from '../mutate-json.mjs';
import { jsonFileFormat } from './json-format.mjs';

const PATTERNS = [{ String: ' ' }, { String: '' }, { String: '▁' }, { Regex: '\\s+' }, { Regex: '[' }, { Regex: '(?<=a)b' },
  { Regex: "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+" }, { Regex: '' }, { Regex: '.' },
  { Regex: 'x*' }, { Regex: '(\\D+)+\\d' }, { Regex: '(a|ab)*c' }, { Regex: '(?:\\w+\\s?)*$' }, { Bogus: 1 }, 'a string'];

function component(rng, kind) {
  const pattern = () => rng.pick(PATTERNS);
  const pick = {
    normalizer: () => rng.pick([
      { type: 'Sequence', normalizers: [] }, { type: 'Prepend', prepend: rng.pick(['▁', '', 'x'.repeat(1000)]) },
      { type: 'Replace', pattern: pattern(), content: rng.pick(['▁', '', 'xx']) }, { type: 'NFKC' }, { type: 'NFD' },
      { type: 'Lowercase' }, { type: 'Strip', strip_left: true, strip_right: true }, { type: 'BertNormalizer' }, { type: 'Nope' }, null]),
    pre_tokenizer: () => rng.pick([
      { type: 'Split', pattern: pattern(), behavior: rng.pick(['Isolated', 'Removed', 'Contiguous', 'MergedWithPrevious', 'MergedWithNext', 'Bogus']), invert: rng.chance(0.5) },
      { type: 'Metaspace', replacement: rng.pick(['▁', '', 'ab']), prepend_scheme: rng.pick(['always', 'never', 'first', 'bogus']), split: rng.chance(0.5) },
      { type: 'ByteLevel', add_prefix_space: false }, { type: 'Whitespace' }, { type: 'WhitespaceSplit' }, { type: 'Digits', individual_digits: true },
      { type: 'Punctuation', behavior: 'Isolated' }, { type: 'Sequence', pretokenizers: [] }, { type: 'Nope' }, null]),
    decoder: () => rng.pick([
      { type: 'Sequence', decoders: [] }, { type: 'Replace', pattern: pattern(), content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' },
      { type: 'Strip', content: rng.pick([' ', '', 'ab']), start: rng.pick([0, 1, -1, 1e9]), stop: rng.pick([0, 1, -1]) },
      { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always' }, { type: 'ByteLevel' }, { type: 'WordPiece' }, null]),
    post_processor: () => rng.pick([
      { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }], pair: [], special_tokens: {} },
      { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<nope>', type_id: 0 } }], pair: [], special_tokens: { '<nope>': { id: '<nope>', ids: [999999], tokens: ['<nope>'] } } },
      { type: 'ByteLevel' }, { type: 'BertProcessing', sep: ['</s>', 2], cls: ['<s>', 1] }, { type: 'Sequence', processors: [] }, null]),
  };
  return pick[kind]();
}

function vocabDamage(rng, tok) {
  const vocab = tok.model.vocab;
  const pieces = Object.keys(vocab);
  const piece = rng.pick(pieces);
  switch (rng.int(6)) {
    case 0:
      vocab[piece] = interestingValue(rng, vocab[piece]);
      return `model.vocab[${JSON.stringify(piece)}] = ${JSON.stringify(vocab[piece])?.slice(0, 40)}`;
    case 1:
      vocab[rng.pick(['', '▁', 'x'.repeat(5000), '<0xZZ>'])] = rng.pick([0, 5, 999, 1000, 1e6, -1]);
      return 'model.vocab: entry added';
    case 2: {
      const other = rng.pick(pieces);
      vocab[piece] = vocab[other];
      return `model.vocab[${JSON.stringify(piece)}] duplicates the id of ${JSON.stringify(other)}`;
    }
    case 3:
      tok.model.merges.splice(rng.int(tok.model.merges.length + 1), 0, rng.pick(['a', 'a b c', ' ', '', 'zz qq', ['a'], ['▁', 't'], 42]));
      return 'model.merges: odd entry inserted';
    case 4: {
      const t = rng.pick(tok.added_tokens);
      if (t) t[rng.pick(['id', 'content', 'special', 'lstrip', 'rstrip', 'normalized', 'single_word'])] = interestingValue(rng, t.id);
      return 'added_tokens: a field changed';
    }
    default:
      tok.added_tokens.push({ id: rng.pick([3, 999, 1000, 31999, 32000, -1, 1e12]), content: rng.pick(['<s>', '', 'Hello', '▁', '<|im_start|>']),
        special: rng.chance(0.5), lstrip: rng.chance(0.5), rstrip: rng.chance(0.5), normalized: rng.chance(0.5), single_word: rng.chance(0.5) });
      return 'added_tokens: entry added';
  }
}

/** One of: a component swapped, vocab / merges / added tokens damaged, or a field-level mutation. */
function mutateTokenizer(rng, tok) {
  const op = rng.int(3);
  if (op === 0) {
    const kind = rng.pick(['normalizer', 'pre_tokenizer', 'decoder', 'post_processor']);
    const c = component(rng, kind);
    const host = tok[kind];
    const list = host?.normalizers ?? host?.decoders ?? host?.pretokenizers;
    if (Array.isArray(list) && rng.chance(0.5)) {
      list.splice(rng.int(list.length + 1), 0, c);
      return { doc: tok, note: `${kind}: ${JSON.stringify(c)?.slice(0, 80)} added to its sequence` };
    }
    tok[kind] = c;
    return { doc: tok, note: `${kind} = ${JSON.stringify(c)?.slice(0, 80)}` };
  }
  if (op === 1) return { doc: tok, note: vocabDamage(rng, tok) };
  return mutateJson(rng, tok, { dict: ['type', 'byte_fallback', 'fuse_unk', 'unk_token', 'dropout', 'ignore_merges', 'continuing_subword_prefix'] });
}

export default jsonFileFormat({ name: 'tokenizer', file: 'tokenizer.json', textP: 0.05, mutateDoc: mutateTokenizer });
