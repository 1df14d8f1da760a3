/**
 * GGUF files (v2 and v3, little-endian): the header read with bounded reads and validated before anything
 * in it is used. Layout (gguf.cpp / gguf-py):
 *   u32 magic "GGUF", u32 version, u64 tensor_count, u64 kv_count,
 *   kv_count x { string key, u32 value_type, value },
 *   tensor_count x { string name, u32 n_dims, u64 ne[n_dims] (innermost first), u32 ggml_type, u64 offset },
 *   padding to `general.alignment` (u32, power of two, default 32), then the data section; each tensor's
 *   offset is relative to the data section and a multiple of the alignment.
 * A string is u64 length + UTF-8 bytes; an array is u32 item type + u64 count + items (arrays may nest).
 * v3 only added big-endian files, which are refused (the version then reads as 0x03000000).
 *
 * Nothing is allocated from a count before the count has been checked against the bytes left in the file,
 * and every 64-bit quantity is handled as a BigInt until it is known to fit a double exactly.
 */
import type { FileHandle } from 'node:fs/promises';

import { ModelLoadError, type ErrorCode } from '../errors.js';
import { ggmlBytes, ggmlTypeById, type GgmlType } from './ggml-types.js';
import { openModelFile } from './open-file.js';

export type GgufScalarType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'bool' | 'string' | 'u64' | 'i64' | 'f64';
export type GgufValueType = GgufScalarType | 'array';

/** Value type ids of the format (gguf.h `enum gguf_type`). */
export const GGUF_VALUE_TYPES: readonly GgufValueType[] = [
  'u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'f32', 'bool', 'string', 'array', 'u64', 'i64', 'f64',
];

/**
 * An array's items: a typed array for numeric items (BigInt64Array / BigUint64Array for 64-bit integers),
 * boolean[] or string[], or GgufArray[] for nested arrays.
 */
export type GgufArrayItems =
  | Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array
  | BigInt64Array | BigUint64Array | boolean[] | string[] | GgufArray[];

export interface GgufArray {
  type: 'array';
  itemType: GgufValueType;
  items: GgufArrayItems;
}

