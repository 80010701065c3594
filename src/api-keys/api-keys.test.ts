import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { ManualClock } from '../clock.js';
import type { EventBus } from '../events/bus.js';
import type { User } from '../users/user.js';
import { apiKeyLength, apiKeySecretMatches, generateApiKey, hashApiKeySecret, isApiKeyActive, isValidApiKeyName, parseApiKey, type ApiKey } from './api-key.js';
import { createApiKeyService } from './service.js';
import type { ApiKeyStore } from './store.js';

/*
 * The API-key format alone: what we issue parses back to its parts, and nothing else parses; the
 * hash is compared in constant time; names for people, without markup or control characters.
 */

describe('API key format', () => {
  it('issues tsk_<uuid>_<43 base64url> with 256 random bits, stores only a hash', () => {
    const issued = generateApiKey();
    assert.equal(issued.key.length, apiKeyLength);
    assert.match(issued.key, /^tsk_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    const parts = parseApiKey(issued.key);
    assert.ok(parts);
    assert.equal(parts.id, issued.id);
    assert.equal(Buffer.from(parts.secret, 'base64url').length, 32);
    assert.equal(issued.secretHash, hashApiKeySecret(parts.secret));
    assert.ok(!issued.secretHash.includes(parts.secret));
    assert.ok(apiKeySecretMatches(parts.secret, issued.secretHash));
    const other = generateApiKey();
    assert.notEqual(other.id, issued.id);
    assert.ok(!apiKeySecretMatches(parseApiKey(other.key)!.secret, issued.secretHash), "another key's secret");
  });

  it('refuses every other spelling', () => {
    const { key, id } = generateApiKey();
    const secret = key.slice(-43);
    // A secret whose last character carries bits 32 bytes cannot hold: a second spelling of the same bytes.
    const lastChars = 'AEIMQUYcgkosw048';
    const last = secret.at(-1)!;
    const alias = secret.slice(0, 42) + (lastChars.includes(last) ? String.fromCharCode(last.charCodeAt(0) + 1) : 'A');
    const cases: Array<[string, unknown]> = [
      ['empty', ''],
      ['not a string', 42],
      ['null', null],
      ['an object', { key }],
      ['wrong prefix', `tsx_${id}_${secret}`],
      ['upper-case prefix', `TSK_${id}_${secret}`],
      ['no prefix', `${id}_${secret}`],
      ['bearer-style prefix', `Bearer ${key}`],
      ['upper-case id', `tsk_${id.toUpperCase()}_${secret}`],
      ['id not a uuid', `tsk_${'z'.repeat(36)}_${secret}`],
      ['id of base64url', `tsk_${randomBytes(27).toString('base64url')}_${secret}`],
      ['truncated secret', key.slice(0, -1)],
      ['secret one too long', `${key}A`],
      ['padded secret', `${key.slice(0, -1)}=`],
      ['secret alias (non-canonical last character)', `tsk_${id}_${alias}`],
      ['dot separator', `tsk_${id}.${secret}`],
      // `x`, not the secret's first character, which may be `_` and so a separator after all.
      ['no separator', `tsk_${id}x${secret}`],
      ['leading blank', ` ${key}`.slice(0, apiKeyLength)],
      ['trailing newline', `${key.slice(0, -1)}\n`],
      ['injected quote', `${key.slice(0, -1)}'`],
      ['injected SQL', `tsk_${id}_' OR 1=1 --${'a'.repeat(32)}`],
      ['NUL inside', `${key.slice(0, 40)}\u0000${key.slice(41)}`],
      ['non-ASCII letter', `${key.slice(0, -1)}é`],
      ['10 KiB', `tsk_${'a'.repeat(10 * 1024)}`],
    ];
    for (const [name, presented] of cases) assert.equal(parseApiKey(presented), undefined, name);
    assert.ok(alias !== secret && Buffer.from(alias, 'base64url').equals(Buffer.from(secret, 'base64url')), 'the alias decodes to the same bytes');
  });

  it('compares hashes of any length without throwing', () => {
    const { key, secretHash } = generateApiKey();
    const secret = parseApiKey(key)!.secret;
    assert.equal(apiKeySecretMatches(secret, ''), false);
    assert.equal(apiKeySecretMatches(secret, secretHash.slice(1)), false);
    assert.equal(apiKeySecretMatches(secret, `${secretHash}x`), false);
  });

  it('is active until revoked or expired', () => {
    const now = Date.UTC(2030, 0, 1);
    assert.equal(isApiKeyActive({ revokedAt: null, expiresAt: null }, now), true);
    assert.equal(isApiKeyActive({ revokedAt: null, expiresAt: new Date(now + 1) }, now), true);
    assert.equal(isApiKeyActive({ revokedAt: null, expiresAt: new Date(now) }, now), false, 'expires at its instant');
    assert.equal(isApiKeyActive({ revokedAt: new Date(now - 1), expiresAt: null }, now), false);
  });
});

describe('API key names', () => {
  it('takes names people write', () => {
    for (const name of ['CI deploy', 'backup-job #2', 'Zürich (prod)', 'ключ', '報告', 'a', 'n'.repeat(100), 'svc:orders/read @eu-west-1']) {
      assert.ok(isValidApiKeyName(name), name);
    }
  });

  it('refuses markup, control and format characters, blanks around, and long names', () => {
    const cases = [
      '',
      ' padded',
      'padded ',
      '<script>alert(1)</script>',
      '<b>bold</b>',
      'Tom & Jerry',
      'say "hi"',
      "it's",
      'two\nlines',
      'tab\there',
      'bell\u0007',
      'nul\u0000',
      'c1\u0085',
      'bidi\u202eevil',
      'zero\u200bwidth',
      'n'.repeat(101),
      'n'.repeat(10 * 1024),
    ];
    for (const name of cases) assert.equal(isValidApiKeyName(name), false, JSON.stringify(name.slice(0, 40)));
  });
});

describe('API key service reads', () => {
  it('reads a key once for concurrent verifications, and keeps nothing read while this instance revoked it', async () => {
    const issued = generateApiKey();
    const owner = { id: '00000000-0000-4000-8000-0000000000aa', username: 'owner', roles: [], permissions: ['docs:read'], tenant: null, disabled: false } as unknown as User;
    let stored: ApiKey = { id: issued.id, userId: owner.id, name: 'n', permissions: ['docs:read'], secretHash: issued.secretHash, createdAt: new Date(0), expiresAt: null, lastUsedAt: new Date(), lastUsedIp: null, revokedAt: null, revokedBy: null };
    let reads = 0;
    let release: (() => void) | undefined;
    const apiKeys = {
      async findById() {
        reads += 1;
        // The row as it was when read; held until released, so the revocation below lands while
        // this read is in flight.
        const row = stored;
        if (release === undefined) await new Promise<void>((resolve) => (release = resolve));
        return row;
      },
      async revoke() {
        stored = { ...stored, revokedAt: new Date(), revokedBy: owner.id };
        return stored;
      },
      touch: async () => false,
    } as unknown as ApiKeyStore;
    const clock = new ManualClock(Date.now());
    const service = createApiKeyService({
      stores: { apiKeys, users: { findById: async () => owner, lockById: async () => owner }, audit: {} as never, transaction: async (fn: (tx: unknown) => unknown) => fn({ apiKeys, audit: {} }) } as never,
      events: { emit: async () => undefined, emitIn: async () => undefined } as unknown as EventBus,
      clock,
      limiter: { consume: async () => ({ allowed: true, retryAfterSeconds: 0 }), refund: async () => undefined },
      revocations: { check: () => undefined, isApiKeyRevoked: () => false, revokeApiKeyIn: async () => [], announce: async () => undefined },
    });
    const first = Array.from({ length: 5 }, () => service.authenticate(issued.key, null));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(reads, 1, 'five verifications, one read');
    await service.revokeOwn(owner.id, issued.id);
    release!();
    assert.equal((await Promise.all(first)).length, 5, 'answered from the read that started before the revocation');
    await assert.rejects(service.authenticate(issued.key, null), (error: unknown) => (error as { code?: string }).code === 'invalid_token', 'nothing of that read was kept');
    assert.equal(reads, 2);
  });
});
