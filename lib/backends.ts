/** What this build of smoe can run on. */
import { native, type NativeBackends } from './native.js';

export type Backends = NativeBackends;

/**
 * The compiled-in backends and what is present.
 *
 * @example
 * backends() // { cpu: { compiled: true, simd: 'avx2', ... }, cuda: { compiled: false, devices: [] } }
 */
export function backends(): Backends {
  return native().backends();
}
