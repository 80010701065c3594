import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { hash as argon2Hash, verify as argon2Verify, type Algorithm } from '@node-rs/argon2';
import { verify as bcryptVerify } from '@node-rs/bcrypt';
import { formatWrapped, hashHead, kindOf, legacyDigest, parseWrapped, type HashKind, type LegacyHash } from './legacy-hashes.js';

/**
 * OWASP Password Storage Cheat Sheet: argon2id, m = 19 MiB, t = 2, p = 1.
 * @node-rs/argon2 runs the hash on the libuv thread pool, off the event loop.
 */
export const argon2Params = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

const argon2Prefix = `$argon2id$v=19$m=${argon2Params.memoryCost},t=${argon2Params.timeCost},p=${argon2Params.parallelism}$`;
const bcryptPattern = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;

/** bcrypt reads only this many bytes of a password; the rest never changes its result. */
const bcryptPasswordBytes = 72;

/**
 * Whether a successful verification of `password` against `hash` proves the password itself, or
 * only its first 72 bytes (a bcrypt hash, wrapped or not, and a longer password). Rehashing in the
 * second case would make the typed password, tail and all, the only one that works from then on:
 * a user who mistyped after byte 72 would be locked out of the password they set.
 */
export function provesWholePassword(hash: string, password: string): boolean {
  const bcrypt = hash.startsWith('$2') || hash.startsWith('$tessera-wrap$bcrypt$');
  return !bcrypt || Buffer.byteLength(password, 'utf8') <= bcryptPasswordBytes;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /**
   * True when `password` matches `hash` (argon2id, a wrapped imported hash, or a bcrypt hash
   * stored as it is). Once other kinds than current argon2id are stored, every verification
   * lasts at least as long as the costliest of them (docs/adr/011).
   */
  verify(hash: string, password: string): Promise<boolean>;
  /**
   * Spends the same time as verifying a real argon2id hash (padded like `verify`) and returns
   * false, so an unknown user is indistinguishable from a wrong password.
   */
  verifyDummy(password: string): Promise<false>;
  /**
   * `verify` without the padding, for checks that tell nothing about which accounts exist: the
   * password history of a signed-in user (policy.ts), where padding each of the last five
   * hashes would only multiply the wait.
   */
  verifyUnpadded(hash: string, password: string): Promise<boolean>;
  /** True for hashes that are not argon2id with the current parameters (wrapped imports, bcrypt, older costs). */
  needsRehash(hash: string): boolean;
  /** Prepares the dummy hash, so even the first unknown-user sign-in costs what the others do. */
  warmUp(): Promise<void>;
}

/**
 * The hasher with what imports need (docs/adr/011): wrapping a legacy digest, and learning which
 * kinds of hashes are stored, so that every verification is padded to the costliest of them.
 */
export interface ImportingPasswordHasher extends PasswordHasher {
  /** The stored form of an imported legacy hash: its digest under argon2id (on the gate). */
  wrap(legacy: LegacyHash): Promise<string>;
  /**
   * Heads of stored hashes (legacy-hashes.ts `hashHead`) from the database, at start-up and
   * after an import: the costliest kind of each family is timed once (on a random password),
   * and from then on every verification lasts at least that long. Resolves once the padding
   * covers them.
   */
  noteStoredHashes(heads: Iterable<string>): Promise<void>;
  /** The padding floor in ms: 0 while only current argon2id hashes are known (tests, metrics). */
  paddingFloorMs(): number;
}

/** Margin over the measured cost: padded verifications must end after the slowest unpadded one. */
const floorMargin = 1.25;
const floorSlackMs = 3;
/**
 * Under load every verification slows down, and not every kind alike (bcrypt is CPU-bound,
 * argon2id memory-bound): each measured cost is scaled by the median slowdown of the last
 * verifications of its family (the native one's when the family has none yet), so a sustained
 * load cannot lift a wrapped verification past the floor, while one stray spike moves nothing.
 * A verification's own time never sets its own padding, only later ones', through a median.
 * Each slowdown is capped at this factor.
 */
