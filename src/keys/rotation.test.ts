import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { ManualClock } from '../clock.js';
import { sqlStores } from '../store/sql/sql-stores.js';
import { testSecret } from '../test-support/config.js';
import { startTestApp, startTwoInstances, type TestApp } from '../test-support/app.js';
import { testBackends } from '../test-support/databases.js';
import { day, minute } from '../test-support/fixtures.js';
import { get } from '../test-support/tokens.js';
import { KeyRing } from './key-ring.js';
import { keyReloadIntervalMs, publishBeforeSignMs } from './schedule.js';
import { createSealer } from './sealer.js';

/*
 * Publish before sign, over a year of automatic rotations (TESSERA_KEY_ROTATION, default 90 d) on
 * two instances sharing one database, with the fake clock: verifiers that cache the JWKS for its
 * max-age (and never refetch early) verify every token issued along the way. None ever meets an
 * unknown kid, every token verifies until it expires, retired keys leave JWKS after, and the two
 * instances always sign with the same key. Also: concurrent rotations make exactly one key.
 */

const subject = { userId: '00000000-0000-4000-8000-000000000001', sessionId: '00000000-0000-4000-8000-000000000002', username: 'sim', roles: [], permissions: [], amr: ['pwd'], tenant: null };

/** What app/background.ts does on each key tick. */
async function tick(t: TestApp): Promise<boolean> {
  await t.tessera.keyRing.reload();
  return t.tessera.keyRotation.rotateIfDue();
}

/** Deterministic steps (a linear congruential generator with a fixed seed). */
function random(seed: number): (min: number, max: number) => number {
  let state = seed;
  return (min, max) => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return min + (state % (max - min + 1));
  };
}

/** A verifier that honours `Cache-Control: max-age`: it refetches only once its copy has expired. */
interface Verifier {
  startsAt: number;
  expiresAt: number;
  kids: Set<string>;
  keys: ReturnType<typeof createLocalJWKSet> | undefined;
}

async function jwksOf(t: TestApp): Promise<{ jwks: JSONWebKeySet; maxAgeMs: number }> {
  const response = await get(t, '/.well-known/jwks.json');
  assert.equal(response.statusCode, 200);
  const maxAge = /max-age=(\d+)/.exec(String(response.headers['cache-control']))?.[1];
  assert.ok(maxAge !== undefined, 'JWKS carries a max-age');
  return { jwks: response.json() as JSONWebKeySet, maxAgeMs: Number(maxAge) * 1000 };
}

