/**
 * The `Tokenizer` class: assembles the pipeline described by tokenizer.json
 * (added tokens -> normalizer -> pre-tokenizer -> BPE model -> post-processor
 * for encoding; decoder for decoding) and reproduces Hugging Face
 * `tokenizers` output for it.
 */
import { AddedVocabulary, type AddedToken } from './added-tokens.js';
import { BpeModel } from './bpe.js';
import { buildDecoder, type Decoder, type DecoderStage } from './decoder.js';
import { JsonContext, TokenizerError, asObject, asString, type JsonObject } from './errors.js';
import { buildNormalizer, type Normalizer } from './normalizer.js';
import { buildPostProcessor, type SpecialWrap } from './post-processor.js';
import { buildPreTokenizer, type PreTokenizer } from './pre-tokenizer.js';
import { StreamDecoder, type StreamDecoderOptions, type StreamSource } from './stream.js';

/** Options of {@link Tokenizer.encode}. */
export interface EncodeOptions {
  /**
   * Add BOS/EOS (default `true`): per `add_bos_token` / `add_eos_token` of
   * tokenizer_config.json when it sets either flag, otherwise per the
   * `post_processor` of tokenizer.json.
   */
  addSpecialTokens?: boolean;
}

/** Options of {@link Tokenizer.decode}. */
export interface DecodeOptions {
  /**
   * Drop special tokens (those of `added_tokens` with `special: true`, e.g.
   * `<s>`, `</s>`, `<unk>`) before decoding. Default `true`, the default of the
   * `tokenizers` Python binding (and what the reference vectors were made with).
   */
  skipSpecialTokens?: boolean;
}

/** Public description of an added token. */
export interface SpecialTokenInfo {
  readonly id: number;
  readonly content: string;
  /** `special: true` in tokenizer.json (skipped by decode with skipSpecialTokens). */
  readonly special: boolean;
  readonly singleWord: boolean;
  readonly lstrip: boolean;
  readonly rstrip: boolean;
  readonly normalized: boolean;
}

/** Where the tokenizer was read from (used in error messages). */
export interface TokenizerSources {
  tokenizerFile?: string;
  configFile?: string;
}

const CUT_CHAR = '\u2581'; // ▁, SentencePiece's meta-space

function tokenName(v: unknown, ctx: JsonContext): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  return asString(asObject(v, ctx)['content'], ctx.at('content'));
}

/** A tokenizer built from a Hugging Face tokenizer.json (+ optional tokenizer_config.json). */
export class Tokenizer implements StreamSource {
  /** Number of ids (highest id of the vocab or of the added tokens, plus one). */
  readonly vocabSize: number;
  /** Id of the BOS token, if one is known. */
  readonly bosId: number | undefined;
  /** Id of the EOS token, if one is known. */
  readonly eosId: number | undefined;
  /** Id of the model's unknown token, if any. */
  readonly unkId: number | undefined;
  /** Content of the BOS / EOS tokens, if known. */
  readonly bosToken: string | undefined;
  readonly eosToken: string | undefined;
  /** Whether `encode` adds BOS / EOS by default. */
  readonly addBosToken: boolean;
  readonly addEosToken: boolean;
  /** All added tokens of tokenizer.json (special or not), in file order. */
  readonly addedTokens: readonly SpecialTokenInfo[];
  /** The `chat_template` of tokenizer_config.json (the default one when there are several). */
  readonly chatTemplate: string | undefined;

  private readonly added: AddedVocabulary;
  private readonly normalizer: Normalizer | null;
  private readonly preTokenizer: PreTokenizer | null;
  private readonly model: BpeModel;
  private readonly decoder: Decoder | null;
  private readonly wrap: SpecialWrap;
  /** With a null pre-tokenizer: cut segments before runs of this char (proven result-preserving), or null. */
  private readonly cutChar: string | null;
  /** Every id's token text when the caller has them (GGUF lists may repeat a text under several ids). */
  private readonly tokenTexts: readonly string[] | undefined;