const loadCap = 3;
const loadWindow = 15;
/**
 * A family's own slowdown counts once it has this many recent samples; before, the native
 * family's (sampled at every sign-in) stands in. The costliest kind is verified rarely (a
 * successful sign-in rehashes it): one sample taken during a load burst must not pin its floor.
 */
const loadSamplesNeeded = 8;

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

export function createPasswordHasher(settings: { concurrency?: number } = {}): ImportingPasswordHasher {
  const gated = createGate(settings.concurrency ?? availableParallelism());
  // Algorithm.Argon2id; the package exports it as an ambient const enum.
  const options = { algorithm: 2 as Algorithm, ...argon2Params };
  let dummy: Promise<string> | undefined;
  const dummyHash = () => (dummy ??= argon2Hash(randomBytes(32).toString('base64url'), options));
  const nativeHead = hashHead(argon2Prefix + 'x')!;

  /** Heads seen (from the database or at a verification), and the costliest measured kind of each family. */
  const seen = new Set<string>([nativeHead]);
  const measured = new Map<HashKind['family'], { estimate: number; ms: number }>();
  let nativeMs: number | undefined;
  let baseFloorMs = 0;
  let floorMs = 0;
  /** Per family, the latest verifications' time over the family's measured cost, oldest first. */
  const loads = new Map<HashKind['family'] | 'native', number[]>();
  let learning: Promise<void> = Promise.resolve();

  /**
   * One verification of `stored`, unpadded; false for a hash it does not know, or whose cost is
   * beyond what an import accepts (a stored bcrypt at cost 31 would run for hours): kindOf
   * bounds every kind but current argon2id.
   */
  async function verifyStored(stored: string, password: string): Promise<boolean> {
    if (stored.startsWith(argon2Prefix)) return argon2Verify(stored, password);
    const head = hashHead(stored);
    if (head === undefined || kindOf(head) === undefined) return false;
    if (stored.startsWith('$argon2id$')) return argon2Verify(stored, password);
    const wrapped = parseWrapped(stored);
    if (wrapped) return argon2Verify(wrapped.inner, await legacyDigest(wrapped.legacy, password));
    if (bcryptPattern.test(stored)) return bcryptVerify(password, stored);
    return false;
  }

  const medianOf = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

  /** The floor: every measured cost scaled by its family's recent slowdown, with the margin. */
  function recomputeFloor(): void {
    if (baseFloorMs === 0 || nativeMs === undefined) return;
    const slowdown = (family: HashKind['family'] | 'native') => {
      const own = loads.get(family);
      const recent = own && own.length >= loadSamplesNeeded ? own : loads.get('native');
      return recent && recent.length > 0 ? Math.min(loadCap, Math.max(1, medianOf(recent))) : 1;
    };
    const costs = [nativeMs * slowdown('native'), ...[...measured].map(([family, entry]) => entry.ms * slowdown(family))];
    floorMs = Math.max(baseFloorMs, Math.max(...costs) * floorMargin + floorSlackMs);
  }

  /** The family whose slowdown a verification of `head` tells: only the kind that was timed (its costliest). */
  function timedFamily(head: string | undefined): HashKind['family'] | 'native' | undefined {
    if (head === undefined) return undefined;
    if (head === nativeHead) return 'native';
    const kind = kindOf(head);
    return kind && measured.get(kind.family)?.estimate === kind.estimate ? kind.family : undefined;
  }

  function noteLoad(spent: number, family: HashKind['family'] | 'native' | undefined): void {
    const expected = family === 'native' ? nativeMs : family === undefined ? undefined : measured.get(family)?.ms;
    if (baseFloorMs === 0 || expected === undefined || expected <= 0) return;
    const recent = loads.get(family!) ?? [];
    recent.push(spent / expected);
    if (recent.length > loadWindow) recent.shift();
    loads.set(family!, recent);
    recomputeFloor();
  }

  /**
   * Runs one verification on the gate and pads it to the floor, sleeping while it still holds
   * its slot: every verification occupies a slot for the same time, so the wait of the next one
   * in the queue says nothing about the kind before it (a wrapped verification works longer; had
   * it let go of its slot before sleeping, a probe queued behind it would wait longer). The price:
   * while imported hashes are stored, sign-ins run at most `concurrency` per floor.
   */
  function padded(work: () => Promise<boolean>, family: HashKind['family'] | 'native' | undefined): Promise<boolean> {
    return gated(async () => {
      const started = performance.now();
      let ok = false;
      try {
        ok = await work();
      } catch {
        // A corrupt stored hash is a failed verification, never a 500.
      }
      const spent = performance.now() - started;
      // The floor as it was before this verification: its own time never sets its own padding.
      const remaining = floorMs - spent;
      noteLoad(spent, family);
      if (remaining > 0) await sleep(remaining);
      return ok;
    });
  }

  async function timeVerification(stored: string): Promise<number> {
    const password = randomBytes(18).toString('base64url');
    // Twice, keeping the faster: the first may pay for loading code or memory.
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 2; i += 1) {
      const spent = await gated(async () => {
        const started = performance.now();
        await verifyStored(stored, password).catch(() => false);
        return performance.now() - started;
      });
      best = Math.min(best, spent);
    }
    return best;
  }

  async function learn(heads: Iterable<string>): Promise<void> {
    // Within a family the cost grows with the estimate: only the costliest head of each needs timing.
    const costliest = new Map<HashKind['family'], HashKind>();
    const fresh: string[] = [];
    for (const head of heads) {
      if (seen.has(head)) continue;
      fresh.push(head);
      const kind = kindOf(head);
      if (!kind) continue;
      const known = costliest.get(kind.family)?.estimate ?? measured.get(kind.family)?.estimate ?? 0;
      if (kind.estimate > known) costliest.set(kind.family, kind);
    }
    // Seen only once measured: a measurement that fails is tried again at the next sight.
    if (costliest.size === 0) {
      for (const head of fresh) seen.add(head);
      return;
    }
    nativeMs ??= await timeVerification(await dummyHash());
    const argon2 = (input: string, params?: { m: number; t: number; p: number }) =>
      argon2Hash(input, params ? { algorithm: options.algorithm, memoryCost: params.m, timeCost: params.t, parallelism: params.p } : options);
    for (const kind of costliest.values()) {
      const sample = await gated(() => kind.sample(randomBytes(18).toString('base64url'), argon2));
      measured.set(kind.family, { estimate: kind.estimate, ms: await timeVerification(sample) });
    }
    const slowest = Math.max(nativeMs, ...[...measured.values()].map((entry) => entry.ms));
    baseFloorMs = Math.max(baseFloorMs, slowest * floorMargin + floorSlackMs);
    recomputeFloor();
    for (const head of fresh) seen.add(head);
  }

  function noteStoredHashes(heads: Iterable<string>): Promise<void> {
    const list = [...heads];
    // One learning at a time, so two callers never time the same kind at once.
    learning = learning.catch(() => undefined).then(() => learn(list));
    return learning;
  }

  return {
    hash: (password) => gated(() => argon2Hash(password, options)),

    async verify(hash, password) {
      // A kind no one told this instance about (an import through another instance or the CLI):
      // it is timed now, and pads every verification from then on.
      const head = hashHead(hash);
      if (head !== undefined && !seen.has(head)) void noteStoredHashes([head]).catch(() => undefined);
      return padded(() => verifyStored(hash, password), timedFamily(head));
    },

    async verifyDummy(password) {
      const dummyStored = await dummyHash();
      await padded(() => argon2Verify(dummyStored, password), 'native');
      return false;
    },

    async verifyUnpadded(hash, password) {
      try {
        return await gated(() => verifyStored(hash, password));
      } catch {
        return false;
      }
    },

    async warmUp() {
      await dummyHash();
    },

    needsRehash: (hash) => !hash.startsWith(argon2Prefix),

    async wrap(legacy) {
      return formatWrapped(legacy, await gated(() => argon2Hash(legacy.digest, options)));
    },

    noteStoredHashes,

    paddingFloorMs: () => floorMs,
  };
}
