import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pbkdf2Sync } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { verify as argon2Verify } from '@node-rs/argon2';
import { hash as bcryptHash } from '@node-rs/bcrypt';
import { AuthError } from '../errors/auth-error.js';
import { createPasswordHasher } from './hasher.js';
import { hashHead, legacyDigest, parseImportedHash, parseWrapped, type LegacyHash } from './legacy-hashes.js';
import { assertPasswordInput } from './rules.js';

describe('password hasher', () => {
  const hasher = createPasswordHasher();

  it('hashes with argon2id at the OWASP parameters and verifies', async () => {
    const hash = await hasher.hash('correct horse battery staple');
    assert.match(hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
    assert.equal(await hasher.verify(hash, 'correct horse battery staple'), true);
    assert.equal(await hasher.verify(hash, 'correct horse battery stapler'), false);
    assert.equal(hasher.needsRehash(hash), false);
    assert.notEqual(await hasher.hash('correct horse battery staple'), hash, 'salted');
  });

  it('verifies imported bcrypt hashes ($2a$, $2b$, $2y$) and asks for a rehash', async () => {
    for (const version of ['2a', '2b', '2y'] as const) {
      // Other systems export all three prefixes; for this input they are the same algorithm.
      const hash = (await bcryptHash('imported secret', 4)).replace(/^\$2b\$/, `$${version}$`);
      assert.ok(hash.startsWith(`$${version}$`));
      assert.equal(await hasher.verify(hash, 'imported secret'), true, version);
      assert.equal(await hasher.verify(hash, 'imported secreT'), false, version);
      assert.equal(hasher.needsRehash(hash), true);
    }
  });

  it('asks to rehash argon2 hashes with other parameters', () => {
    assert.equal(hasher.needsRehash('$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2g'), true);
    assert.equal(hasher.needsRehash('$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g'), true);
  });

  it('treats unknown or corrupt stored hashes as a failed verification', async () => {
    for (const stored of ['', 'plaintext', '$argon2id$garbage', '$2b$12$short', '$1$md5$crypt', 'x'.repeat(5000)]) {
      assert.equal(await hasher.verify(stored, 'anything at all'), false, stored.slice(0, 20));
    }
  });

  it('spends a real verification on unknown users', async () => {
    assert.equal(await hasher.verifyDummy('whatever'), false);
    assert.equal(await hasher.verifyDummy('whatever'), false);
  });
});

describe('verification timing with imported hashes (docs/adr/011)', () => {
  const password = 'the timing test password';
  const wrong = 'not the timing test password';
  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const legacyOf = (text: string): LegacyHash => {
    const parsed = parseImportedHash(text);
    assert.ok(parsed?.type === 'legacy', text);
    return parsed.legacy;
  };
  // Cheap legacy parameters keep the file fast; the padding does not depend on them.
  const djangoHash = () => `pbkdf2_sha256$20000$timingsalt$${pbkdf2Sync(password, 'timingsalt', 20_000, 32, 'sha256').toString('base64')}`;

  it('pads nothing while only current argon2id hashes are stored (the cost of today)', async () => {
    const hasher = createPasswordHasher();
    await hasher.noteStoredHashes([hashHead(await hasher.hash(password))!]);
    assert.equal(hasher.paddingFloorMs(), 0);
  });

  it('learns a kind at its first verification, for hashes imported through another instance', async () => {
    const hasher = createPasswordHasher();
    const wrapped = await hasher.wrap(legacyOf(await bcryptHash(password, 6)));
    assert.equal(hasher.paddingFloorMs(), 0);
    assert.equal(await hasher.verify(wrapped, password), true);
    await hasher.noteStoredHashes([]);
    assert.ok(hasher.paddingFloorMs() > 0);
  });

  it('a native, a wrapped bcrypt, a wrapped Django account and an unknown user take the same time', async () => {
    const hasher = createPasswordHasher();
    const native = await hasher.hash(password);
    const bcrypt = await hasher.wrap(legacyOf(await bcryptHash(password, 8)));
    const django = await hasher.wrap(legacyOf(djangoHash()));
    const dummy = await hasher.hash('the dummy of the unpadded side');
    await hasher.noteStoredHashes([hashHead(bcrypt)!, hashHead(django)!, hashHead(native)!]);
    assert.ok(hasher.paddingFloorMs() > 0);

    // The same work without the padding: what an attacker would see without it.
    const unwrapped = (stored: string) => {
      const wrapped = parseWrapped(stored)!;
      return async () => argon2Verify(wrapped.inner, await legacyDigest(wrapped.legacy, wrong));
    };
    const kinds = {
      native: { padded: () => hasher.verify(native, wrong), unpadded: () => argon2Verify(native, wrong) },
      bcrypt: { padded: () => hasher.verify(bcrypt, wrong), unpadded: unwrapped(bcrypt) },
      django: { padded: () => hasher.verify(django, wrong), unpadded: unwrapped(django) },
      unknown: { padded: () => hasher.verifyDummy(wrong), unpadded: () => argon2Verify(dummy, wrong) },
    };
    const names = Object.keys(kinds) as (keyof typeof kinds)[];
    const samples = Object.fromEntries(names.map((name) => [name, { padded: [] as number[], unpadded: [] as number[] }]));
    const time = async (work: () => Promise<unknown>) => {
      const started = performance.now();
      await work();
      return performance.now() - started;
    };
    // Interleaved, in a rotating order, so that load on a shared machine falls on every kind alike.
    for (let round = 0; round < 11; round += 1) {
      for (let i = 0; i < names.length; i += 1) {
        const name = names[(round + i) % names.length]!;
        samples[name]!.padded.push(await time(kinds[name].padded));
        samples[name]!.unpadded.push(await time(kinds[name].unpadded));
      }
    }
    const padded = names.map((name) => median(samples[name]!.padded));
    const unpadded = Object.fromEntries(names.map((name) => [name, median(samples[name]!.unpadded)]));
    // The leak padding hides: the costliest wrapped kind over the cheapest argon2id-only one.
    const leak = Math.max(unpadded.bcrypt!, unpadded.django!) - Math.min(unpadded.native!, unpadded.unknown!);
    // Each padded sample against its round's median: the floor follows the machine's load,
    // which drifts over the rounds alike for every kind; what must not differ is the kinds.
    const rounds = samples[names[0]!]!.padded.length;
    const offsets = names.map((name) =>
      median(samples[name]!.padded.map((value, round) => value - mean(names.map((other) => samples[other]!.padded[round]!)))),
    );
    const spread = Math.max(...offsets) - Math.min(...offsets);
    assert.equal(rounds, 11);
    const report = JSON.stringify({ padded, offsets, unpadded, leak, spread, floor: hasher.paddingFloorMs() });
    assert.ok(leak > 5, `the unpadded legacy cost must be measurable for this test to mean anything: ${report}`);
    assert.ok(spread < leak / 3, `padded medians must agree far better than the unpadded ones differ: ${report}`);
    // And the padding is real: argon2id-only verifications now carry most of the legacy cost too.
    assert.ok(Math.min(...padded) >= Math.max(unpadded.native!, unpadded.unknown!) + leak / 2, `padding adds the legacy cost to every kind: ${report}`);
  });
});

describe('password rules', () => {
  function code(fn: () => void): string | undefined {
    try {
      fn();
      return undefined;
    } catch (error) {
      assert.ok(error instanceof AuthError);
      return error.code;
    }
  }

  it('refuses over 1024 bytes, NUL and lone surrogates before hashing', () => {
    assert.equal(code(() => assertPasswordInput('a'.repeat(1024))), undefined);
    assert.equal(code(() => assertPasswordInput('a'.repeat(1025))), 'invalid_request');
    assert.equal(code(() => assertPasswordInput('é'.repeat(513))), 'invalid_request', '1026 bytes in 513 characters');
    assert.equal(code(() => assertPasswordInput('abc\u0000def')), 'invalid_request');
    assert.equal(code(() => assertPasswordInput('abc\ud800def')), 'invalid_request');
    assert.equal(code(() => assertPasswordInput('emoji 😀 fine')), undefined);
  });
});
