/**
 * GPT-2's byte-level alphabet (tokenizers `bytes_char`): every byte is shown as one printable character,
 * bytes 33-126, 161-172 and 174-255 as themselves and the other 68 as U+0100 onwards, in byte order.
 * The ByteLevel pre-tokenizer maps a word's UTF-8 bytes to these characters; the ByteLevel decoder maps
 * them back and decodes the bytes as UTF-8 (invalid sequences -> U+FFFD, as from_utf8_lossy).
 */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const out: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    out[b] = String.fromCodePoint(printable ? b : 256 + extra++);
  }
  return out;
})();

export const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

/** tokenizers' ByteLevel regex (GPT-2's). */
export const BYTE_LEVEL_REGEX = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

const utf8 = new TextEncoder();

/** A word's UTF-8 bytes as byte-level characters. */
export function toByteChars(text: string): string {
  let s = '';
  for (const b of utf8.encode(text)) s += BYTE_TO_CHAR[b];
  return s;
}

/** A token's bytes: its characters mapped back, or (when one is outside the alphabet) its own UTF-8 bytes. */
export function tokenBytes(token: string): number[] {
  const out: number[] = [];
  for (const c of token) {
    const b = CHAR_TO_BYTE.get(c);
    if (b === undefined) return Array.from(utf8.encode(token));
    out.push(b);
  }
  return out;
}
