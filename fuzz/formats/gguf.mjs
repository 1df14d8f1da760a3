// GGUF files (lib/load/gguf.ts, gguf-model.ts): the header (magic, version, tensor and key counts), typed
// metadata (hyper-parameters, vocabulary, chat template, alignment), tensor infos (name, dims, ggml type,
// offset) and the data section's size. The base is tiny-mixtral converted as llama.cpp does
// (test/gguf-helpers.mjs); each case re-encodes the header with lib/load/gguf-write.ts's encodeGgufHeader and
// keeps the base's data bytes. A case folder holds only model.gguf, so loadModel(dir) loads it.
import { join } from 'node:path';

import { BASE_FIXTURE, REPO, baseFile, bytesSegment } from '../base.mjs';
import { mutateText } from '../mutate-json.mjs';

const FILE = 'model.gguf';
const KEYS = ['general.architecture', 'general.alignment', 'general.file_type', 'llama.block_count', 'llama.context_length',
  'llama.embedding_length', 'llama.feed_forward_length', 'llama.attention.head_count', 'llama.attention.head_count_kv',
  'llama.attention.key_length', 'llama.attention.value_length', 'llama.expert_count', 'llama.expert_used_count',
  'llama.rope.freq_base', 'llama.rope.dimension_count', 'llama.attention.layer_norm_rms_epsilon', 'llama.vocab_size',
  'llama.attention.sliding_window', 'tokenizer.ggml.model', 'tokenizer.ggml.tokens', 'tokenizer.ggml.scores',
  'tokenizer.ggml.token_type', 'tokenizer.ggml.merges', 'tokenizer.ggml.bos_token_id', 'tokenizer.ggml.eos_token_id',
  'tokenizer.ggml.unknown_token_id', 'tokenizer.ggml.add_bos_token', 'tokenizer.ggml.add_eos_token', 'tokenizer.chat_template'];
