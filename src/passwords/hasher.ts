import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { hash as argon2Hash, verify as argon2Verify, type Algorithm } from '@node-rs/argon2';
import { verify as bcryptVerify } from '@node-rs/bcrypt';

/**
 * OWASP Password Storage Cheat Sheet: argon2id, m = 19 MiB, t = 2, p = 1.
 * @node-rs/argon2 runs the hash on the libuv thread pool, off the event loop.
 */
export const argon2Params = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

const argon2Prefix = `$argon2id$v=19$m=${argon2Params.memoryCost},t=${argon2Params.timeCost},p=${argon2Params.parallelism}$`;
const bcryptPattern = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** True when `password` matches `hash` (argon2id or an imported bcrypt hash). */
  verify(hash: string, password: string): Promise<boolean>;
  /**
   * Spends the same time as verifying a real argon2id hash and returns false, so an unknown
   * user is indistinguishable from a wrong password.
   */
  verifyDummy(password: string): Promise<false>;
  /** True for hashes that are not argon2id with the current parameters (bcrypt, older costs). */
  needsRehash(hash: string): boolean;
  /** Prepares the dummy hash, so even the first unknown-user sign-in costs what the others do. */
  warmUp(): Promise<void>;
}

/**
 * At most `limit` hashes at once; the rest wait their turn in order. Each hash is a core's worth
 * of memory-hard work: more in flight than cores only adds context switches and cache thrash,
 * and would take every libuv thread from the other work that needs one (signing, file I/O).
 */
function createGate(limit: number) {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async function gated<T>(work: () => Promise<T>): Promise<T> {
    if (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    else running += 1;
    try {
      return await work();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running -= 1;
    }
  };
}

export function createPasswordHasher(settings: { concurrency?: number } = {}): PasswordHasher {
  const gated = createGate(settings.concurrency ?? availableParallelism());
  // Algorithm.Argon2id; the package exports it as an ambient const enum.
  const options = { algorithm: 2 as Algorithm, ...argon2Params };
  let dummy: Promise<string> | undefined;
  const dummyHash = () => (dummy ??= argon2Hash(randomBytes(32).toString('base64url'), options));

  return {
    hash: (password) => gated(() => argon2Hash(password, options)),

    async verify(hash, password) {
      try {
        if (hash.startsWith('$argon2')) return await gated(() => argon2Verify(hash, password));
        if (bcryptPattern.test(hash)) return await gated(() => bcryptVerify(password, hash));
      } catch {
        // A corrupt stored hash is a failed verification, never a 500.
      }
      return false;
    },

    async verifyDummy(password) {
      const dummyStored = await dummyHash();
      await gated(() => argon2Verify(dummyStored, password)).catch(() => false);
      return false;
    },

    async warmUp() {
      await dummyHash();
    },

    needsRehash: (hash) => !hash.startsWith(argon2Prefix),
  };
}
