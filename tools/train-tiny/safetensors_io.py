"""Reading and writing safetensors files with plain torch (no safetensors package).

Format: 8-byte little-endian header length N, N bytes of JSON header {name: {dtype, shape, data_offsets: [begin,
end]}, "__metadata__": {...}}, then the raw little-endian tensor bytes (offsets relative to the end of the header).
A sharded checkpoint has model.safetensors.index.json with weight_map {name: file}.
"""
import json
import os
import struct

import torch

DTYPES = {'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16, 'I64': torch.int64, 'I32': torch.int32}
NAMES = {v: k for k, v in DTYPES.items()}


def read_file(path):
    """{name: tensor} of one .safetensors file (tensors keep their stored dtype)."""
    with open(path, 'rb') as f:
        data = f.read()
    (n,) = struct.unpack('<Q', data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        begin, end = info['data_offsets']
        dtype = DTYPES[info['dtype']]
        buf = bytearray(data[base + begin:base + end])
        t = torch.frombuffer(buf, dtype=dtype) if buf else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(info['shape'])
    return out


def read_checkpoint(folder):
    """{name: tensor} of a model folder: model.safetensors, or the shards named by model.safetensors.index.json."""
    index = os.path.join(folder, 'model.safetensors.index.json')
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)['weight_map'].values()))
    else:
        files = ['model.safetensors']
    out = {}
    for name in files:
        out.update(read_file(os.path.join(folder, name)))
    return out


def write_file(path, tensors, metadata=None):
    """Writes {name: tensor} (contiguous, any dtype in DTYPES) atomically; names sorted, 8-byte aligned header."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        raw = t.view(torch.int16).numpy().tobytes() if t.dtype in (torch.bfloat16, torch.float16) else t.numpy().tobytes()
        header[name] = {'dtype': NAMES[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header['__metadata__'] = metadata
    h = json.dumps(header, separators=(',', ':')).encode('utf-8')
    h += b' ' * (-len(h) % 8)
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)
