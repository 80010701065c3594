import type { AuditQueue } from '../audit/store.js';
import type { Clock } from '../clock.js';
import type { SigningAlg } from '../config/schema.js';
import { AuthError } from '../errors/auth-error.js';
import type { EventBus, EventContext } from '../events/bus.js';
import type { Transactional } from '../store/unit-of-work.js';
import { generateSigningKey } from './generate.js';
import { sealSigningKey } from './integrity.js';
import type { KeyRing } from './key-ring.js';
import { keyStateAt, publishBeforeSignMs, type KeyState } from './schedule.js';
import type { Sealer } from './sealer.js';
import type { SigningKeyRecord } from './signing-key.js';
import type { SigningKeyStore } from './store.js';

/** A signing key as an admin sees it: its schedule, never private material. */
export interface KeyView {
  kid: string;
  alg: SigningAlg;
  state: KeyState;
  createdAt: Date;
  /** Signs from then. */
  activatesAt: Date;
  /** Stops signing then; null while no successor is scheduled. */
  retiresAt: Date | null;
  /** Leaves JWKS then; null while it signs or will. */
  publishedUntil: Date | null;
}

export interface KeyRotationOptions {
  stores: Transactional<{ signingKeys: SigningKeyStore; audit: AuditQueue }>;
  keyRing: KeyRing;
  events: EventBus;
  sealer: Sealer;
  /** TESSERA_SIGNING_ALG: the algorithm of new keys. */
  alg: SigningAlg;
  clock: Clock;
  /** How long a retired key stays published: the longest lifetime of a token it signed (with leeway). */
  retiredKeyGraceMs: number;
  /** TESSERA_KEY_ROTATION. */
  rotationIntervalMs: number;
  /** From a rotation to its key's first signature (default keys/schedule.ts). */
  publishBeforeSignMs?: number;
}

export interface KeyRotation {
  /** The stored keys, newest first, with their state now. */
  list(): Promise<KeyView[]>;
  /**
   * Publishes a new key that signs once every verifier can have fetched it; the current key signs
   * until then and stays published until its last token expires. 409 `conflict` while a rotated
   * key still waits to sign. Audited as `key.rotated` with `by`.
   */
  rotate(by: string, context?: EventContext): Promise<KeyView>;
  /**
   * Rotates when the newest key activated at least TESSERA_KEY_ROTATION ago (audited as `system`).
   * Of instances sharing the database, exactly one rotates; true on that one.
   */
  rotateIfDue(): Promise<boolean>;
}

const listLimit = 100;

export function keyViewOf(record: SigningKeyRecord, now: number): KeyView {
  return {
    kid: record.kid,
    alg: record.alg,
    state: keyStateAt(record, now),
    createdAt: record.createdAt,
    activatesAt: record.activatedAt ?? record.createdAt,
    retiresAt: record.retiredAt,
    publishedUntil: record.publishUntil,
  };
}

export function createKeyRotation(options: KeyRotationOptions): KeyRotation {
  const { stores, keyRing, events, sealer, alg, clock, retiredKeyGraceMs, rotationIntervalMs } = options;
  const delayMs = options.publishBeforeSignMs ?? publishBeforeSignMs;

  /** One rotation; undefined when another (or a waiting key, or one not yet due) won. */
  async function rotateOnce(by: string, unlessActivatedAfter: Date | undefined, context?: EventContext): Promise<SigningKeyRecord | undefined> {
    const generated = await generateSigningKey(alg);
    const now = clock.now();
    const activatesAt = new Date(now + delayMs);
    const record: SigningKeyRecord = {
      kid: generated.kid,
      alg,
      publicJwk: generated.publicJwk,
      privateKeySealed: sealSigningKey(sealer, generated.privateKey, { kid: generated.kid, alg, publicJwk: generated.publicJwk }),
      status: 'next',
      createdAt: new Date(now),
      activatedAt: activatesAt,
      retiredAt: null,
      publishUntil: null,
    };
    const inserted = await stores.transaction(async (tx) => {
      // A key whose time came may still be stored as `next`: settle first, or it would block this one.
      await tx.signingKeys.settle(new Date(now));
      if (!(await tx.signingKeys.insertNext(record, unlessActivatedAfter))) return false;
      const previous = (await tx.signingKeys.listPublished(new Date(now))).find((key) => key.status === 'active');
      if (previous) await tx.signingKeys.scheduleRetirement(previous.kid, activatesAt, new Date(activatesAt.getTime() + retiredKeyGraceMs));
      await events.emitIn(tx, 'key.rotated', { kid: record.kid, alg, previousKid: previous?.kid ?? null, activatesAt: activatesAt.getTime(), by }, context);
      return true;
    });
    // Published by this instance at once; the others within one reload.
    await keyRing.reload();
    return inserted ? record : undefined;
  }

  return {
    async list() {
      const now = clock.now();
      return (await stores.signingKeys.listAll(listLimit)).map((record) => keyViewOf(record, now));
    },

    async rotate(by, context) {
      const rotated = await rotateOnce(by, undefined, context);
      if (!rotated) {
        throw new AuthError('conflict', { description: 'A rotated key is still waiting to sign; rotate again once it is active.' });
      }
      return keyViewOf(rotated, clock.now());
    },

    async rotateIfDue() {
      const now = clock.now();
      const newest = Math.max(...keyRing.schedule().map((key) => key.from));
      // Checked in memory first: a due rotation is rare, a database transaction every tick is not.
      if (newest + rotationIntervalMs > now) return false;
      return (await rotateOnce('system', new Date(now - rotationIntervalMs))) !== undefined;
    },
  };
}
