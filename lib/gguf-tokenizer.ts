/**
 * The tokenizer and chat template of a GGUF file, from its `tokenizer.ggml.*` metadata, behind the same
 * `Tokenizer` as HF folders (decode, stream decoding, BOS/EOS, chat template). Encoding is llama.cpp's:
 *   - `llama`: SentencePiece-style tokens and scores, merged by score (lib/tokenizer/llama-spm.ts);
 *   - `gpt2`: byte-level BPE over `tokenizer.ggml.merges`, with the pre-tokenizer regex that
 *     `tokenizer.ggml.pre` names (only the ones below; others are refused rather than guessed).
 * Text is encoded with special tokens recognised (llama.cpp's parse_special = true), as HF tokenizers
 * recognise added tokens in text; `encodeLlama(text, addSpecial, false)` gives the other mode.
 */
import { ModelLoadError } from './errors.js';
import { GgufMetadata, type GgufFile } from './load/gguf.js';
import { LlamaSpmEncoder, TOKEN_TYPE } from './tokenizer/llama-spm.js';
import { Tokenizer, TokenizerError, type EncodeOptions } from './tokenizer/index.js';

/** tokenizer.ggml.pre -> the HF pre_tokenizer of the same regex (llama-vocab.cpp `llm_tokenizer_bpe`). */
const GPT2_PRE: Record<string, unknown> = {
  'gpt-2': { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
  default: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
  'llama-bpe': {
    type: 'Sequence',
    pretokenizers: [
      {
        type: 'Split',
        pattern: {
          Regex: "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
        },
        behavior: 'Isolated',
        invert: false,
      },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
    ],
  },
};

/** A Tokenizer whose encode() is llama.cpp's SPM algorithm. */
class LlamaSpmTokenizer extends Tokenizer {
  readonly #spm: LlamaSpmEncoder;
  constructor(json: unknown, config: unknown, file: string, spm: LlamaSpmEncoder) {
    super(json, config, { tokenizerFile: file });
    this.#spm = spm;
  }

  override encode(text: string, opts: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') throw new TokenizerError('TOKENIZER_INPUT', `encode() expects a string, got ${typeof text}`);
    return this.#spm.encode(text, opts.addSpecialTokens ?? true, true);
  }

  /** llama.cpp's llama_tokenize(text, addSpecial, parseSpecial). */
  encodeLlama(text: string, addSpecial: boolean, parseSpecial: boolean): number[] {
    return this.#spm.encode(text, addSpecial, parseSpecial);
  }
}

/**
 * The tokenizer described by a GGUF file's metadata, or null when it has none (`tokenizer.ggml.model`
 * absent or 'none').
 * @throws ModelLoadError TOKENIZER_INVALID naming the key at fault
 */
export function ggufTokenizer(g: GgufFile): Tokenizer | null {
  const m = new GgufMetadata(g);
  const file = g.file;
  const invalid = (field: string, why: string): never => {
    throw new ModelLoadError('TOKENIZER_INVALID', `${file}: ${field} ${why}`, { file, field });
  };
  const kind = m.str('tokenizer.ggml.model', null);
  if (kind === null || kind === 'none' || kind === 'no_vocab') return null;
  if (kind !== 'llama' && kind !== 'gpt2')
    invalid('tokenizer.ggml.model', `'${kind}' is not supported (smoe reads 'llama' and 'gpt2' vocabularies)`);
  const tokens = m.strings('tokenizer.ggml.tokens')!;
  const n = tokens.length;
  const sized = (key: string, a: ArrayLike<number> | null): ArrayLike<number> | null => {
    if (a !== null && a.length !== n) invalid(key, `holds ${a.length} entries for ${n} tokens`);
    return a;
  };
  const types = sized('tokenizer.ggml.token_type', m.numbers('tokenizer.ggml.token_type', false)) ?? new Float64Array(n).fill(TOKEN_TYPE.NORMAL);
  const spm = kind === 'llama';
  // Absent ids take llama.cpp's defaults for SPM vocabularies (unk 0, bos 1, eos 2); none for gpt2.
  const id = (key: string, spmDefault: number): number | null => {
    const v = m.int(key, null) ?? (spm && spmDefault < n ? spmDefault : null);
    if (v !== null && (v < 0 || v >= n)) invalid(key, `is ${v}, outside the ${n} tokens`);
    return v;
  };
  const bosId = id('tokenizer.ggml.bos_token_id', 1);
  const eosId = id('tokenizer.ggml.eos_token_id', 2);
  const unkId = id('tokenizer.ggml.unknown_token_id', 0);
  const pre = m.str('tokenizer.ggml.pre', 'default')!;
  // llama.cpp adds BOS by default for SPM and for the llama-bpe (Llama 3) pre-tokenizer.
  const addBos = m.bool('tokenizer.ggml.add_bos_token', null) ?? (spm || pre === 'llama-bpe');
  const addEos = m.bool('tokenizer.ggml.add_eos_token', null) ?? false;
  if (addBos && bosId === null) invalid('tokenizer.ggml.bos_token_id', 'is missing but add_bos_token is set');
  if (addEos && eosId === null) invalid('tokenizer.ggml.eos_token_id', 'is missing but add_eos_token is set');

  // The equivalent tokenizer.json: vocab, added tokens for the CONTROL / UNKNOWN (special) and USER_DEFINED
  // ones, the decoder llama.cpp's detokenizer amounts to.
  const vocab: Record<string, number> = Object.create(null) as Record<string, number>; // a token may be '__proto__'
  tokens.forEach((t, i) => {
    if (!Object.hasOwn(vocab, t)) vocab[t] = i;
  });
  const added = [];
  for (let i = 0; i < n; i++) {
    const t = types[i];
    if (t === TOKEN_TYPE.CONTROL || t === TOKEN_TYPE.UNKNOWN || t === TOKEN_TYPE.USER_DEFINED)
      added.push({ id: i, content: tokens[i], special: t !== TOKEN_TYPE.USER_DEFINED, normalized: false, lstrip: false, rstrip: false, single_word: false });
  }
  const config = {
    ...(bosId !== null ? { bos_token: tokens[bosId] } : {}),
    ...(eosId !== null ? { eos_token: tokens[eosId] } : {}),
    add_bos_token: addBos,
    add_eos_token: addEos,
    ...(m.has('tokenizer.chat_template') ? { chat_template: m.str('tokenizer.chat_template') } : {}),
  };
  try {
    if (spm) {
      const scores = sized('tokenizer.ggml.scores', m.numbers('tokenizer.ggml.scores', false)) ?? new Float64Array(n);
      const addSpacePrefix = m.bool('tokenizer.ggml.add_space_prefix', null) ?? true;
      const json = {
        model: { type: 'BPE', vocab, merges: [], byte_fallback: true, fuse_unk: true, unk_token: unkId === null ? null : tokens[unkId] },
        added_tokens: added,
        decoder: {
          type: 'Sequence',
          decoders: [
            { type: 'Replace', pattern: { String: '\u2581' }, content: ' ' },
            { type: 'ByteFallback' },
            { type: 'Fuse' },
            ...(addSpacePrefix ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : []),
          ],
        },
      };
      const encoder = new LlamaSpmEncoder({ tokens, scores, types, bosId, eosId, addBos, addEos, addSpacePrefix });
      return new LlamaSpmTokenizer(json, config, file, encoder);
    }
    const preTokenizer = GPT2_PRE[pre] ??
      invalid('tokenizer.ggml.pre', `'${pre}' is not supported (smoe knows ${Object.keys(GPT2_PRE).join(', ')})`);
    const json = {
      model: { type: 'BPE', vocab, merges: m.strings('tokenizer.ggml.merges')!, byte_fallback: false, ignore_merges: pre === 'llama-bpe' },
      added_tokens: added,
      pre_tokenizer: preTokenizer,
      decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    };
    return new Tokenizer(json, config, { tokenizerFile: file });
  } catch (e) {
    if (e instanceof TokenizerError)
      throw new ModelLoadError('TOKENIZER_INVALID', `${file}: cannot build the tokenizer from its metadata: ${e.message}`, { file, cause: e });
    throw e;
  }
}