  /**
   * Build from parsed JSON.
   * @param tokenizerJson parsed tokenizer.json
   * @param config parsed tokenizer_config.json, or undefined when there is none
   * @param tokenTexts the text of every id, for vocabularies where ids share a text (a GGUF token list)
   * @throws TokenizerError TOKENIZER_FILE / TOKENIZER_UNSUPPORTED
   */
  constructor(tokenizerJson: unknown, config?: unknown, sources: TokenizerSources = {}, tokenTexts?: readonly string[]) {
    this.tokenTexts = tokenTexts;
    const root = new JsonContext(sources.tokenizerFile ?? 'tokenizer.json');
    const tj = asObject(tokenizerJson, root);

    // Model
    const mctx = root.at('model');
    const mj = asObject(tj['model'], mctx);
    const mtype = mj['type'] === undefined ? ('merges' in mj ? 'BPE' : undefined) : asString(mj['type'], mctx.at('type'));
    if (mtype !== 'BPE') throw mctx.at('type').unsupported(`unsupported model type "${String(mtype)}" (only BPE is implemented)`);
    this.model = new BpeModel(mj, mctx);

    // Added tokens (tokenizer.json, plus any only listed in tokenizer_config.json's added_tokens_decoder)
    const addedList: AddedToken[] = AddedVocabulary.fromJson(tj['added_tokens'], root.at('added_tokens'));
    let cfg: JsonObject | undefined;
    const cctx = new JsonContext(sources.configFile ?? 'tokenizer_config.json');
    if (config !== undefined && config !== null) {
      cfg = asObject(config, cctx);
      const atd = cfg['added_tokens_decoder'];
      if (atd !== undefined && atd !== null) {
        const known = new Set(addedList.map((t) => t.id));
        for (const [k, v] of Object.entries(asObject(atd, cctx.at('added_tokens_decoder')))) {
          const id = Number(k);
          if (!Number.isInteger(id) || id < 0 || known.has(id)) continue;
          const [t] = AddedVocabulary.fromJson([{ ...asObject(v, cctx.at('added_tokens_decoder').at(k)), id }], cctx.at('added_tokens_decoder'));
          addedList.push(t!);
        }
      }
    }
    this.added = new AddedVocabulary(addedList);
    this.addedTokens = addedList.map((t) => Object.freeze({ ...t }));

    // Pipeline
    this.normalizer = buildNormalizer(tj['normalizer'], root.at('normalizer'));
    this.preTokenizer = buildPreTokenizer(tj['pre_tokenizer'], root.at('pre_tokenizer'));
    this.decoder = buildDecoder(tj['decoder'], root.at('decoder'));
    const postWrap = buildPostProcessor(tj['post_processor'], root.at('post_processor'));
    const norm = this.normalizer;
    this.added.setNormalizer((s) => (norm ? norm.normalize(s) : s));
    this.cutChar = this.preTokenizer === null && this.model.canCutBefore(CUT_CHAR) ? CUT_CHAR : null;

    let maxId = Math.max(this.model.size, tokenTexts?.length ?? 0) - 1;
    for (const t of addedList) maxId = Math.max(maxId, t.id);
    this.vocabSize = maxId + 1;
    this.unkId = this.model.options.unkToken === null ? undefined : this.tokenToId(this.model.options.unkToken);

    // BOS / EOS
    const findSpecial = (names: string[]): string | undefined => names.find((n) => this.added.getByContent(n) !== undefined);
    const cfgBos = cfg ? tokenName(cfg['bos_token'], cctx.at('bos_token')) : undefined;
    const cfgEos = cfg ? tokenName(cfg['eos_token'], cctx.at('eos_token')) : undefined;
    const tmplBos = postWrap.prefix.length ? this.idToToken(postWrap.prefix[0]!) : undefined;
    const tmplEos = postWrap.suffix.length ? this.idToToken(postWrap.suffix[postWrap.suffix.length - 1]!) : undefined;
    this.bosToken = cfgBos ?? tmplBos ?? findSpecial(['<s>', '<|begin_of_text|>', '<bos>']);
    this.eosToken = cfgEos ?? tmplEos ?? findSpecial(['</s>', '<|end_of_text|>', '<|endoftext|>', '<eos>']);
    this.bosId = this.bosToken === undefined ? undefined : this.tokenToId(this.bosToken);
    this.eosId = this.eosToken === undefined ? undefined : this.tokenToId(this.eosToken);

    const hasFlag = (k: string): boolean => cfg !== undefined && typeof cfg[k] === 'boolean';
    if (hasFlag('add_bos_token') || hasFlag('add_eos_token')) {
      // transformers' Llama-style tokenizers rebuild the template from these flags.
      this.addBosToken = cfg!['add_bos_token'] === true;
      this.addEosToken = cfg!['add_eos_token'] === true;
      if (this.addBosToken && this.bosId === undefined) throw cctx.at('bos_token').invalid('add_bos_token is true but the BOS token is unknown');
      if (this.addEosToken && this.eosId === undefined) throw cctx.at('eos_token').invalid('add_eos_token is true but the EOS token is unknown');
      this.wrap = { prefix: this.addBosToken ? [this.bosId!] : [], suffix: this.addEosToken ? [this.eosId!] : [] };
    } else {
      this.wrap = postWrap;
      this.addBosToken = postWrap.prefix.length > 0;
      this.addEosToken = postWrap.suffix.length > 0;
    }

    const ct = cfg?.['chat_template'];
    if (typeof ct === 'string') this.chatTemplate = ct;
    else if (Array.isArray(ct)) {
      const named = ct.filter((x): x is { name: string; template: string } => typeof x?.name === 'string' && typeof x?.template === 'string');
      this.chatTemplate = (named.find((x) => x.name === 'default') ?? named[0])?.template;
    } else this.chatTemplate = undefined;
  }

  /** Special added tokens (`special: true`), e.g. `<unk>`, `<s>`, `</s>`. */
  get specialTokens(): readonly SpecialTokenInfo[] {
    return this.addedTokens.filter((t) => t.special);
  }

  /** True when `id` is an added token marked `special`. */
  isSpecialId(id: number): boolean {
    return this.added.getById(id)?.special === true;
  }

