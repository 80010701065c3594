import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hash as bcryptHash } from '@node-rs/bcrypt';
import { AuthError } from '../errors/auth-error.js';
import { createPasswordHasher } from './hasher.js';
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
