// GGUF reader and writer: round trips of every value type (v2, v3, custom alignment), and every malformed
// header the reader must refuse with its stable code and the key or tensor named.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { readGguf, GgufMetadata } from '../dist/load/gguf.js';
import { encodeGgufHeader, gguf, writeGguf } from '../dist/load/gguf-write.js';

const dir = mkdtempSync(join(tmpdir(), 'smoe-gguf-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const tmp = () => join(dir, `f${n++}.gguf`);

const f32 = (values) => new Uint8Array(new Float32Array(values).buffer);

async function rejects(file, code, where = {}) {
  await assert.rejects(readGguf(file), (e) => {
    assert.equal(e.name, 'ModelLoadError');
    assert.equal(e.code, code, e.message);
    assert.equal(e.file, file);
    for (const [k, v] of Object.entries(where)) assert.equal(e[k], v, `${k} in: ${e.message}`);
    return true;
  });
}

/** A header from raw tensor infos followed by zero padding to `align` and `dataBytes` of data. */
function rawFile(meta, infos, { dataBytes = 0, align = 32, ...opts } = {}) {
  const h = encodeGgufHeader(meta, infos, opts);
  const start = Math.ceil(h.length / align) * align;
  const f = tmp();
  writeFileSync(f, Buffer.concat([h, Buffer.alloc(start - h.length + dataBytes)]));
  return f;
}

test('every metadata value type, nested arrays and tensors round-trip (v3 and v2)', async () => {
  for (const version of [3, 2]) {
    const f = tmp();
    const big = 2n ** 60n + 1n;
    const meta = {
      'a.u8': gguf.u8(250), 'a.i8': gguf.i8(-5), 'a.u16': gguf.u16(65000), 'a.i16': gguf.i16(-32000),
      'a.u32': gguf.u32(4e9), 'a.i32': gguf.i32(-2e9), 'a.f32': gguf.f32(0.5), 'a.f64': gguf.f64(Math.PI),
      'a.u64': gguf.u64(big), 'a.i64': gguf.i64(-big), 'a.bool': gguf.bool(true), 'a.str': gguf.str('héllo ▁ 🙂'),
      'a.arr_f32': gguf.arr('f32', [1.5, -2]), 'a.arr_str': gguf.arr('string', ['x', '', 'ü']),
      'a.arr_bool': gguf.arr('bool', [true, false]), 'a.arr_u64': gguf.arr('u64', [big, 3n]),
      'a.nested': gguf.arr('array', [gguf.arr('i32', [1, 2]), gguf.arr('string', ['deep'])]),
      'a.empty': gguf.arr('u8', []),
    };
    const size = await writeGguf(f, {
      metadata: meta,
      tensors: [
        { name: 'one', type: 'F32', dims: [3], data: f32([1, 2, 3]) },
        { name: 'two', type: 'F16', dims: [4, 2], data: [new Uint8Array(8).fill(1), new Uint8Array(8).fill(2)] },
      ],
    }, { version });
    const g = await readGguf(f);
    assert.equal(g.version, version);
    assert.equal(g.size, size);
    assert.equal(g.alignment, 32);
    const m = g.metadata;
    for (const k of ['a.u8', 'a.i8', 'a.u16', 'a.i16', 'a.u32', 'a.i32', 'a.f64', 'a.bool', 'a.str'])
      assert.deepEqual(m.get(k), meta[k], k);
    assert.equal(m.get('a.f32').value, 0.5);
    assert.equal(m.get('a.u64').value, big);
    assert.equal(m.get('a.i64').value, -big);
    assert.deepEqual(Array.from(m.get('a.arr_f32').items), [1.5, -2]);
    assert.deepEqual(m.get('a.arr_str').items, ['x', '', 'ü']);
    assert.deepEqual(m.get('a.arr_bool').items, [true, false]);
    assert.deepEqual(Array.from(m.get('a.arr_u64').items), [big, 3n]);
    const nested = m.get('a.nested');
    assert.equal(nested.itemType, 'array');
    assert.deepEqual(Array.from(nested.items[0].items), [1, 2]);
    assert.deepEqual(nested.items[1].items, ['deep']);
    assert.equal(m.get('a.empty').items.length, 0);
    const [one, two] = g.tensors;
    assert.deepEqual([one.name, one.type.name, one.dims, one.bytes], ['one', 'F32', [3], 12]);
    assert.deepEqual([two.name, two.type.name, two.dims, two.bytes], ['two', 'F16', [4, 2], 16]);
    assert.equal(one.offset % 32, 0);
    assert.equal(two.offset - one.offset, 32);
    const buf = readFileSync(f);
    assert.deepEqual(Array.from(new Float32Array(buf.buffer.slice(buf.byteOffset + one.offset, buf.byteOffset + one.offset + 12))), [1, 2, 3]);
    assert.equal(buf[two.offset + 8], 2);
    // 64-bit values are refused, not rounded, when a number is asked for.
    const md = new GgufMetadata(g);
    assert.equal(md.int('a.u32'), 4e9);
    assert.throws(() => md.int('a.u64'), { code: 'CONFIG_INVALID', field: 'a.u64' });
    assert.throws(() => md.int('a.missing'), { code: 'CONFIG_INVALID', field: 'a.missing' });
    assert.throws(() => md.str('a.u8'), { code: 'CONFIG_INVALID', field: 'a.u8' });
  }
});

test('general.alignment moves the data section and every tensor to its multiple', async () => {
  const f = tmp();
  await writeGguf(f, {
    metadata: { 'general.alignment': gguf.u32(256) },
    tensors: [{ name: 'a', type: 'F32', dims: [5], data: f32([1, 2, 3, 4, 5]) }, { name: 'b', type: 'Q8_0', dims: [64] }],
  });
  const g = await readGguf(f);
  assert.equal(g.alignment, 256);
  assert.equal(g.dataOffset % 256, 0);
  assert.equal(g.tensors[1].offset - g.tensors[0].offset, 256);
  assert.equal(g.tensors[1].bytes, 2 * 34);
  assert.equal(g.size % 256, 0);
});

test('bad magic and unsupported versions', async () => {
  await rejects(rawFile({}, [], { magic: 0x4c4c5547 }), 'GGUF_MAGIC');
  const short = tmp();
  writeFileSync(short, 'GG');
  await rejects(short, 'GGUF_MAGIC');
  await rejects(rawFile({}, [], { version: 1 }), 'GGUF_VERSION');
  await rejects(rawFile({}, [], { version: 4 }), 'GGUF_VERSION');
  await assert.rejects(readGguf(rawFile({}, [], { version: 0x03000000 })), { code: 'GGUF_VERSION', message: /big-endian/ });
  await rejects(join(dir, 'nope.gguf'), 'FILE_MISSING');
});

test('counts past the end of the file are refused before anything is allocated', async () => {
  await rejects(rawFile({}, [], { kvCount: 2n ** 62n }), 'GGUF_TRUNCATED');
  await rejects(rawFile({}, [], { tensorCount: 2n ** 63n }), 'GGUF_TRUNCATED');
  const two = tmp(); // two entries claimed, one written
  writeFileSync(two, encodeGgufHeader({ 'k.x': gguf.u32(1) }, [], { kvCount: 2n }));
  await rejects(two, 'GGUF_TRUNCATED');
  // An array whose count claims 2^61 items of 8 bytes.
  const h = encodeGgufHeader({ 'tokenizer.ggml.scores': gguf.arr('f64', [1]) }, []);
  h.writeBigUInt64LE(2n ** 61n, h.length - 16);
  const f = tmp();
  writeFileSync(f, h);
  await rejects(f, 'GGUF_TRUNCATED', { field: 'tokenizer.ggml.scores' });
  // A string array whose count is plausible per byte but whose strings are not there.
  const h2 = encodeGgufHeader({ 'tokenizer.ggml.tokens': gguf.arr('string', ['a', 'b']) }, []);
  h2.writeBigUInt64LE(5n, h2.length - 2 * 9 - 8);
  const f2 = tmp();
  writeFileSync(f2, Buffer.concat([h2, Buffer.alloc(20)]));
  await rejects(f2, 'GGUF_TRUNCATED', { field: 'tokenizer.ggml.tokens' });
});

test('string lengths past the end of the file', async () => {
  const h = encodeGgufHeader({ 'general.name': gguf.str('abc') }, []);
  h.writeBigUInt64LE(2n ** 40n, h.length - 3 - 8);
  const f = tmp();
  writeFileSync(f, h);
  await rejects(f, 'GGUF_TRUNCATED', { field: 'general.name' });
  const h2 = encodeGgufHeader({}, [{ name: 'w', typeId: 0, dims: [1], offset: 0 }]);
  h2.writeBigUInt64LE(2n ** 63n, 24); // the tensor name's length
  const f2 = tmp();
  writeFileSync(f2, h2);
  await rejects(f2, 'GGUF_TRUNCATED');
  const cut = tmp(); // a header cut in the middle of a key
  writeFileSync(cut, encodeGgufHeader({ 'general.architecture': gguf.str('llama') }, []).subarray(0, 30));
  await rejects(cut, 'GGUF_TRUNCATED');
});

test('malformed values: unknown value type, bad bool, bad UTF-8, bad alignment', async () => {
  const h = encodeGgufHeader({ 'k.v': gguf.u32(7) }, []);
  h.writeUInt32LE(13, h.length - 8);
  const f = tmp();
  writeFileSync(f, h);
  await rejects(f, 'GGUF_HEADER', { field: 'k.v' });
  const hb = encodeGgufHeader({ 'k.b': gguf.bool(true) }, []);
  hb[hb.length - 1] = 7;
  const fb = tmp();
  writeFileSync(fb, hb);
  await rejects(fb, 'GGUF_HEADER', { field: 'k.b' });
  const hu = encodeGgufHeader({ 'k.s': gguf.str('ab') }, []);
  hu[hu.length - 1] = 0xff;
  const fu = tmp();
  writeFileSync(fu, hu);
  await rejects(fu, 'GGUF_HEADER', { field: 'k.s' });
  await rejects(rawFile({ 'general.alignment': gguf.u32(48) }, []), 'GGUF_HEADER', { field: 'general.alignment' });
  await rejects(rawFile({ 'general.alignment': gguf.u32(0) }, []), 'GGUF_HEADER', { field: 'general.alignment' });
  await rejects(rawFile({ 'general.alignment': gguf.u64(32) }, []), 'GGUF_HEADER', { field: 'general.alignment' });
  await rejects(rawFile({ '': gguf.u8(1) }, []), 'GGUF_HEADER');
});

test('duplicate keys and duplicate tensor names', async () => {
  const meta = new Map([['general.name', gguf.str('a')]]);
  const h = encodeGgufHeader(meta, [], { kvCount: 2n });
  const f = tmp();
  writeFileSync(f, Buffer.concat([h, h.subarray(24)]));
  await rejects(f, 'GGUF_DUPLICATE', { field: 'general.name' });
  const t = { name: 'w', typeId: 0, dims: [8], offset: 0 };
  await rejects(rawFile({}, [t, { ...t, offset: 32 }], { dataBytes: 64 }), 'GGUF_DUPLICATE', { tensor: 'w' });
});

test('tensor offsets out of range, misaligned or overlapping; a truncated data section', async () => {
  const t = (name, offset, dims = [8], typeId = 0) => ({ name, typeId, dims, offset });
  await rejects(rawFile({}, [t('a', 0), t('b', 2n ** 62n)], { dataBytes: 64 }), 'TENSOR_BOUNDS', { tensor: 'b' });
  await rejects(rawFile({}, [t('a', 0), t('b', 32)], { dataBytes: 40 }), 'TENSOR_BOUNDS', { tensor: 'b' });
  await rejects(rawFile({}, [t('a', 0), t('b', 36)], { dataBytes: 96 }), 'TENSOR_ALIGNMENT', { tensor: 'b' });
  await rejects(rawFile({}, [t('a', 0, [16]), t('b', 32)], { dataBytes: 96 }), 'TENSOR_OVERLAP', { tensor: 'b' });
  await rejects(rawFile({}, [t('b', 32), t('a', 0, [16])], { dataBytes: 96 }), 'TENSOR_OVERLAP', { tensor: 'b' });
  // A good file cut short.
  const f = tmp();
  await writeGguf(f, { metadata: {}, tensors: [{ name: 'w', type: 'F32', dims: [64, 4] }] });
  const cut = tmp();
  writeFileSync(cut, readFileSync(f).subarray(0, -100));
  await rejects(cut, 'TENSOR_BOUNDS', { tensor: 'w' });
});

test('dims whose product overflows, bad dimension counts, rows the block size does not divide', async () => {
  const t = (dims, typeId = 0) => [{ name: 'w', typeId, dims, offset: 0 }];
  await rejects(rawFile({}, t([2n ** 32n, 2n ** 32n])), 'TENSOR_SHAPE', { tensor: 'w' });
  await rejects(rawFile({}, t([2n ** 63n])), 'TENSOR_SHAPE', { tensor: 'w' });
  await rejects(rawFile({}, t([1, 1, 1, 1, 1])), 'TENSOR_SHAPE', { tensor: 'w' });
  await rejects(rawFile({}, t([])), 'TENSOR_SHAPE', { tensor: 'w' });
  await rejects(rawFile({}, t([100, 2], 12), { dataBytes: 4096 }), 'TENSOR_SHAPE', { tensor: 'w' }); // Q4_K rows of 100
  await rejects(rawFile({}, t([48], 8), { dataBytes: 4096 }), 'TENSOR_SHAPE', { tensor: 'w' }); // Q8_0 rows of 48
});

test('a ggml type smoe does not know is UNSUPPORTED_QUANT naming tensor and type', async () => {
  await assert.rejects(readGguf(rawFile({}, [{ name: 'blk.0.attn_q.weight', typeId: 77, dims: [32], offset: 0 }], { dataBytes: 512 })),
    { code: 'UNSUPPORTED_QUANT', tensor: 'blk.0.attn_q.weight', message: /type 77/ });
});

test('the writer refuses data of the wrong size and unknown types', async () => {
  await assert.rejects(writeGguf(tmp(), { metadata: {}, tensors: [{ name: 'w', type: 'F32', dims: [4], data: new Uint8Array(12) }] }),
    { code: 'INVALID_ARGUMENT' });
  await assert.rejects(writeGguf(tmp(), { metadata: {}, tensors: [{ name: 'w', type: 'F32', dims: [4], data: new Uint8Array(20) }] }),
    { code: 'INVALID_ARGUMENT' });
  await assert.rejects(writeGguf(tmp(), { metadata: {}, tensors: [{ name: 'w', type: 'Q9_9', dims: [4] }] }), { code: 'INVALID_ARGUMENT' });
  await assert.rejects(writeGguf(tmp(), { metadata: {}, tensors: [{ name: 'w', type: 'Q4_K', dims: [100] }] }), { code: 'INVALID_ARGUMENT' });
});

test('mutated headers: every outcome is a parsed file or a ModelLoadError, never another exception', async () => {
  const f = tmp();
  await writeGguf(f, {
    metadata: {
      'general.architecture': gguf.str('llama'), 'a.n': gguf.u32(3), 'a.nested': gguf.arr('array', [gguf.arr('string', ['x', 'yz'])]),
      'tokenizer.ggml.tokens': gguf.arr('string', ['<unk>', 'a', 'b']), 'tokenizer.ggml.scores': gguf.arr('f32', [0, -1, -2]),
    },
    tensors: [{ name: 'w', type: 'F16', dims: [32, 2], data: new Uint8Array(128) }, { name: 'q', type: 'Q8_0', dims: [64] }],
  });
  const good = readFileSync(f);
  const g = await readGguf(f);
  let seed = 12345;
  const rand = (n) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
  let refused = 0;
  for (let i = 0; i < 400; i++) {
    const bad = Buffer.from(good);
    for (let k = 0, m = 1 + rand(4); k < m; k++) {
      const at = rand(g.dataOffset);
      bad[at] = rand(3) === 0 ? 0xff : rand(256);
    }
    const cut = rand(5) === 0 ? bad.subarray(0, rand(bad.length)) : bad;
    const mf = join(dir, 'fuzz.gguf');
    writeFileSync(mf, cut);
    try {
      await readGguf(mf);
    } catch (e) {
      assert.equal(e.name, 'ModelLoadError', `mutation ${i}: ${e.stack}`);
      assert.equal(typeof e.code, 'string');
      refused++;
    }
  }
  assert.ok(refused > 100, `only ${refused} of 400 mutations were refused`);
});
