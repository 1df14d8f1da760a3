// Memory and handle samples for the soak: RSS, V8 heap, external (ArrayBuffers and native allocations
// V8 is told about) after a full GC, and the event loop's active resources.

export function sample(label) {
  globalThis.gc?.();
  globalThis.gc?.();
  const m = process.memoryUsage();
  return { label, rss: m.rss, heap: m.heapUsed, external: m.external, handles: process.getActiveResourcesInfo().length };
}

const mb = (b) => (b / 2 ** 20).toFixed(1).padStart(8);

export function header() {
  return `${'at'.padEnd(22)}  rss MB  heap MB  ext MB  handles`;
}

export function row(s) {
  return `${s.label.padEnd(22)}${mb(s.rss)}${mb(s.heap)}${mb(s.external)}  ${String(s.handles).padStart(7)}`;
}

/**
 * Growth of each measure from the warm-up sample to the largest later one, checked against `bounds`
 * ({ rss, heap, external } in bytes, handles in count). Returns the failures as strings.
 */
export function checkGrowth(samples, warmIndex, bounds) {
  const warm = samples[warmIndex];
  const later = samples.slice(warmIndex + 1);
  const out = [];
  for (const k of ['rss', 'heap', 'external', 'handles']) {
    const grown = Math.max(...later.map((s) => s[k])) - warm[k];
    if (grown > bounds[k]) out.push(`${k} grew by ${k === 'handles' ? grown : `${(grown / 2 ** 20).toFixed(1)} MB`} after warm-up (bound ${k === 'handles' ? bounds[k] : `${bounds[k] / 2 ** 20} MB`})`);
  }
  return out;
}
