// Safetensors shards and their index: the 8-byte header length, the JSON header (dtype, shape, data_offsets
// of each tensor, __metadata__), the data region's size, and model.safetensors.index.json's weight_map.
// Read by lib/load/safetensors.ts; offsets are re-checked by native/load/ against the mapped file.
import { baseFile, bytesSegment } from '../base.mjs';
import { INTERESTING_NUMBERS, interestingValue, mutateJsonFile, mutateText } from '../mutate-json.mjs';

const SHARDS = ['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors'];
const INDEX = 'model.safetensors.index.json';
const DTYPES = ['F32', 'F16', 'BF16', 'F64', 'I8', 'U8', 'I32', 'I64', 'BOOL', 'F8_E4M3', 'F8_E5M2', 'bf16', '', 'X', 7];

function parseShard(bytes) {
  const n = Number(bytes.readBigUInt64LE(0));
  return { n, header: JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) };
}

function offsetDamage(rng, [a, b], dataLen, others) {
  const other = rng.pick(others) ?? [0, 0];
  return rng.pick([
    [a, b + 2], [a, b - 2], [b, a], [a, a], [a + 1, b + 1], [a - 1, b - 1], [a, dataLen + 1], [dataLen, dataLen + (b - a)],
    [other[0], other[0] + (b - a)], [a, 2 ** 62], [-8, b], [a + 0.5, b], [String(a), b], [a], [a, b, b], [], null,
    [2 ** 53, 2 ** 53 + (b - a)], [a, rng.pick(INTERESTING_NUMBERS)],
  ]);
}

function shapeDamage(rng, shape) {
  const s = [...shape];
  const i = rng.int(Math.max(1, s.length));
  switch (rng.int(7)) {
    case 0: s[i] = (s[i] ?? 1) + rng.pick([1, -1]); return s;
    case 1: s[i] = rng.pick([0, -1, 2 ** 40, 2 ** 53, 0.5, '4', null]); return s;
    case 2: return s.reverse();
    case 3: return [...s, 1];
    case 4: return s.slice(1);
    case 5: return [];
    default: return s.map((d) => d * 2);
  }
}

/** A mutated header (object) with a note; data offsets, shapes, dtypes, names, metadata. */
function headerDamage(rng, header, dataLen) {
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  const name = rng.pick(names);
  const t = header[name];
  switch (rng.int(8)) {
    case 0: case 1: {
      const others = names.filter((n) => n !== name).map((n) => header[n].data_offsets);
      t.data_offsets = offsetDamage(rng, t.data_offsets, dataLen, others);
      return `${name}.data_offsets = ${JSON.stringify(t.data_offsets)}`;
    }
    case 2:
      t.shape = shapeDamage(rng, t.shape);
      return `${name}.shape = ${JSON.stringify(t.shape)}`;
    case 3:
      t.dtype = rng.pick(DTYPES);
      return `${name}.dtype = ${JSON.stringify(t.dtype)}`;
    case 4:
      delete header[name];
      return `${name} removed`;
    case 5: {
      const to = rng.pick([`${name}x`, '', rng.pick(names), 'model.layers.99.self_attn.q_proj.weight', 'lm_head.weight']);
      delete header[name];
      header[to] = t;
      return `${name} renamed ${to}`;
    }
    case 6:
      header[name] = interestingValue(rng, t);
      return `${name} = ${JSON.stringify(header[name])?.slice(0, 40)}`;
    default:
      header.__metadata__ = rng.pick([{ format: 'pt' }, { format: 7 }, [], 'x', null, { a: { b: 1 } }]);
      return `__metadata__ = ${JSON.stringify(header.__metadata__)}`;
  }
}

function u64(v) {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v)));
  return b;
}

function mutateShard(rng, base, file) {
  const bytes = baseFile(base, file);
  const { n, header } = parseShard(bytes);
  const dataLen = bytes.length - 8 - n;
  const rest = { base: file, start: 8 + n, end: bytes.length };
  const op = rng.int(10);
  if (op <= 4) {
    const note = headerDamage(rng, header, dataLen);
    let json = JSON.stringify(header);
    json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
    const h = Buffer.from(json, 'utf8');
    return { segments: [bytesSegment(Buffer.concat([u64(h.length), h])), rest], note };
  }
  const headerBytes = bytes.subarray(8, 8 + n);
  if (op === 5) {
    const v = rng.pick([0, 1, 7, n - 1, n + 1, n + 8, bytes.length, bytes.length - 8, 2 ** 32, 100_000_000, 2n ** 63n, 2n ** 64n - 1n]);
    return { segments: [bytesSegment(Buffer.concat([u64(v), headerBytes])), rest], note: `header length = ${v}` };
  }
  if (op === 6) {
    const { bytes: h, note } = mutateText(rng, headerBytes.toString('utf8'));
    return { segments: [bytesSegment(Buffer.concat([u64(h.length), h])), rest], note: `header text: ${note}` };
  }
  if (op === 7) {
    const cut = rng.pick([0, 4, 8, 8 + rng.int(n), 8 + n, 8 + n + rng.int(dataLen), bytes.length - 1]);
    return { segments: [{ base: file, start: 0, end: cut }], note: `file truncated to ${cut} bytes` };
  }
  if (op === 8) {
    const pad = rng.pick([1, 3, 8, 4096]);
    const h = Buffer.concat([headerBytes, Buffer.from(' '.repeat(pad))]);
    return { segments: [bytesSegment(Buffer.concat([u64(h.length), h])), rest], note: `header padded by ${pad} (data shifted)` };
  }
  const extra = rng.pick([1, 2, 4096]);
  return { segments: [{ base: file, start: 0, end: bytes.length }, { base64: Buffer.alloc(extra, 0xff).toString('base64') }], note: `${extra} bytes appended` };
}

export default {
  name: 'safetensors',
  describe: 'safetensors headers, data offsets and sizes; model.safetensors.index.json',
  mutate(rng, base) {
    if (rng.chance(0.15)) {
      const r = mutateJsonFile(rng, baseFile(base, INDEX).toString('utf8'), { dict: ['weight_map', 'metadata', 'total_size'], stopP: 0.2 });
      return { files: { [INDEX]: [bytesSegment(r.bytes)] }, note: `${INDEX}: ${r.note}` };
    }
    if (rng.chance(0.02)) {
      const file = rng.pick(SHARDS);
      return { files: { [file]: null }, note: `${file} removed` };
    }
    const file = rng.pick(SHARDS);
    const { segments, note } = mutateShard(rng, base, file);
    return { files: { [file]: segments }, note: `${file}: ${note}` };
  },
};
