/** The package's root folder (where package.json, build/ and prebuilds/ are). The CommonJS build
 * (scripts/build-cjs.mjs) swaps this file for one that uses __dirname. */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const packageRoot: string = join(dirname(fileURLToPath(import.meta.url)), '..');
