// The SIMT emulation build (`npm run build:emulate`, built by `npm test` as pretest): the emulated device is
// reported as such and never chosen by device 'auto', and the emulator turns the bugs a GPU would show into
// wrong results or errors naming kernel, block and thread (its self-test kernels, cuda/emulate/simt_selftest.cu,
// each wrong on purpose, with corrected twins that must pass). Skips where the emulation build is missing.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';

import { loadModel } from '../dist/index.js';
import { EMULATED_ADDON } from '../dist/native.js';
import { fixture } from './helpers.mjs';

const SKIP = existsSync(EMULATED_ADDON) ? null : `no SIMT emulation build at ${EMULATED_ADDON} (npm run build:emulate)`;
const emu = SKIP ? null : createRequire(import.meta.url)(EMULATED_ADDON);
const run = (kernel) => emu.opTest('simt_selftest', { kernel }).out;
/** Throws the CUDA_ERROR the emulator raises for `kernel`, checked against `pattern`s. */
function fails(kernel, ...patterns) {
  assert.throws(() => run(kernel), (e) => {
    assert.equal(e.code, 'CUDA_ERROR', e.message);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}
const N = 256;

describe('SIMT emulator', { skip: SKIP ?? false }, () => {
  test('its device is reported as emulated, and device auto never picks it', async () => {
    const cuda = emu.backends().cuda;
    assert.equal(cuda.emulated, true);
    assert.equal(cuda.devices.length, 1);
    assert.equal(cuda.devices[0].emulated, true);
    assert.match(cuda.devices[0].name, /emulator.*not a GPU/);
    const prev = process.env.SMOE_CUDA_EMULATE;
    process.env.SMOE_CUDA_EMULATE = '1';  // the lib loads the emulation build (this process only)
    try {
      const model = await loadModel(fixture('tiny-mixtral'), { device: 'auto' });
      try {
        assert.equal(model.info.backend, 'cpu');
      } finally {
        await model.close();
      }
    } finally {
      if (prev === undefined) delete process.env.SMOE_CUDA_EMULATE;
      else process.env.SMOE_CUDA_EMULATE = prev;
    }
  });

  test('a missing __syncthreads between a shared write and a read gives a wrong result', () => {
    const want = Array.from({ length: 4 * N }, (_, k) => Math.floor(k / N) * 1000 + ((k % N) + 1) % N);
    assert.deepEqual(Array.from(run('neighbour_ok')), want);
    const got = Array.from(run('neighbour'));
    assert.ok(got.some((v, k) => v !== want[k]), 'the racy kernel happened to be right');
  });

  test('reusing a shared tile without the closing __syncthreads gives a wrong result', () => {
    const want = Array.from({ length: N }, (_, i) => 6000 + 4 * ((i + 1) % N));
    assert.deepEqual(Array.from(run('reuse_ok')), want);
    const got = Array.from(run('reuse'));
    assert.ok(got.some((v, k) => v !== want[k]), 'the racy kernel happened to be right');
  });

  test('an out-of-bounds __shared__ array index is an error naming kernel, block and thread', () => {
    fails('shared_oob', /shared_oob_kernel/, /array index out of bounds/, /block \(0,0,0\)/, /thread \((6[4-9]|[7-9]\d|1[0-2]\d),0,0\)/);
  });

  test('a write past the end of a device allocation is an error naming the allocation and the thread', () => {
    fails('global_oob', /global_oob_kernel/, /illegal memory access: write/, /0 bytes past the end of the 256-byte device allocation/,
      /thread \(63,0,0\)/);
  });

  test('a read past the end of dynamic shared memory is an error', () => {
    fails('dynamic_oob', /dynamic_oob_kernel/, /dynamic shared memory at byte offset 128 of the launch's 128 bytes/, /thread \(31,0,0\)/);
  });

  test('a warp intrinsic reached by only part of its mask is a deadlock, named', () => {
    fails('divergent_shfl', /divergent_shfl_kernel/, /deadlock/, /lanes \{0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\} wait at __shfl_xor_sync/,
      /lanes \{16,.*31\} of its mask have exited/);
    assert.deepEqual(Array.from(run('shfl_ok')), Array(64).fill(496));
  });
});