/** One metadata value with its stored type. 64-bit integers are bigint, other numbers are number. */
export type GgufValue =
  | { type: 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64'; value: number }
  | { type: 'u64' | 'i64'; value: bigint }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | GgufArray;

export interface GgufTensorInfo {
  name: string;
  type: GgmlType;
  /** ggml's ne: dims[0] is the innermost (contiguous) dimension; a [rows, cols] matrix is [cols, rows]. */
  dims: number[];
  elements: number;
  /** Absolute byte offset of the data in the file. */
  offset: number;
  bytes: number;
}

export interface GgufFile {
  file: string;
  version: number;
  size: number;
  alignment: number;
  /** Absolute offset of the data section. */
  dataOffset: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  tensorsByName: Map<string, GgufTensorInfo>;
}

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_DEFAULT_ALIGNMENT = 32;
const MAX_DIMS = 4;
/** Caps that stop a hostile header from making us read (or hold) more than any real model's header. */
const MAX_HEADER_BYTES = 256 * 1024 * 1024;
const MAX_ARRAY_DEPTH = 8;
const CHUNK = 1 << 20;
const utf8 = new TextDecoder('utf-8', { fatal: true });

type Fail = (code: ErrorCode, msg: string, where?: { tensor?: string; field?: string }) => never;

/** Reads the file front to back through a 1 MiB window; `need` refuses to read past the end. */
class BoundedReader {
  pos = 0;
  #buf = Buffer.alloc(0);
  #bufStart = 0;
  constructor(readonly fh: FileHandle, readonly size: number, readonly fail: Fail) {}

  get remaining(): number {
    return this.size - this.pos;
  }

  /** Makes `n` bytes at `pos` available; `what` names the value for the error when the file ends first. */
  async need(n: number, what: string, where?: { tensor?: string; field?: string }): Promise<Buffer> {
    if (n > this.remaining)
      this.fail('GGUF_TRUNCATED', `${what} needs ${n} bytes at offset ${this.pos} but the file ends at ${this.size}`, where);
    if (this.pos + n > MAX_HEADER_BYTES)
      this.fail('GGUF_HEADER', `the header runs past ${MAX_HEADER_BYTES} bytes (at ${what})`, where);
    const rel = this.pos - this.#bufStart;
    if (rel < 0 || rel + n > this.#buf.length) {
      const len = Math.min(Math.max(n, CHUNK), this.size - this.pos);
      const buf = Buffer.allocUnsafe(len);
      let got = 0;
      while (got < len) {
        const { bytesRead } = await this.fh.read(buf, got, len - got, this.pos + got);
        if (bytesRead === 0) this.fail('GGUF_TRUNCATED', `the file ended while reading ${what}`, where);
        got += bytesRead;
      }
      this.#buf = buf;
      this.#bufStart = this.pos;
    }
    const start = this.pos - this.#bufStart;
    this.pos += n;
    return this.#buf.subarray(start, start + n);
  }

  async u32(what: string, where?: { tensor?: string; field?: string }): Promise<number> {
    return (await this.need(4, what, where)).readUInt32LE(0);
  }

  async u64(what: string, where?: { tensor?: string; field?: string }): Promise<bigint> {
    return (await this.need(8, what, where)).readBigUInt64LE(0);
  }

  async string(what: string, where?: { tensor?: string; field?: string }): Promise<string> {
    const len = await this.u64(`the length of ${what}`, where);
    if (len > BigInt(this.remaining))
      this.fail('GGUF_TRUNCATED', `${what} claims ${len} bytes at offset ${this.pos} but only ${this.remaining} remain in the file`, where);
    const bytes = await this.need(Number(len), what, where);
    try {
      return utf8.decode(bytes);
    } catch {
      return this.fail('GGUF_HEADER', `${what} is not valid UTF-8`, where);
    }
  }
}

/** Smallest encoded size of one item of `t`, used to bound a count before anything is allocated. */
function minItemBytes(t: GgufValueType): number {
  switch (t) {
    case 'u8': case 'i8': case 'bool': return 1;
    case 'u16': case 'i16': return 2;
    case 'u32': case 'i32': case 'f32': return 4;
    case 'u64': case 'i64': case 'f64': case 'string': return 8;
    case 'array': return 12;
  }
}

const FIXED: Partial<Record<GgufValueType, [number, (b: Buffer, o: number) => number | bigint]>> = {
  u8: [1, (b, o) => b.readUInt8(o)], i8: [1, (b, o) => b.readInt8(o)],
  u16: [2, (b, o) => b.readUInt16LE(o)], i16: [2, (b, o) => b.readInt16LE(o)],
  u32: [4, (b, o) => b.readUInt32LE(o)], i32: [4, (b, o) => b.readInt32LE(o)],
  f32: [4, (b, o) => b.readFloatLE(o)], f64: [8, (b, o) => b.readDoubleLE(o)],
  u64: [8, (b, o) => b.readBigUInt64LE(o)], i64: [8, (b, o) => b.readBigInt64LE(o)],
};

async function readValueType(r: BoundedReader, key: string): Promise<GgufValueType> {
  const id = await r.u32(`the value type of key '${key}'`, { field: key });
  const t = GGUF_VALUE_TYPES[id];
  if (t === undefined) r.fail('GGUF_HEADER', `key '${key}' has an unknown value type ${id}`, { field: key });
  return t!;
}

async function readScalar(r: BoundedReader, t: GgufScalarType, key: string): Promise<GgufValue> {
  const where = { field: key };
  if (t === 'string') return { type: 'string', value: await r.string(`the value of key '${key}'`, where) };
  if (t === 'bool') {
    const b = (await r.need(1, `the value of key '${key}'`, where))[0]!;
    if (b > 1) r.fail('GGUF_HEADER', `key '${key}' holds a bool of value ${b}`, where);
    return { type: 'bool', value: b === 1 };
  }
  const [n, read] = FIXED[t]!;
  const v = read(await r.need(n, `the value of key '${key}'`, where), 0);
  return (typeof v === 'bigint' ? { type: t, value: v } : { type: t, value: v }) as GgufValue;
}

async function readArray(r: BoundedReader, key: string, depth: number): Promise<GgufArray> {
  const where = { field: key };
  if (depth > MAX_ARRAY_DEPTH) r.fail('GGUF_HEADER', `key '${key}' nests arrays deeper than ${MAX_ARRAY_DEPTH}`, where);
  const itemType = await readValueType(r, key);
  const count = await r.u64(`the item count of key '${key}'`, where);
  const min = minItemBytes(itemType);
  if (count * BigInt(min) > BigInt(r.remaining))
    r.fail('GGUF_TRUNCATED', `key '${key}' claims ${count} items of type ${itemType}, more than the ${r.remaining} bytes left in the file hold`, where);
  const n = Number(count);
  const fixed = FIXED[itemType];
  if (fixed) {
    const bytes = await r.need(n * fixed[0], `the items of key '${key}'`, where);
    const copy = new Uint8Array(bytes).buffer; // aligned, owned copy
    const items = {
      u8: () => new Uint8Array(copy), i8: () => new Int8Array(copy), u16: () => new Uint16Array(copy),
      i16: () => new Int16Array(copy), u32: () => new Uint32Array(copy), i32: () => new Int32Array(copy),
      f32: () => new Float32Array(copy), f64: () => new Float64Array(copy), u64: () => new BigUint64Array(copy),
      i64: () => new BigInt64Array(copy),
    }[itemType as 'u8']();
    return { type: 'array', itemType, items };
  }
  if (itemType === 'bool') {
    const bytes = await r.need(n, `the items of key '${key}'`, where);
    const items: boolean[] = [];
    for (const b of bytes) {
      if (b > 1) r.fail('GGUF_HEADER', `key '${key}' holds a bool of value ${b}`, where);
      items.push(b === 1);
    }
    return { type: 'array', itemType, items };
  }
  if (itemType === 'string') {
    const items: string[] = [];
    for (let i = 0; i < n; i++) items.push(await r.string(`item ${i} of key '${key}'`, where));
    return { type: 'array', itemType, items };
  }
  const items: GgufArray[] = [];
  for (let i = 0; i < n; i++) items.push(await readArray(r, key, depth + 1));
  return { type: 'array', itemType, items };
}

/**
 * Reads and validates a GGUF file's header. Tensor data is not read.
 * @throws ModelLoadError FILE_MISSING, FILE_OPEN, GGUF_MAGIC, GGUF_VERSION, GGUF_TRUNCATED, GGUF_HEADER,
 *   GGUF_DUPLICATE, TENSOR_SHAPE, TENSOR_ALIGNMENT, TENSOR_BOUNDS, TENSOR_OVERLAP, UNSUPPORTED_QUANT
 */
export async function readGguf(file: string): Promise<GgufFile> {
  const fail: Fail = (code, msg, where = {}) => {
    throw new ModelLoadError(code, `${file}: ${msg}`, { file, ...where });
  };
  const fh = await openModelFile(file);
  try {
    const st = await fh.stat();
    if (!st.isFile()) fail('FILE_OPEN', 'not a regular file');
    return await parse(new BoundedReader(fh, st.size, fail), file, fail);
  } finally {
    await fh.close();
  }
}

async function parse(r: BoundedReader, file: string, fail: Fail): Promise<GgufFile> {
  if (r.size < 4) fail('GGUF_MAGIC', `file is ${r.size} bytes, too short for the GGUF magic`);
  const magic = await r.u32('the magic');
  if (magic !== GGUF_MAGIC) {
    const shown = JSON.stringify(Buffer.from([magic & 255, (magic >> 8) & 255, (magic >> 16) & 255, magic >>> 24]).toString('latin1'));
    fail('GGUF_MAGIC', `not a GGUF file (magic ${shown}, expected "GGUF")`);
  }
  const version = await r.u32('the version');
  if (version === 1) fail('GGUF_VERSION', 'GGUF version 1 is not supported (re-convert the model: smoe reads v2 and v3)');
  if (version !== 2 && version !== 3) {
    const swapped = ((version & 255) << 24 | ((version >> 8) & 255) << 16 | ((version >> 16) & 255) << 8 | version >>> 24) >>> 0;
    fail('GGUF_VERSION', swapped === 2 || swapped === 3
      ? `this is a big-endian GGUF file (version ${swapped}); smoe reads little-endian files`
      : `GGUF version ${version} is not supported (smoe reads v2 and v3)`);
  }
  const tensorCount = await r.u64('the tensor count');
  const kvCount = await r.u64('the metadata count');
  // Each key-value pair takes at least 8 (key length) + 4 (type) + 1 bytes, each tensor info 8 + 4 + 4 + 8.
  if (kvCount * 13n > BigInt(r.remaining))
    fail('GGUF_TRUNCATED', `the header claims ${kvCount} metadata entries, more than the ${r.remaining} bytes left in the file hold`);
  if (tensorCount * 24n > BigInt(r.remaining))
    fail('GGUF_TRUNCATED', `the header claims ${tensorCount} tensors, more than the ${r.remaining} bytes left in the file hold`);

  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < Number(kvCount); i++) {
    const key = await r.string(`key ${i}`);
    if (key.length === 0) fail('GGUF_HEADER', `key ${i} is empty`);
    if (metadata.has(key)) fail('GGUF_DUPLICATE', `key '${key}' appears twice`, { field: key });
    const t = await readValueType(r, key);
    metadata.set(key, t === 'array' ? await readArray(r, key, 1) : await readScalar(r, t, key));
  }

  let alignment = GGUF_DEFAULT_ALIGNMENT;
  const al = metadata.get('general.alignment');
  if (al !== undefined) {
    const field = { field: 'general.alignment' };
    if (al.type !== 'u32') fail('GGUF_HEADER', `general.alignment must be a u32 (got ${al.type})`, field);
    alignment = (al as { value: number }).value;
    if (alignment === 0 || (alignment & (alignment - 1)) !== 0)
      fail('GGUF_HEADER', `general.alignment ${alignment} is not a power of two`, field);
  }

  interface Raw { name: string; type: GgmlType; dims: number[]; elements: bigint; offset: bigint; bytes: bigint }
  const raw: Raw[] = [];
  const names = new Set<string>();
  for (let i = 0; i < Number(tensorCount); i++) {
    const name = await r.string(`the name of tensor ${i}`);
    const where = { tensor: name };
    if (names.has(name)) fail('GGUF_DUPLICATE', `tensor ${name} appears twice`, where);
    names.add(name);
    const nDims = await r.u32(`the dimension count of tensor ${name}`, where);
    if (nDims < 1 || nDims > MAX_DIMS) fail('TENSOR_SHAPE', `tensor ${name} has ${nDims} dimensions (1 to ${MAX_DIMS} allowed)`, where);
    const dimsBig: bigint[] = [];
    for (let d = 0; d < nDims; d++) dimsBig.push(await r.u64(`dimension ${d} of tensor ${name}`, where));
    const typeId = await r.u32(`the type of tensor ${name}`, where);
    const offset = await r.u64(`the data offset of tensor ${name}`, where);
    const type = ggmlTypeById(typeId);
    if (!type) fail('UNSUPPORTED_QUANT', `tensor ${name} has ggml type ${typeId}, which smoe does not know`, where);
    let elements = 1n;
    for (const d of dimsBig) elements *= d;
    if (dimsBig.some((d) => d > BigInt(Number.MAX_SAFE_INTEGER)) || elements > BigInt(Number.MAX_SAFE_INTEGER))
      fail('TENSOR_SHAPE', `tensor ${name}: dims [${dimsBig.join(', ')}] hold more elements than can be addressed (product overflows)`, where);
    if (dimsBig[0]! % BigInt(type!.blockSize) !== 0n)
      fail('TENSOR_SHAPE', `tensor ${name}: rows of ${dimsBig[0]} elements are not a multiple of ${type!.name}'s block size ${type!.blockSize}`, where);
    raw.push({ name, type: type!, dims: dimsBig.map(Number), elements, offset, bytes: ggmlBytes(type!, elements) });
  }

  const headerEnd = BigInt(r.pos);
  const dataOffset = (headerEnd + BigInt(alignment - 1)) / BigInt(alignment) * BigInt(alignment);
  const size = BigInt(r.size);
  if (raw.length > 0 && dataOffset > size) fail('GGUF_TRUNCATED', `the data section would start at ${dataOffset}, past the end of the file (${size} bytes)`);
  const dataSize = size - dataOffset;
  for (const t of raw) {
    const where = { tensor: t.name };
    if (t.offset % BigInt(alignment) !== 0n)
      fail('TENSOR_ALIGNMENT', `tensor ${t.name}: data offset ${t.offset} is not a multiple of the alignment ${alignment}`, where);
    if (t.offset > dataSize || t.bytes > dataSize - t.offset)
      fail('TENSOR_BOUNDS', `tensor ${t.name}: bytes ${t.offset}..${t.offset + t.bytes} of the data section lie past its end (${dataSize} bytes; truncated file?)`, where);
  }
  const sorted = [...raw].sort((a, b) => (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!, cur = sorted[i]!;
    if (cur.bytes > 0n && prev.bytes > 0n && prev.offset + prev.bytes > cur.offset)
      fail('TENSOR_OVERLAP', `tensors ${prev.name} and ${cur.name} overlap in the data section`, { tensor: cur.name });
  }
  const tensors: GgufTensorInfo[] = raw.map((t) => ({
    name: t.name, type: t.type, dims: t.dims, elements: Number(t.elements),
    offset: Number(dataOffset + t.offset), bytes: Number(t.bytes),
  }));
  return {
    file, version, size: r.size, alignment, dataOffset: Number(dataOffset), metadata, tensors,
    tensorsByName: new Map(tensors.map((t) => [t.name, t])),
  };
}

/** Typed access to metadata with errors that name the key. */
export class GgufMetadata {
  constructor(readonly gguf: GgufFile) {}

  has(key: string): boolean {
    return this.gguf.metadata.has(key);
  }

  #fail(key: string, why: string): never {
    const f = this.gguf.file;
    throw new ModelLoadError('CONFIG_INVALID', `${f}: metadata key '${key}' ${why}`, { file: f, field: key });
  }

  #get(key: string, required: boolean): GgufValue | undefined {
    const v = this.gguf.metadata.get(key);
    if (v === undefined && required) this.#fail(key, 'is missing');
    return v;
  }

  /** An integer of any integer type as a number; a 64-bit value past 2^53 is refused, never rounded. */
  int(key: string): number;
  int(key: string, fallback: number | null): number | null;
  int(key: string, fallback?: number | null): number | null {
    const v = this.#get(key, fallback === undefined);
    if (v === undefined) return fallback ?? null;
    if (v.type === 'u64' || v.type === 'i64') {
      if (v.value > BigInt(Number.MAX_SAFE_INTEGER) || v.value < -BigInt(Number.MAX_SAFE_INTEGER))
        this.#fail(key, `holds ${v.value}, too large to use`);
      return Number(v.value);
    }
    if (['u8', 'i8', 'u16', 'i16', 'u32', 'i32'].includes(v.type)) return (v as { value: number }).value;
    return this.#fail(key, `must be an integer (got a ${v.type})`);
  }

  /** A number of any numeric type. */
  num(key: string): number;
  num(key: string, fallback: number | null): number | null;
  num(key: string, fallback?: number | null): number | null {
    const v = this.#get(key, fallback === undefined);
    if (v === undefined) return fallback ?? null;
    if (v.type === 'f32' || v.type === 'f64') return v.value;
    return this.int(key);
  }

  str(key: string): string;
  str(key: string, fallback: string | null): string | null;
  str(key: string, fallback?: string | null): string | null {
    const v = this.#get(key, fallback === undefined);
    if (v === undefined) return fallback ?? null;
    if (v.type !== 'string') return this.#fail(key, `must be a string (got a ${v.type})`);
    return v.value;
  }

  bool(key: string, fallback: boolean | null): boolean | null {
    const v = this.#get(key, false);
    if (v === undefined) return fallback;
    if (v.type !== 'bool') return this.#fail(key, `must be a bool (got a ${v.type})`);
    return v.value;
  }

  /** An array of strings (e.g. tokenizer.ggml.tokens). */
  strings(key: string, required = true): string[] | null {
    const v = this.#get(key, required);
    if (v === undefined) return null;
    if (v.type !== 'array' || v.itemType !== 'string') return this.#fail(key, 'must be an array of strings');
    return v.items as string[];
  }

  /** A numeric array as doubles (64-bit integers past 2^53 refused). */
  numbers(key: string, required = true): Float64Array | null {
    const v = this.#get(key, required);
    if (v === undefined) return null;
    if (v.type !== 'array' || ['string', 'array', 'bool'].includes(v.itemType)) return this.#fail(key, 'must be an array of numbers');
    const items = v.items as ArrayLike<number | bigint>;
    const out = new Float64Array(items.length);
    for (let i = 0; i < items.length; i++) {
      const x = items[i]!;
      if (typeof x === 'bigint' && (x > BigInt(Number.MAX_SAFE_INTEGER) || x < -BigInt(Number.MAX_SAFE_INTEGER)))
        this.#fail(key, `item ${i} holds ${x}, too large to use`);
      out[i] = Number(x);
    }
    return out;
  }
}
