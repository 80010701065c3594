import type { KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { SigningAlg } from '../config/schema.js';
import type { Transactional } from '../store/unit-of-work.js';
import { generateSigningKey } from './generate.js';
import { checkSigningKey, sealSigningKey, type KeyCheck } from './integrity.js';
import type { Sealer } from './sealer.js';
import type { SigningKeyStore } from './store.js';
import { createVerificationKey, type VerificationKey as CoreVerificationKey } from '../verify/jws.js';
import type { PublicJwk, SigningKeyRecord, SigningKeyStatus } from './signing-key.js';

export interface SigningKey {
  kid: string;
  alg: SigningAlg;
  privateKey: KeyObject;
}

/** A published key as the verification core takes it (its node:crypto parameters worked out once), with its kid. */
export interface VerificationKey extends CoreVerificationKey {
  readonly kid: string;
  readonly alg: SigningAlg;
}

export interface KeyRingOptions {
  stores: Transactional<{ signingKeys: SigningKeyStore }>;
  /** Seals private keys at rest (purpose "signing-keys"). */
  sealer: Sealer;
  alg: SigningAlg;
  clock: Clock;
  /** How long a retired key stays published: the longest lifetime of a token it signed. */
  retiredKeyGraceMs: number;
  /** Where refused keys are reported. */
  logger?: Logger;
}

export class KeyDecryptionError extends Error {
  constructor(kid: string) {
    // The seal binds the public key: a row edited outside Tessera fails here just like another secret.
    super(`signing key ${kid} cannot be decrypted with TESSERA_SECRET (was the secret changed, or its row edited outside Tessera?)`);
    this.name = 'KeyDecryptionError';
  }
}

/** The active key's row does not hold the key pair it claims: written outside Tessera. */
export class KeyIntegrityError extends Error {
  constructor(kid: string, reason: string) {
    super(`signing key ${kid} does not match its sealed private key (${reason}): the signing_keys table was changed outside Tessera`);
    this.name = 'KeyIntegrityError';
  }
}

/** A key that signs, or will: from its activation until its scheduled retirement. */
export interface ScheduledKey {
  kid: string;
  alg: SigningAlg;
  /** The stored status (a due change may not be written yet: `from` and `until` decide). */
  status: SigningKeyStatus;
  createdAt: Date;
  /** Signs from then (ms since the epoch). */
  from: number;
  /** Stops signing then; null while no successor is scheduled. */
  until: number | null;
}

interface Signer extends ScheduledKey {
  key: SigningKey;
}

/** What a row was checked as; a row is checked again only when its contents change. */
interface Checked {
  contents: string;
  check: KeyCheck;
}

/**
 * The signing keys in memory: the active private key (decrypted once) and the public key of every
 * published key, looked up by kid. Only keys from our own store whose sealed private key opens
 * and matches the published public key are ever published or used to verify.
 */
export class KeyRing {
  #options: KeyRingOptions;
  /** The keys that sign now or later, by activation: every instance picks the same by the clock. */
  #signers: Signer[] = [];
  #verification = new Map<string, VerificationKey>();
  #published: PublicJwk[] = [];
  #checked = new Map<string, Checked>();

  private constructor(options: KeyRingOptions) {
    this.#options = options;
  }

  /** Loads the keys, generating the first one (or one of a newly configured alg) if needed. */
  static async open(options: KeyRingOptions): Promise<KeyRing> {
    const ring = new KeyRing(options);
    await ring.#ensureActive();
    return ring;
  }

  /**
   * The key that signs now: of the loaded keys, the one activated last (publish before sign: a
   * rotation's key activates only once every verifier can have fetched it, keys/schedule.ts).
   * Derived from the stored schedule and the clock, so instances sharing the database agree.
   */
  get signingKey(): SigningKey {
    const signer = this.#signerAt(this.#options.clock.now());
    if (!signer) throw new Error('key ring has no active key');
    return signer.key;
  }

  /** When the signing key was created (its age is a metric); undefined before the first load. */
  get activeKeyCreatedAt(): Date | undefined {
    return this.#signerAt(this.#options.clock.now())?.createdAt;
  }

  /** The loaded keys that sign now or will, by activation (no private material). */
  schedule(): ScheduledKey[] {
    return this.#signers.map(({ key: _key, ...entry }) => ({ ...entry }));
  }

  #signerAt(now: number): Signer | undefined {
    let current: Signer | undefined;
    for (const signer of this.#signers) if (signer.from <= now) current = signer;
    return current ?? this.#signers[0];
  }

  verificationKey(kid: string): VerificationKey | undefined {
    return this.#verification.get(kid);
  }

  /** The JWKS document: public members only. */
  jwks(): { keys: PublicJwk[] } {
    return { keys: this.#published.map((jwk) => ({ ...jwk })) };
  }

  algorithms(): SigningAlg[] {
    return [...new Set(this.#published.map((jwk) => jwk.alg))];
  }

  /** Re-reads the published keys (another instance may have rotated). */
  async reload(): Promise<void> {
    const records = await this.#options.stores.signingKeys.listPublished(new Date(this.#options.clock.now()));
    const checks = records.map((record) => this.#check(record));
    this.#load(records, checks);
    await this.#upgradeSeals(records, checks);
  }

  async #ensureActive(): Promise<void> {
    const { stores, alg, clock, retiredKeyGraceMs } = this.#options;
    for (let attempt = 0; attempt < 3; attempt += 1) {
      await this.reload();
      const current = this.#signerAt(clock.now());
      if (current?.alg === alg) return;
      const generated = await generateSigningKey(alg);
      const now = new Date(clock.now());
      const record: SigningKeyRecord = {
        kid: generated.kid,
        alg,
        publicJwk: generated.publicJwk,
        privateKeySealed: sealSigningKey(this.#options.sealer, generated.privateKey, { kid: generated.kid, alg, publicJwk: generated.publicJwk }),
        status: 'active',
        createdAt: now,
        activatedAt: now,
        retiredAt: null,
        publishUntil: null,
      };
      const previous = this.#signers;
      await stores.transaction(async (tx) => {
        // A rotated key whose time came may still be stored as `next`, its predecessor as `active`.
        await tx.signingKeys.settle(now);
        // The configured algorithm changed: the old keys stop signing (a waiting one never starts)
        // but stay published.
        for (const signer of previous) await tx.signingKeys.retire(signer.kid, now, new Date(now.getTime() + retiredKeyGraceMs));
        await tx.signingKeys.insertActiveIfNone(record);
      });
    }
    await this.reload();
    if (this.#signers.length === 0) throw new Error('could not establish an active signing key');
  }

  /** Checks each row once per distinct contents; a refused row is logged when first seen. */
  #check(record: SigningKeyRecord): KeyCheck {
    const contents = JSON.stringify([record.alg, record.privateKeySealed, record.publicJwk]);
    const known = this.#checked.get(record.kid);
    if (known?.contents === contents) return known.check;
    const check = checkSigningKey(this.#options.sealer, record);
    if (!check.ok) {
      this.#options.logger?.error(
        { kid: record.kid, status: record.status, reason: check.reason },
        'signing key refused: its public key is not backed by its sealed private key (changed outside Tessera?)',
      );
    }
    this.#checked.set(record.kid, { contents, check });
    return check;
  }

  #load(records: SigningKeyRecord[], checks: KeyCheck[]): void {
    const verification = new Map<string, VerificationKey>();
    const published: PublicJwk[] = [];
    const signers: Signer[] = [];
    const now = this.#options.clock.now();
    for (const [index, record] of records.entries()) {
      const check = checks[index]!;
      const signs = record.status !== 'retired' && (record.retiredAt === null || record.retiredAt.getTime() > now);
      if (!check.ok) {
        // A refused key is left out (a planted `next` row included). The active one cannot be:
        // refusing to run (or, on a reload, keeping the keys we had) beats signing with a key whose
        // published half is not ours.
        if (record.status !== 'active') continue;
        if (check.reason === 'unopenable') throw new KeyDecryptionError(record.kid);
        throw new KeyIntegrityError(record.kid, check.reason);
      }
      verification.set(record.kid, { kid: record.kid, ...createVerificationKey(record.alg, check.publicKey), alg: record.alg });
      published.push(record.publicJwk);
      if (signs) {
        const known = this.#signers.find((signer) => signer.kid === record.kid);
        signers.push({
          kid: record.kid,
          alg: record.alg,
          status: record.status,
          createdAt: record.createdAt,
          from: (record.activatedAt ?? record.createdAt).getTime(),
          until: record.retiredAt?.getTime() ?? null,
          key: known?.key ?? { kid: record.kid, alg: record.alg, privateKey: check.privateKey },
        });
      }
    }
    signers.sort((a, b) => a.from - b.from || a.kid.localeCompare(b.kid));
    for (const kid of this.#checked.keys()) if (!records.some((record) => record.kid === kid)) this.#checked.delete(kid);
    this.#verification = verification;
    this.#published = published;
    this.#signers = signers;
  }

  /** Rows sealed before the binding get it; a failure only means the next load tries again. */
  async #upgradeSeals(records: SigningKeyRecord[], checks: KeyCheck[]): Promise<void> {
    for (const [index, record] of records.entries()) {
      const check = checks[index]!;
      if (!check.ok || check.resealed === undefined) continue;
      try {
        await this.#options.stores.signingKeys.reseal(record.kid, record.privateKeySealed, check.resealed);
      } catch (error) {
        this.#options.logger?.warn({ err: error, kid: record.kid }, 'upgrading the seal of a signing key failed');
      }
    }
  }
}
