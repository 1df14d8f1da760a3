// Structure-aware mutation of a parsed JSON document: walks to a random node (descending into a random child
// at each level, so small and large sections are hit alike) and replaces, deletes, retypes or inserts there,
// with values chosen to hit edge cases (0, -1, 2^31, 2^53, huge strings, deep nesting, wrong types).

/** Numbers at the edges of what loaders check. */
export const INTERESTING_NUMBERS = [0, -1, 1, 2, 3, 7, 8, 63, 64, 65, 255, 256, 4095, 4096, 65535, 65536, 2 ** 31 - 1, 2 ** 31,
  2 ** 32, 2 ** 32 + 1, 2 ** 53, 2 ** 53 + 2, -(2 ** 31), -(2 ** 53), 1e308, -1e308, 1e-300, 0.5, 1.5, -0.5, 1e9];

function interestingString(rng) {
  return rng.pick(['', 'a', ' ', '\u0000', '\ud800', '\uffff', '<s>', '</s>', '<unk>', '▁', '../../../../etc/passwd', '/etc/passwd',
    'NaN', 'Infinity', '-1', '1e400', '%s%n%x', '{{ 7*7 }}', 'x'.repeat(1 + rng.int(300000)), '\u{1F600}'.repeat(1 + rng.int(1000))]);
}

/** A placeholder for n nested arrays, expanded by serialize() (JSON.stringify would overflow the stack). */
const deepArray = (n) => `__DEEP_${n}__`;

/** JSON text of `doc`, with deepArray placeholders expanded. */
export function serialize(doc, indent) {
  return (JSON.stringify(doc, null, indent) ?? 'undefined').replace(/"__DEEP_(\d+)__"/g, (_, n) => '['.repeat(Number(n)) + ']'.repeat(Number(n)));
}

/** A value of a random kind; near `old` when it is a number. */
export function interestingValue(rng, old) {
  switch (rng.int(8)) {
    case 0:
      return rng.pick(INTERESTING_NUMBERS);
    case 1:
      return typeof old === 'number' ? rng.pick([old + 1, old - 1, old * 2, -old, old * 1000, old / 2, old + 0.5]) : rng.pick(INTERESTING_NUMBERS);
    case 2:
      return interestingString(rng);
    case 3:
      return rng.pick([null, true, false]);
    case 4:
      return rng.pick([[], {}, [1, 2, 3], { a: 1 }, [null], ['']]);
    case 5:
      return deepArray(rng.pick([10, 1000, 100000]));
    case 6:
      return typeof old === 'number' ? String(old) : typeof old === 'string' && old !== '' && !Number.isNaN(Number(old)) ? Number(old) : [old];
    default:
      return Array.isArray(old) ? old.slice(0, rng.int(old.length + 1)) : rng.pick(INTERESTING_NUMBERS);
  }
}

/** A random node: { parent, key, path } (parent null for the root). */
function pickNode(rng, root, stopP) {
  let parent = null;
  let key = null;
  let node = root;
  const path = [];
  for (;;) {
    const keys = node !== null && typeof node === 'object' ? Object.keys(node) : [];
    if (keys.length === 0 || (parent !== null && rng.chance(stopP))) return { parent, key, node, path };
    key = Array.isArray(node) ? Number(rng.pick(keys)) : rng.pick(keys);
    parent = node;
    node = node[key];
    path.push(key);
  }
}

const fmt = (path) => path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('') || '(root)';

/**
 * Applies 1-3 mutations to `doc` in place (the root may be replaced: use the returned value) and says what
 * it did. `dict` lists field names worth inserting (known fields of the format).
 */
export function mutateJson(rng, doc, { dict = [], stopP = 0.35 } = {}) {
  const notes = [];
  let root = doc;
  const n = 1 + rng.int(3);
  for (let i = 0; i < n; i++) {
    const { parent, key, node, path } = pickNode(rng, root, stopP);
    const op = rng.int(10);
    if (parent === null) {
      root = interestingValue(rng, root);
      notes.push('root replaced');
    } else if (op <= 3) {
      parent[key] = interestingValue(rng, node);
      notes.push(`${fmt(path)} = ${describe(parent[key])}`);
    } else if (op === 4) {
      if (Array.isArray(parent)) parent.splice(key, 1);
      else delete parent[key];
      notes.push(`${fmt(path)} deleted`);
    } else if (op === 5 && node !== null && typeof node === 'object' && !Array.isArray(node)) {
      const k = dict.length && rng.chance(0.7) ? rng.pick(dict) : rng.pick(['__unknown__', '', 'constructor', 'toString']);
      node[k] = interestingValue(rng, node[k]);
      notes.push(`${fmt([...path, k])} = ${describe(node[k])}`);
    } else if (op === 6 && Array.isArray(node) && node.length > 0) {
      const j = rng.int(node.length);
      const times = rng.pick([1, 2, 100]);
      node.splice(j, 0, ...Array.from({ length: times }, () => structuredClone(node[j])));
      notes.push(`${fmt(path)}[${j}] repeated ${times}x`);
    } else if (op === 7 && typeof parent === 'object') {
      const keys = Object.keys(parent);
      const other = Array.isArray(parent) ? Number(rng.pick(keys)) : rng.pick(keys);
      [parent[key], parent[other]] = [parent[other], parent[key]];
      notes.push(`${fmt(path)} swapped with sibling ${String(other)}`);
    } else {
      parent[key] = interestingValue(rng, node);
      notes.push(`${fmt(path)} = ${describe(parent[key])}`);
    }
  }
  return { doc: root, note: notes.join('; ') };
}

/** Byte-level damage to serialized text: truncation, a flipped byte, inserted or deleted bytes. */
export function mutateText(rng, text) {
  const b = Buffer.from(text, 'utf8');
  const at = rng.int(b.length + 1);
  switch (rng.int(4)) {
    case 0:
      return { bytes: b.subarray(0, at), note: `truncated at byte ${at}` };
    case 1:
      if (b.length) b[Math.min(at, b.length - 1)] ^= 1 << rng.int(8);
      return { bytes: b, note: `bit flipped at byte ${at}` };
    case 2: {
      const ins = Buffer.from(rng.pick(['{', '}', '[', ']', ',', '"', '\\', ':', '\u0000', '\xff', '1e999', '-', ' '.repeat(100)]), 'latin1');
      return { bytes: Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]), note: `inserted ${JSON.stringify(ins.toString('latin1'))} at byte ${at}` };
    }
    default: {
      const len = 1 + rng.int(16);
      return { bytes: Buffer.concat([b.subarray(0, at), b.subarray(at + len)]), note: `deleted ${len} bytes at ${at}` };
    }
  }
}

function describe(v) {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 40 ? `${s.slice(0, 37)}... (${s.length} chars)` : s;
}

/**
 * A mutated JSON file: mostly structure-aware (`opts.mutateDoc(rng, doc)` -> { doc, note }, by default
 * mutateJson with `opts`), sometimes (`opts.textP`) byte-level damage of the text. Returns { bytes, note }.
 */
export function mutateJsonFile(rng, text, opts = {}) {
  if (rng.chance(opts.textP ?? 0.1)) return mutateText(rng, text);
  const { doc, note } = (opts.mutateDoc ?? ((r, d) => mutateJson(r, d, opts)))(rng, JSON.parse(text));
  return { bytes: Buffer.from(serialize(doc, rng.chance(0.5) ? 2 : undefined), 'utf8'), note };
}