  /** Token string of `id` (added tokens first, then the model vocab), or `undefined`. */
  idToToken(id: number): string | undefined {
    if (!Number.isInteger(id) || id < 0) return undefined;
    return this.added.getById(id)?.content ?? this.model.idToToken[id] ?? this.tokenTexts?.[id];
  }

  /** Id of a token string (added tokens first, then the model vocab), or `undefined`. */
  tokenToId(token: string): number | undefined {
    return this.added.getByContent(token)?.id ?? this.model.vocab.get(token);
  }

  /**
   * Encode text to ids, as `tokenizers`' `Tokenizer.encode(text, add_special_tokens)`.
   * Added tokens such as `<s>` written in the text are recognised as tokens.
   * @throws TokenizerError TOKENIZER_INPUT when `text` is not a string
   */
  encode(text: string, opts: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') throw new TokenizerError('TOKENIZER_INPUT', `encode() expects a string, got ${typeof text}`);
    const addSpecial = opts.addSpecialTokens ?? true;
    const ids: number[] = addSpecial ? [...this.wrap.prefix] : [];
    for (const seg of this.added.splitRaw(text)) {
      if (seg.id !== undefined) ids.push(seg.id);
      else this.encodeSegment(seg.text, seg.start === 0, ids);
    }
    if (addSpecial) ids.push(...this.wrap.suffix);
    return ids;
  }

  /** Normalize, pre-tokenize and run the model on text that contains no raw added token. */
  private encodeSegment(text: string, atStart: boolean, out: number[]): void {
    const normalized = this.normalizer ? this.normalizer.normalize(text) : text;
    for (const sub of this.added.splitNormalized(normalized)) {
      if (sub.id !== undefined) {
        out.push(sub.id);
        continue;
      }
      if (this.preTokenizer) {
        for (const word of this.preTokenizer.split(sub.text, atStart && sub.start === 0)) this.model.tokenizeInto(word, out);
      } else if (this.cutChar !== null) {
        this.tokenizeCut(sub.text, out);
      } else {
        this.model.tokenizeInto(sub.text, out);
      }
    }
  }

  /**
   * Null pre-tokenizer: tokenizers runs BPE on the whole segment. When the
   * merges can never join across "x▁" (checked at load), cutting before each
   * run of ▁ gives the same ids and lets the word cache work.
   */
  private tokenizeCut(text: string, out: number[]): void {
    const cut = this.cutChar!.charCodeAt(0);
    const n = text.length;
    let start = 0;
    for (let i = 1; i < n; i++) {
      if (text.charCodeAt(i) === cut && text.charCodeAt(i - 1) !== cut) {
        this.model.tokenizeInto(text.slice(start, i), out);
        start = i;
      }
    }
    if (start < n) this.model.tokenizeInto(text.slice(start), out);
  }

  /** Token string for a valid id; throws TOKEN_ID_RANGE otherwise. */
  private tokenOf(id: number, index?: number): string {
    const tok = typeof id === 'number' && Number.isInteger(id) && id >= 0 && id < this.vocabSize ? this.idToToken(id) : undefined;
    if (tok === undefined) {
      const at = index === undefined ? '' : ` at index ${index}`;
      throw new TokenizerError('TOKEN_ID_RANGE', `token id ${String(id)}${at} is not in the vocabulary (valid ids: 0..${this.vocabSize - 1})`);
    }
    return tok;
  }

  /**
   * Decode ids to text, as `tokenizers`' `Tokenizer.decode(ids, skip_special_tokens)`:
   * ids -> token strings (special tokens dropped when skipping) -> decoder
   * pipeline (e.g. Replace ▁→space, ByteFallback, Fuse, Strip one leading space)
   * -> joined. Without a decoder, tokens are joined with spaces.
   * @throws TokenizerError TOKEN_ID_RANGE for an id that is not an integer in [0, vocabSize) or has no token
   */
  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    if (!Array.isArray(ids)) throw new TokenizerError('TOKENIZER_INPUT', 'decode() expects an array of ids');
    const skip = opts.skipSpecialTokens ?? true;
    const tokens: string[] = [];
    ids.forEach((id, i) => {
      const tok = this.tokenOf(id, i);
      if (!(skip && this.isSpecialId(id))) tokens.push(tok);
    });
    return this.decoder ? this.decoder.decodeChain(tokens).join('') : tokens.join(' ');
  }

  /**
   * Streaming detokenizer for generation: `push(id)` returns newly completed
   * text, `flush()` the rest; their concatenation equals `decode(allIds)`.
   */
  createStreamDecoder(opts: StreamDecoderOptions = {}): StreamDecoder {
    return new StreamDecoder(this, opts);
  }

  /** @internal used by StreamDecoder */
  tokenForStream(id: number, skipSpecialTokens: boolean): string | null {
    const tok = this.tokenOf(id);
    return skipSpecialTokens && this.isSpecialId(id) ? null : tok;
  }

  /** @internal used by StreamDecoder */
  createDecoderStage(): DecoderStage {
    if (this.decoder) return this.decoder.createStage(false);
    let first = true;
    return {
      fusedOut: true,
      push(p, out) {
        out.push(first ? p : ' ' + p);
        first = false;
      },
      flush() {},
    };
  }
}
