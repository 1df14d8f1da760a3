/**
 * A small GGUF v3 (or v2) writer: typed metadata, tensor infos, alignment padding, then each tensor's data
 * streamed to its offset, so a 50 GB output never sits in memory. The layout is the one gguf.ts reads and
 * llama.cpp's gguf_write_to_file writes: tensors in the order given, each at the next multiple of the
 * alignment, the file padded to the alignment after the last tensor.
 *
 * @example
 * await writeGguf('out.gguf', {
 *   metadata: { 'general.architecture': gguf.str('llama'), 'llama.block_count': gguf.u32(2) },
 *   tensors: [{ name: 'output_norm.weight', type: 'F32', dims: [64], data: new Uint8Array(256) }],
 * });
 */
import { open } from 'node:fs/promises';

import { InvalidArgumentError } from '../errors.js';
import { ggmlBytes, ggmlTypeByName } from './ggml-types.js';
import {
  GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_VALUE_TYPES,
  type GgufArray, type GgufArrayItems, type GgufScalarType, type GgufValue, type GgufValueType,
} from './gguf.js';

/** Constructors for typed metadata values. */
export const gguf = {
  u8: (value: number): GgufValue => ({ type: 'u8', value }),
  i8: (value: number): GgufValue => ({ type: 'i8', value }),
  u16: (value: number): GgufValue => ({ type: 'u16', value }),
  i16: (value: number): GgufValue => ({ type: 'i16', value }),
  u32: (value: number): GgufValue => ({ type: 'u32', value }),
  i32: (value: number): GgufValue => ({ type: 'i32', value }),
  f32: (value: number): GgufValue => ({ type: 'f32', value }),
  f64: (value: number): GgufValue => ({ type: 'f64', value }),
  u64: (value: bigint | number): GgufValue => ({ type: 'u64', value: BigInt(value) }),
  i64: (value: bigint | number): GgufValue => ({ type: 'i64', value: BigInt(value) }),
  bool: (value: boolean): GgufValue => ({ type: 'bool', value }),
  str: (value: string): GgufValue => ({ type: 'string', value }),
  /** An array of `itemType` items; numbers for numeric types, bigint for u64/i64, GgufArray for nested. */
  arr: (itemType: GgufValueType, items: ArrayLike<unknown>): GgufArray => ({
    type: 'array', itemType, items: items as GgufArrayItems,
  }),
};

export type GgufMetadataInput = Record<string, GgufValue> | Map<string, GgufValue>;

export interface GgufTensorInput {
  name: string;
  /** ggml type name: 'F32', 'F16', 'BF16', 'Q8_0', 'Q4_K', ... */
  type: string;
  /** ggml ne order: dims[0] is the innermost dimension ([cols, rows] for a [rows, cols] matrix). */
  dims: number[];
  /**
   * The tensor's bytes: one buffer, or chunks (sync or async iterable) whose total must equal the
   * tensor's size. Absent: zeros, left as a hole in the file (sparse) rather than written.
   */
  data?: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;
}

export interface GgufWriteOptions {
  /** 3 (default) or 2; the two share one layout. */
  version?: 2 | 3;
}

/** One tensor info entry as it is encoded; `typeId` and 64-bit `dims`/`offset` are taken as they are. */
export interface RawTensorInfo {
  name: string;
  typeId: number;
  dims: Array<number | bigint>;
  /** Offset relative to the data section. */
  offset: number | bigint;
}

