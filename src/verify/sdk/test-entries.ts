import { createVerifier as createNodeVerifier } from './index.js';
import { createVerifier as createWebVerifier } from './web.js';
import type { CreateVerifier } from './verifier.js';

/**
 * Both entry points of tessera/verify, for the behaviour suites to run against each: node:crypto
 * (the `node` condition) and Web Crypto (`default`: Deno, Bun, edge runtimes), under Node here.
 */
export const sdkEntries: readonly { entry: 'node' | 'web'; createVerifier: CreateVerifier }[] = [
  { entry: 'node', createVerifier: createNodeVerifier },
  { entry: 'web', createVerifier: createWebVerifier },
];
