/**
 * Streaming detokenizer: turns ids into text one id at a time, such that the
 * concatenation of every `push` plus the final `flush` equals
 * `tokenizer.decode(allIds)` exactly.
 *
 * It runs the decoder pipeline incrementally (see `DecoderStage` in
 * decoder.ts) instead of re-decoding windows of ids, so it is exact by
 * construction for the supported decoders, including
 *  - the leading-space `Strip` (only the very first character of the whole
 *    output is stripped, not the first of every chunk),
 *  - `ByteFallback`: `<0xNN>` tokens are held back until their run of byte
 *    tokens ends (the next non-byte token, or `flush`). tokenizers decodes the
 *    run as a whole and emits one U+FFFD per byte when it is not valid UTF-8,
 *    so text can only be released once the run is complete; a UTF-8 character
 *    is therefore never split across two returned strings.
 */
import type { DecoderStage } from './decoder.js';

/** Options of {@link StreamDecoder}. */
export interface StreamDecoderOptions {
  /** Drop special tokens (`<s>`, `</s>`, ...) from the output. Default `true`, like {@link Tokenizer.decode}. */
  skipSpecialTokens?: boolean;
}

/** What the stream decoder needs from the tokenizer. */
export interface StreamSource {
  /** Token string for `id`, or `null` to drop it (skipped special token). Throws on invalid ids. */
  tokenForStream(id: number, skipSpecialTokens: boolean): string | null;
  /** A fresh incremental decoder pipeline. */
  createDecoderStage(): DecoderStage;
}

/** Incremental detokenizer returned by `Tokenizer.createStreamDecoder()`. */
export class StreamDecoder {
  private readonly source: StreamSource;
  private readonly skip: boolean;
  private stage: DecoderStage;

  constructor(source: StreamSource, opts: StreamDecoderOptions = {}) {
    this.source = source;
    this.skip = opts.skipSpecialTokens ?? true;
    this.stage = source.createDecoderStage();
  }

  /**
   * Add one id; returns the text that became final because of it (often `''`
   * while a multi-byte character is still incomplete).
   * @throws TokenizerError TOKEN_ID_RANGE for an invalid id (the stream state is unchanged).
   */
  push(id: number): string {
    const token = this.source.tokenForStream(id, this.skip);
    if (token === null) return '';
    const out: string[] = [];
    this.stage.push(token, out);
    return out.join('');
  }

  /**
   * End of input: returns whatever was held back (an unfinished byte run,
   * trailing characters a Strip decoder might remove, ...). The decoder is
   * then reset and can be reused for a new, independent stream.
   */
  flush(): string {
    const out: string[] = [];
    this.stage.flush(out);
    this.stage = this.source.createDecoderStage();
    return out.join('');
  }
}