/** Grows a byte list as values are appended (little-endian throughout). */
class ByteSink {
  #parts: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    this.#parts.push(b);
    this.length += b.length;
  }
  fixed(n: number, put: (b: Buffer) => void): void {
    const b = Buffer.alloc(n);
    put(b);
    this.push(b);
  }
  u32(v: number): void { this.fixed(4, (b) => b.writeUInt32LE(v >>> 0)); }
  u64(v: number | bigint): void { this.fixed(8, (b) => b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v)))); }
  string(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.push(b);
  }
  bytes(): Buffer { return Buffer.concat(this.#parts); }
}

function typeId(t: GgufValueType): number {
  return GGUF_VALUE_TYPES.indexOf(t);
}

function putScalar(s: ByteSink, t: GgufScalarType, v: unknown): void {
  switch (t) {
    case 'u8': return s.fixed(1, (b) => b.writeUInt8(v as number));
    case 'i8': return s.fixed(1, (b) => b.writeInt8(v as number));
    case 'u16': return s.fixed(2, (b) => b.writeUInt16LE(v as number));
    case 'i16': return s.fixed(2, (b) => b.writeInt16LE(v as number));
    case 'u32': return s.fixed(4, (b) => b.writeUInt32LE(v as number));
    case 'i32': return s.fixed(4, (b) => b.writeInt32LE(v as number));
    case 'f32': return s.fixed(4, (b) => b.writeFloatLE(v as number));
    case 'f64': return s.fixed(8, (b) => b.writeDoubleLE(v as number));
    case 'u64': return s.fixed(8, (b) => b.writeBigUInt64LE(BigInt(v as bigint)));
    case 'i64': return s.fixed(8, (b) => b.writeBigInt64LE(BigInt(v as bigint)));
    case 'bool': return s.fixed(1, (b) => b.writeUInt8(v ? 1 : 0));
    case 'string': return s.string(v as string);
  }
}

function putArrayBody(s: ByteSink, a: GgufArray): void {
  s.u32(typeId(a.itemType));
  s.u64(a.items.length);
  for (let i = 0; i < a.items.length; i++) {
    const item = (a.items as ArrayLike<unknown>)[i];
    if (a.itemType === 'array') putArrayBody(s, item as GgufArray);
    else putScalar(s, a.itemType, item);
  }
}

/**
 * The header bytes (magic through the tensor infos, without the padding), from values taken as they are:
 * the low-level half of writeGguf, also used by tests to build malformed files.
 */
export function encodeGgufHeader(
  metadata: GgufMetadataInput,
  tensors: readonly RawTensorInfo[],
  opts: { version?: number; magic?: number; tensorCount?: bigint; kvCount?: bigint } = {},
): Buffer {
  const entries = metadata instanceof Map ? [...metadata] : Object.entries(metadata);
  const s = new ByteSink();
  s.u32(opts.magic ?? GGUF_MAGIC);
  s.u32(opts.version ?? 3);
  s.u64(opts.tensorCount ?? BigInt(tensors.length));
  s.u64(opts.kvCount ?? BigInt(entries.length));
  for (const [key, v] of entries) {
    s.string(key);
    s.u32(typeId(v.type));
    if (v.type === 'array') putArrayBody(s, v);
    else putScalar(s, v.type, v.value);
  }
  for (const t of tensors) {
    s.string(t.name);
    s.u32(t.dims.length);
    for (const d of t.dims) s.u64(d);
    s.u32(t.typeId);
    s.u64(t.offset);
  }
  return s.bytes();
}

const pad = (n: bigint, a: bigint): bigint => (n + a - 1n) / a * a;

/**
 * Writes a GGUF file: the metadata (general.alignment, when present, sets the alignment), the tensor infos
 * and every tensor's data at its aligned offset. Returns the file's size.
 * @throws InvalidArgumentError INVALID_ARGUMENT for an unknown type, a bad shape or data of the wrong size
 */
export async function writeGguf(
  path: string,
  model: { metadata: GgufMetadataInput; tensors: readonly GgufTensorInput[] },
  options: GgufWriteOptions = {},
): Promise<number> {
  const bad = (msg: string): never => {
    throw new InvalidArgumentError('INVALID_ARGUMENT', `writeGguf(${path}): ${msg}`);
  };
  const meta = model.metadata instanceof Map ? model.metadata : new Map(Object.entries(model.metadata));
  const al = meta.get('general.alignment');
  if (al !== undefined && al.type !== 'u32') bad('general.alignment must be a u32');
  const alignment = BigInt(al !== undefined ? (al as { value: number }).value : GGUF_DEFAULT_ALIGNMENT);
  if (alignment <= 0n || (alignment & (alignment - 1n)) !== 0n) bad(`alignment ${alignment} is not a power of two`);

  const infos: RawTensorInfo[] = [];
  const sizes: bigint[] = [];
  let next = 0n;
  for (const t of model.tensors) {
    const type = ggmlTypeByName(t.type) ?? bad(`tensor ${t.name}: unknown ggml type ${t.type}`);
    if (t.dims.length < 1 || t.dims.length > 4 || t.dims.some((d) => !Number.isSafeInteger(d) || d < 0))
      bad(`tensor ${t.name}: bad dims ${JSON.stringify(t.dims)}`);
    if (t.dims[0]! % type.blockSize !== 0) bad(`tensor ${t.name}: ${t.dims[0]} is not a multiple of ${type.name}'s block size`);
    const bytes = ggmlBytes(type, t.dims.reduce((a, d) => a * BigInt(d), 1n));
    infos.push({ name: t.name, typeId: type.id, dims: t.dims, offset: next });
    sizes.push(bytes);
    next = pad(next + bytes, alignment);
  }
  const header = encodeGgufHeader(meta, infos, { version: options.version ?? 3 });
  const dataOffset = pad(BigInt(header.length), alignment);
  const total = dataOffset + next;

  const fh = await open(path, 'w');
  try {
    await fh.write(header, 0, header.length, 0);
    for (let i = 0; i < model.tensors.length; i++) {
      const t = model.tensors[i]!;
      if (t.data === undefined) continue;
      let pos = dataOffset + BigInt(infos[i]!.offset);
      const end = pos + sizes[i]!;
      const chunks = t.data instanceof Uint8Array ? [t.data] : t.data;
      for await (const c of chunks as AsyncIterable<Uint8Array>) {
        if (pos + BigInt(c.length) > end) bad(`tensor ${t.name}: data is longer than its ${sizes[i]} bytes`);
        let off = 0;
        while (off < c.length) {
          const { bytesWritten } = await fh.write(c, off, c.length - off, Number(pos) + off);
          off += bytesWritten;
        }
        pos += BigInt(c.length);
      }
      if (pos !== end) bad(`tensor ${t.name}: data holds ${pos - end + sizes[i]!} bytes, its shape needs ${sizes[i]}`);
    }
    await fh.truncate(Number(total));
  } finally {
    await fh.close();
  }
  return Number(total);
}
