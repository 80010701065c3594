import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { SigningAlg } from '../config/schema.js';
import type { StoreSet } from '../store/stores.js';
import { generateSigningKey } from './generate.js';
import type { Sealer } from './sealer.js';
import type { PublicJwk, SigningKeyRecord } from './signing-key.js';

export interface SigningKey {
  kid: string;
  alg: SigningAlg;
  privateKey: KeyObject;
}

export interface VerificationKey {
  kid: string;
  alg: SigningAlg;
  publicKey: KeyObject;
}

export interface KeyRingOptions {
  stores: StoreSet;
  /** Seals private keys at rest (purpose "signing-keys"). */
  sealer: Sealer;
  alg: SigningAlg;
  clock: Clock;
  /** How long a retired key stays published: the longest lifetime of a token it signed. */
  retiredKeyGraceMs: number;
}

export class KeyDecryptionError extends Error {
  constructor(kid: string) {
    super(`signing key ${kid} cannot be decrypted with TESSERA_SECRET (was the secret changed?)`);
    this.name = 'KeyDecryptionError';
  }
}

/**
 * The signing keys in memory: the active private key (decrypted once) and the public key of every
 * published key, looked up by kid. Only keys from our own store are ever used to verify.
 */
export class KeyRing {
  #options: KeyRingOptions;
  #active: SigningKey | undefined;
  #activeCreatedAt: Date | undefined;
  #verification = new Map<string, VerificationKey>();
  #published: PublicJwk[] = [];

  private constructor(options: KeyRingOptions) {
    this.#options = options;
  }

  /** Loads the keys, generating the first one (or one of a newly configured alg) if needed. */
  static async open(options: KeyRingOptions): Promise<KeyRing> {
    const ring = new KeyRing(options);
    await ring.#ensureActive();
    return ring;
  }

  get signingKey(): SigningKey {
    if (!this.#active) throw new Error('key ring has no active key');
    return this.#active;
  }

  /** When the active signing key was created (its age is a metric); undefined before the first load. */
  get activeKeyCreatedAt(): Date | undefined {
    return this.#activeCreatedAt;
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
    this.#load(records);
  }

  async #ensureActive(): Promise<void> {
    const { stores, alg, clock, retiredKeyGraceMs } = this.#options;
    for (let attempt = 0; attempt < 3; attempt += 1) {
      await this.reload();
      if (this.#active?.alg === alg) return;
      const generated = await generateSigningKey(alg);
      const now = new Date(clock.now());
      const record: SigningKeyRecord = {
        kid: generated.kid,
        alg,
        publicJwk: generated.publicJwk,
        privateKeySealed: this.#options.sealer.seal(
          generated.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
          generated.kid,
        ),
        status: 'active',
        createdAt: now,
        activatedAt: now,
        retiredAt: null,
        publishUntil: null,
      };
      const previous = this.#active;
      await stores.transaction(async (tx) => {
        // The configured algorithm changed: the old key stops signing but stays published.
        if (previous) await tx.signingKeys.retire(previous.kid, now, new Date(now.getTime() + retiredKeyGraceMs));
        await tx.signingKeys.insertActiveIfNone(record);
      });
    }
    await this.reload();
    if (!this.#active) throw new Error('could not establish an active signing key');
  }

  #load(records: SigningKeyRecord[]): void {
    const verification = new Map<string, VerificationKey>();
    let active: SigningKey | undefined;
    let activeCreatedAt: Date | undefined;
    for (const record of records) {
      verification.set(record.kid, {
        kid: record.kid,
        alg: record.alg,
        publicKey: createPublicKey({ key: { ...record.publicJwk }, format: 'jwk' }),
      });
      if (record.status === 'active') {
        active =
          this.#active?.kid === record.kid
            ? this.#active
            : { kid: record.kid, alg: record.alg, privateKey: this.#openPrivateKey(record) };
        activeCreatedAt = record.createdAt;
      }
    }
    this.#verification = verification;
    this.#published = records.map((record) => record.publicJwk);
    this.#active = active;
    this.#activeCreatedAt = activeCreatedAt;
  }

  #openPrivateKey(record: SigningKeyRecord): KeyObject {
    let pem: string;
    try {
      pem = this.#options.sealer.open(record.privateKeySealed, record.kid);
    } catch {
      throw new KeyDecryptionError(record.kid);
    }
    return createPrivateKey(pem);
  }
}