const TYPES = ['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'f32', 'bool', 'string', 'u64', 'i64', 'f64'];
const GGML_IDS = [0, 1, 2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 24, 28, 29, 30, 31, 32, 39, 40, 99, 255, 2 ** 31];

let g = null; // { metadata: Map, infos, dataStart, version }
let lib = null;

/** A value of `type` near the edges (numbers for 32-bit types, bigint for 64-bit, strings, bools). */
function valueOf(rng, type, old) {
  switch (type) {
    case 'u8': return rng.pick([0, 1, 255, 7]);
    case 'i8': return rng.pick([0, -1, 127, -128]);
    case 'u16': return rng.pick([0, 1, 65535]);
    case 'i16': return rng.pick([0, -1, 32767, -32768]);
    case 'u32': return rng.pick([0, 1, 2, 3, 7, 8, 63, 64, 65, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, typeof old === 'number' ? old + 1 : 1, typeof old === 'number' ? old * 2 : 2]);
    case 'i32': return rng.pick([0, -1, 1, 2 ** 31 - 1, -(2 ** 31)]);
    case 'f32': case 'f64': return rng.pick([0, -1, 1e-30, 1e30, NaN, Infinity, -Infinity, 0.5, typeof old === 'number' ? old * 10 : 1]);
    case 'u64': return rng.pick([0n, 1n, 2n ** 32n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n]);
    case 'i64': return rng.pick([0n, -1n, 2n ** 62n, -(2n ** 63n)]);
    case 'bool': return rng.chance(0.5);
    default: return rng.pick(['', 'llama', 'mixtral', 'gpt2', 'x'.repeat(1 + rng.int(100000)), '{% for i in range(99999999) %}x{% endfor %}', '\u0000', '\ud800']);
  }
}

function mutateArray(rng, a) {
  const items = Array.from(a.items);
  switch (rng.int(5)) {
    case 0: return { ...a, items: items.slice(0, rng.int(items.length + 1)) };
    case 1: return { ...a, items: [] };
    case 2: { const i = rng.int(items.length || 1); items[i] = a.itemType === 'array' ? { type: 'array', itemType: 'u8', items: [] } : valueOf(rng, a.itemType, items[i]); return { ...a, items }; }
    case 3: return { ...a, items: items.concat(items.slice(0, 1 + rng.int(100))) };
    default: return { type: 'array', itemType: rng.pick(['array', ...TYPES]), items: [] };
  }
}

/** Metadata mutations: a value changed (same type or another), a key removed, added or duplicated. */
function mutateMetadata(rng, meta) {
  const keys = [...meta.keys()];
  const key = rng.chance(0.8) ? rng.pick(keys) : rng.pick(KEYS);
  const old = meta.get(key);
  const op = rng.int(6);
  if (op === 0) {
    meta.delete(key);
    return `${key} removed`;
  }
  if (op === 1 || old === undefined) {
    const type = rng.pick(TYPES);
    meta.set(key, { type, value: valueOf(rng, type) });
    return `${key} = ${type} ${String(meta.get(key).value).slice(0, 30)}`;
  }
  if (old.type === 'array') {
    meta.set(key, mutateArray(rng, old));
    return `${key}: array changed (${meta.get(key).items.length} items of ${meta.get(key).itemType})`;
  }
  meta.set(key, { type: old.type, value: valueOf(rng, old.type, old.value) });
  return `${key} = ${String(meta.get(key).value).slice(0, 30)}`;
}

/** Tensor info mutations: dims, ggml type, offset, name; an info removed or repeated. */
function mutateInfos(rng, infos) {
  const i = rng.int(infos.length);
  const t = infos[i];
  switch (rng.int(7)) {
    case 0: { const d = [...t.dims]; d[rng.int(d.length)] = rng.pick([0, 1, 2, 31, 33, d[0] + 1, 2 ** 32, 2n ** 62n, 2n ** 64n - 1n]); t.dims = d; return `${t.name}.dims = [${d.join(', ')}]`; }
    case 1: t.dims = rng.pick([[], [1, 1, 1, 1, 1], [...t.dims].reverse(), [...t.dims, 1]]); return `${t.name}.dims = [${t.dims.join(', ')}]`;
    case 2: t.typeId = rng.pick(GGML_IDS); return `${t.name}.type = ${t.typeId}`;
    case 3: { const o = BigInt(t.offset); t.offset = rng.pick([o + 1n, o + 32n, o - 32n, 0n, BigInt(infos[rng.int(infos.length)].offset), 2n ** 63n, o + 2n ** 40n]); } return `${t.name}.offset = ${t.offset}`;
    case 4: { const other = infos[rng.int(infos.length)]; const from = t.name; t.name = rng.pick([other.name, '', `${t.name}x`, 'x'.repeat(70000)]); return `${from} renamed ${t.name.slice(0, 40)}`; }
    case 5: infos.splice(i, 1); return `${t.name} removed`;
    default: infos.push({ ...t, dims: [...t.dims] }); return `${t.name} repeated`;
  }
}

export default {
  name: 'gguf',
  describe: 'GGUF header, metadata, tensor infos and data size',
  exclusive: true,
  async prepare(base) {
    const { ggufFromFixture } = await import('../../test/gguf-helpers.mjs');
    lib = { ...(await import(`${REPO}/dist/load/gguf.js`)), ...(await import(`${REPO}/dist/load/gguf-write.js`)) };
    await ggufFromFixture(BASE_FIXTURE, join(base, FILE), { type: 'F16' });
    const f = await lib.readGguf(join(base, FILE));
    g = {
      metadata: f.metadata, version: f.version, dataStart: f.dataOffset,
      infos: f.tensors.map((t) => ({ name: t.name, typeId: t.type.id, dims: [...t.dims], offset: t.offset - f.dataOffset })),
    };
  },
  mutate(rng, base) {
    const meta = new Map(g.metadata);
    const infos = g.infos.map((t) => ({ ...t, dims: [...t.dims] }));
    const opts = {};
    const notes = [];
    const bytes = baseFile(base, FILE);
    const op = rng.int(10);
    if (op === 9) {
      const cut = rng.pick([0, 3, 4, 8, 16, 24, rng.int(g.dataStart), g.dataStart, g.dataStart + rng.int(bytes.length - g.dataStart), bytes.length - 1]);
      return { files: { [FILE]: [{ base: FILE, start: 0, end: cut }] }, note: `${FILE} truncated to ${cut} bytes` };
    }
    if (op === 8) {
      const { bytes: h, note } = mutateText(rng, bytes.subarray(0, g.dataStart).toString('latin1'));
      return { files: { [FILE]: [{ base64: Buffer.from(h.toString('utf8'), 'latin1').toString('base64') }, { base: FILE, start: g.dataStart, end: bytes.length }] }, note: `header bytes: ${note}` };
    }
    for (let n = 1 + rng.int(2); n > 0; n--) {
      if (op <= 3) notes.push(mutateMetadata(rng, meta));
      else if (op <= 6) notes.push(mutateInfos(rng, infos));
      else {
        const k = rng.pick(['magic', 'version', 'tensorCount', 'kvCount']);
        opts[k] = k === 'magic' ? rng.pick([0, 0x46554746, 0x47475546]) : k === 'version' ? rng.pick([0, 1, 2, 4, 2 ** 32 - 1])
          : rng.pick([0n, 1n, BigInt(k === 'kvCount' ? meta.size + 1 : infos.length + 1), BigInt(k === 'kvCount' ? meta.size - 1 : infos.length - 1), 2n ** 32n, 2n ** 63n]);
        notes.push(`${k} = ${opts[k]}`);
      }
    }
    let header;
    try {
      header = lib.encodeGgufHeader(meta, infos, { version: g.version, ...opts });
    } catch {
      return { files: { [FILE]: [{ base: FILE, start: 0, end: bytes.length }] }, note: `unencodable mutation skipped (${notes.join('; ')})` };
    }
    const al = meta.get('general.alignment');
    const alignment = al?.type === 'u32' && al.value > 0 && al.value < 2 ** 20 ? al.value : 32;
    const padded = Math.ceil(header.length / alignment) * alignment;
    const segments = [bytesSegment(Buffer.concat([header, Buffer.alloc(padded - header.length)])), { base: FILE, start: g.dataStart, end: bytes.length }];
    return { files: { [FILE]: segments }, note: notes.join('; ') };
  },
};
