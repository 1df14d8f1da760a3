/**
 * A static check of a tokenizer.json regex for the shape that makes JavaScript's backtracking engine take
 * exponential time: a group repeated without bound (`*`, `+`, `{n,}`, `{n,m}` with m > 1) whose body can
 * itself match in more than one way (it holds a quantifier or an alternation), as in `(\D+)+\d` or `(a|ab)*c`.
 * A tokenizer.json comes from strangers, and such a pattern makes encode() of an ordinary sentence run for
 * minutes. The pre-tokenizer regexes of real tokenizers (GPT-2, Llama 3, o200k, DeepSeek, Qwen) never
 * repeat such a group. This does not catch every slow pattern (polynomial ones such as `\s*\s*$` pass).
 */

/** Why `source` may backtrack exponentially, or null when it has no repeated ambiguous group. */
export function backtrackingRisk(source: string): string | null {
  // One entry per open group: whether its body (nested groups included) holds a quantifier or alternation.
  const stack: { ambiguous: boolean; start: number }[] = [];
  let i = 0;
  /** The length of an unbounded or multi-repeat quantifier at `j` (0 when there is none or it is ? / {0,1} / {1}). */
  const repeat = (j: number): number => {
    const c = source[j];
    if (c === '*' || c === '+') return 1;
    if (c !== '{') return 0;
    const m = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(j));
    if (!m) return 0;
    const max = m[2] === undefined ? Number(m[1]) : m[3] === '' ? Infinity : Number(m[3]);
    return max > 1 ? m[0].length : 0;
  };
  const markAmbiguous = (): void => {
    const top = stack[stack.length - 1];
    if (top) top.ambiguous = true;
  };
  while (i < source.length) {
    const c = source[i]!;
    if (c === '\\') {
      // \p{..}, \u{..}, \k<..> and the like are one atom.
      const next = source[i + 1];
      if ((next === 'p' || next === 'P' || next === 'u' || next === 'x') && source[i + 2] === '{') i = source.indexOf('}', i) + 1 || source.length;
      else i += 2;
    } else if (c === '[') {
      i++;
      if (source[i] === '^') i++;
      if (source[i] === ']') i++;
      while (i < source.length && source[i] !== ']') i += source[i] === '\\' ? 2 : 1;
      i++;
    } else if (c === '(') {
      stack.push({ ambiguous: false, start: i });
      i++;
      continue;
    } else if (c === ')') {
      const g = stack.pop();
      i++;
      const q = repeat(i);
      if (g && q > 0 && g.ambiguous)
        return `the group at ${g.start} (${source.slice(g.start, i)}) is repeated by '${source.slice(i, i + q)}' and can match in more than one way`;
      if (g && (g.ambiguous || q > 0)) markAmbiguous();
      continue;
    } else if (c === '|') {
      markAmbiguous();
      i++;
      continue;
    } else {
      i++;
    }
    // After an atom: a quantifier on it makes the enclosing group ambiguous.
    const q = repeat(i);
    if (q > 0 || source[i] === '?') {
      if (q > 0) markAmbiguous();
      i += q || 1;
      if (source[i] === '?' || source[i] === '+') i++; // lazy / possessive suffix
    }
  }
  return null;
}
