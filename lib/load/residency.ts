/**
 * Whether a model's weight files are read into process memory (on transparent huge pages) or mapped in
 * place. Reading them costs a full read of the files while loading and their size in resident memory; in
 * return a decode step, which streams every active weight once per token, runs on 2 MiB pages at the
 * memory's full read bandwidth (measured in bench/RESULTS.md: about 1.25x the decode tok/s of mapped
 * 4 KiB pages on the project's machines). Mapping loads at once, shares the page cache between processes
 * and lets a model larger than the free memory run.
 */
import { readFileSync, statSync } from 'node:fs';
import { freemem } from 'node:os';

import { InvalidArgumentError } from '../errors.js';

export type MmapOption = boolean | 'auto';

/** Weights of up to this share of the available memory are read in by 'auto'. */
const AUTO_SHARE = 0.5;

/** The kernel's transparent huge page mode ('always', 'madvise' or 'never'), or null off Linux / unknown. */
function hugePageMode(): string | null {
  try {
    const m = /\[(\w+)\]/.exec(readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'));
    return m ? m[1]! : null;
  } catch {
    return null;
  }
}

/** Available memory in bytes (MemAvailable on Linux: free plus reclaimable page cache). */
function availableBytes(): number {
  try {
    const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return freemem();
}

/**
 * true: read the files into memory; false: map them. `mmap` true maps, false reads in, 'auto' (the default)
 * reads in for the CPU when the kernel grants huge pages to programs that ask (THP 'always' or 'madvise')
 * and the files are at most half the available memory; a GPU uploads the weights, so it maps.
 */
export function residentWeights(mmap: unknown, device: string, files: ReadonlyArray<string | object>): boolean {
  if (mmap === undefined || mmap === 'auto') {
    if (device !== 'cpu') return false;
    const mode = hugePageMode();
    if (mode !== 'always' && mode !== 'madvise') return false;
    let bytes = 0;
    for (const f of files) if (typeof f === 'string') bytes += statSync(f).size;
    return bytes <= AUTO_SHARE * availableBytes();
  }
  if (typeof mmap !== 'boolean')
    throw new InvalidArgumentError('INVALID_OPTION', `option 'mmap' must be true, false or 'auto' (got ${JSON.stringify(mmap)})`, { field: 'mmap' });
  return !mmap;
}