for (const backend of testBackends()) {
  describe(`signing-key rotation, publish before sign (${backend.name})`, () => {
    it('over a year of automatic rotations on two instances, no verifier caching JWKS for max-age meets an unknown kid', async () => {
      const start = Date.UTC(2031, 0, 1);
      const end = start + 365 * day;
      const clock = new ManualClock(start);
      const { a, b, close } = await startTwoInstances(backend, { clock });
      try {
        const instances = [a, b];
        const intervalMs = a.config.keyRotationMs;
        assert.equal(intervalMs, 90 * day, 'the default TESSERA_KEY_ROTATION');
        const graceMs = a.config.accessTtlMs + minute;
        const { maxAgeMs } = await jwksOf(a);
        assert.ok(publishBeforeSignMs >= maxAgeMs + keyReloadIntervalMs, 'a key signs only after every cache can hold it');
        const next = random(12);
        // Each instance ticks every keyReloadIntervalMs, at its own phase.
        const nextTick = [start + keyReloadIntervalMs, start + keyReloadIntervalMs + 37_000];
        const verifiers: Verifier[] = [0, 101_000, 233_000].map((offset) => ({ startsAt: start + offset, expiresAt: 0, kids: new Set(), keys: undefined }));
        const live: Array<{ token: string; kid: string; exp: number; lastVerified: number }> = [];
        const retiredTokens: Array<{ kid: string; exp: number; lastVerified: number }> = [];
        const activation = new Map<string, number>();
        let issued = 0;
        let verifications = 0;
        let fetches = 0;
        let fetchFrom = 0;
        let rotations = 0;
        let now = start;

        while (now < end) {
          const schedule = a.tessera.keyRing.schedule();
          const newest = Math.max(...schedule.map((key) => key.from));
          for (const key of schedule) activation.set(key.kid, key.from);
          // Quiet between rotations: nothing changes in the store, so the ticks there are skipped.
          const busy = now >= newest + intervalMs - 15 * minute || now < newest + graceMs + 5 * minute;
          let target: number;
          if (busy) {
            target = Math.min(now + next(5_000, 50_000), ...nextTick);
          } else {
            // A day or two at a time: every step signs, fetches and verifies, and the year must stay quick.
            target = Math.max(now + minute, Math.min(now + next(24, 48) * 60 * minute, newest + intervalMs - 15 * minute - next(0, 20) * minute));
            for (const [index] of nextTick.entries()) while (nextTick[index]! <= target) nextTick[index]! += keyReloadIntervalMs;
          }
          now = Math.max(target, now + 1);
          clock.set(now);
          for (const [index, instance] of instances.entries()) {
            if (nextTick[index] !== now) continue;
            if (await tick(instance)) rotations += 1;
            nextTick[index] = now + keyReloadIntervalMs;
          }
          // Both instances sign with the same key, at every moment.
          assert.equal(a.tessera.keyRing.signingKey.kid, b.tessera.keyRing.signingKey.kid, `instances disagree at ${new Date(now).toISOString()}`);

          const signer = instances[issued % 2]!;
          const { token, claims } = await signer.tessera.tokens.issue(subject);
          const kid = decodeProtectedHeader(token).kid!;
          issued += 1;
          const from = activation.get(kid) ?? (signer.tessera.keyRing.schedule().find((key) => key.kid === kid)?.from as number);
          assert.ok(from <= now, `key ${kid} signed before its activation`);
          live.push({ token, kid, exp: claims.exp * 1000, lastVerified: 0 });

          for (const verifier of verifiers) {
            if (now < verifier.startsAt) continue;
            if (now >= verifier.expiresAt) {
              const { jwks, maxAgeMs: age } = await jwksOf(instances[fetchFrom++ % 2]!);
              verifier.keys = createLocalJWKSet(jwks);
              verifier.kids = new Set(jwks.keys.map((key) => key.kid!));
              verifier.expiresAt = now + age;
              fetches += 1;
            }
            for (const held of live) {
              if (held.exp <= now) continue;
              assert.ok(verifier.kids.has(held.kid), `unknown kid ${held.kid} at ${new Date(now).toISOString()} (cached until ${new Date(verifier.expiresAt).toISOString()})`);
              // The kid at every step; the full check when the token is new and in its last minute.
              if (held.lastVerified !== 0 && held.exp - now > minute) continue;
              await jwtVerify(held.token, verifier.keys!, { currentDate: new Date(now), clockTolerance: 30 });
              held.lastVerified = now;
              verifications += 1;
            }
          }
          for (let index = live.length - 1; index >= 0; index -= 1) {
            const held = live[index]!;
            if (held.exp > now) continue;
            live.splice(index, 1);
            if (held.kid !== a.tessera.keyRing.signingKey.kid) retiredTokens.push(held);
          }

          // A retired key leaves JWKS once its last token expired (and every instance reloaded).
          const listed = await a.tessera.keyRotation.list();
          for (const instance of instances) {
            const kids = instance.tessera.keyRing.jwks().keys.map((key) => key.kid);
            assert.ok(kids.length <= 3, `JWKS holds ${kids.length} keys`);
            for (const key of listed) {
              if (key.publishedUntil !== null && key.publishedUntil.getTime() + keyReloadIntervalMs < now) {
                assert.ok(!kids.includes(key.kid), `retired key ${key.kid} still published at ${new Date(now).toISOString()}`);
              }
            }
          }
        }

        const keys = await a.tessera.keyRotation.list();
        assert.equal(rotations, 4, 'every 90 days: four rotations in a year');
        assert.equal(keys.length, 5);
        assert.deepEqual(keys.map((key) => key.state), ['active', 'retired', 'retired', 'retired', 'retired']);
        for (const [index, key] of keys.slice(1).entries()) {
          const successor = keys[index]!;
          assert.equal(key.retiresAt?.getTime(), successor.activatesAt.getTime(), 'each key signs until its successor does');
          assert.equal(successor.activatesAt.getTime() - successor.createdAt.getTime(), publishBeforeSignMs, 'published before it signs');
          assert.equal(key.publishedUntil?.getTime(), key.retiresAt!.getTime() + graceMs, 'published until its last token expired');
        }
        // Tokens of a retired key were still checked close to their expiry, and verified then.
        assert.ok(retiredTokens.length > 20, `${retiredTokens.length} tokens of retired keys`);
        assert.ok(retiredTokens.filter((held) => held.exp - held.lastVerified <= minute).length > 20, 'old tokens verified until they expire');
        assert.ok(issued > 300 && verifications > issued && fetches > 100, `${issued} issued, ${verifications} verifications, ${fetches} fetches`);
        await a.tessera.auditChain.flush();
        await b.tessera.auditChain.flush();
        const records = await a.stores.audit.list({ type: 'key.rotated' }, { limit: 50 });
        assert.equal(records.length, 4);
        assert.ok(records.every((record) => record.details.by === 'system' && record.userId === null));
        assert.deepEqual(new Set(records.map((record) => record.details.kid)), new Set(keys.slice(0, 4).map((key) => key.kid)));
      } finally {
        await close();
      }
    });

    for (const waiting of [true, false]) {
      it(`a change of TESSERA_SIGNING_ALG after a rotation ${waiting ? 'whose key still waits' : 'whose key signs (its row still says next)'} starts the new alg's key and retires the others`, async () => {
        const clock = new ManualClock(Date.UTC(2031, 0, 1));
        const t = await startTestApp(backend, { clock });
        try {
          const rotated = await t.tessera.keyRotation.rotate('cli');
          clock.set(waiting ? rotated.createdAt.getTime() + 1000 : rotated.activatesAt);
          const ring = await KeyRing.open({ stores: sqlStores(t.db), sealer: createSealer(testSecret, 'signing-keys'), alg: 'ES256', clock, retiredKeyGraceMs: t.config.accessTtlMs + minute });
          assert.equal(ring.signingKey.alg, 'ES256');
          clock.advance(publishBeforeSignMs + minute);
          assert.equal(ring.signingKey.alg, 'ES256', 'the waiting key of the old alg never starts');
          const states = (await t.tessera.keyRotation.list()).map((key) => [key.alg, key.state]);
          assert.deepEqual(states, [['ES256', 'active'], [rotated.alg, 'retired'], [rotated.alg, 'retired']]);
          assert.equal(ring.jwks().keys.length, 3, 'the old keys stay published until their tokens expire');
        } finally {
          await t.close();
        }
      });
    }

    it('of two instances rotating at once, exactly one makes a new key', async () => {
      const clock = new ManualClock(Date.UTC(2031, 0, 1));
      const { a, b, close } = await startTwoInstances(backend, { clock });
      try {
        const before = (await a.tessera.keyRotation.list()).length;
        assert.deepEqual(await Promise.all([a.tessera.keyRotation.rotateIfDue(), b.tessera.keyRotation.rotateIfDue()]), [false, false], 'not due');
        clock.advance(a.config.keyRotationMs);
        const due = await Promise.all([a.tessera.keyRotation.rotateIfDue(), b.tessera.keyRotation.rotateIfDue(), a.tessera.keyRotation.rotateIfDue()]);
        assert.equal(due.filter(Boolean).length, 1, `one winner: ${due.join(', ')}`);
        assert.equal((await a.tessera.keyRotation.list()).length, before + 1);
        await b.tessera.keyRing.reload();
        assert.deepEqual(a.tessera.keyRing.schedule(), b.tessera.keyRing.schedule(), 'both see the same schedule');

        // A manual rotation while that key waits to sign: 409 on both, nothing added.
        const manual = await Promise.allSettled([a.tessera.keyRotation.rotate('cli'), b.tessera.keyRotation.rotate('cli')]);
        assert.ok(manual.every((outcome) => outcome.status === 'rejected' && (outcome.reason as { code?: string }).code === 'conflict'));
        assert.equal((await a.tessera.keyRotation.list()).length, before + 1);

        // Once it signs, two manual rotations at once: one key, one 409.
        clock.advance(publishBeforeSignMs);
        const again = await Promise.allSettled([a.tessera.keyRotation.rotate('cli'), b.tessera.keyRotation.rotate('cli')]);
        assert.equal(again.filter((outcome) => outcome.status === 'fulfilled').length, 1);
        assert.equal((await a.tessera.keyRotation.list()).length, before + 2);
        await a.tessera.auditChain.flush();
        await b.tessera.auditChain.flush();
        assert.equal((await a.stores.audit.list({ type: 'key.rotated' }, { limit: 10 })).length, 2);
      } finally {
        await close();
      }
    });
  });
}
