// Records what the quantizer tests compare against, from llama-quantize's outputs:
//   node tools/quantize-fixtures/record.mjs WORK_DIR OUT_DIR
// WORK_DIR/<model>-<MIX>.gguf (mixes) and WORK_DIR/<model>-pure-<TYPE>.gguf (--pure runs) ->
//   OUT_DIR/manifest.json: per file its sha256, size and every tensor's { name, type, sha256 } in file order;
//   OUT_DIR/pure-<TYPE>.bin: the bytes of the RAW_TENSORS of the pure runs, for first-differing-block reports.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { readGguf } from '../../dist/load/gguf.js';

export const RAW_TENSORS = [['blk.0.attn_v.weight', null], ['blk.0.ffn_gate_exps.weight', 64]];

const [work, out] = process.argv.slice(2);
mkdirSync(out, { recursive: true });
const sha = (b) => createHash('sha256').update(b).digest('hex');
const manifest = { llamaCpp: process.env.LLAMA_BUILD ?? 'unknown', files: {} };
for (const f of readdirSync(work).filter((n) => /-(pure-)?[A-Z0-9_]+\.gguf$/.test(n) && !n.includes('-bf16-src')).sort()) {
  const path = join(work, f);
  const bytes = readFileSync(path);
  const g = await readGguf(path);
  manifest.files[f.replace(/\.gguf$/, '')] = {
    sha256: sha(bytes), bytes: bytes.length,
    tensors: g.tensors.map((t) => ({ name: t.name, type: t.type.name, sha256: sha(bytes.subarray(t.offset, t.offset + t.bytes)) })),
  };
  const pure = /^qz-mixtral-e8-pure-([A-Z0-9_]+)\.gguf$/.exec(f);
  if (pure) {
    const parts = RAW_TENSORS.map(([name, rows]) => {
      const t = g.tensorsByName.get(name);
      const len = rows === null ? t.bytes : (t.bytes / (t.elements / t.dims[0])) * rows;
      return bytes.subarray(t.offset, t.offset + len);
    });
    writeFileSync(join(out, `pure-${pure[1]}.bin`), Buffer.concat(parts));
  }
}
writeFileSync(join(out, 'manifest.json'), JSON.stringify(manifest, null, 1) + '\n');
console.log(`recorded ${Object.keys(manifest.files).length} files into ${out}`);
