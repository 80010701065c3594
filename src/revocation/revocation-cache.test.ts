import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RevocationCache } from './revocation-cache.js';

const token = { jti: 'j1', sid: 's1', sub: 'u1', iat: 1_000 };

describe('revocation cache', () => {
  it('refuses by jti, sid, disabled user, and issue time before a revoke-all', () => {
    const now = 1_000_500;
    const cases: [string, Parameters<RevocationCache['apply']>[0], string | undefined][] = [
      ['jti', { type: 'revoked', revocation: { kind: 'jti', subject: 'j1', at: now, expiresAt: now + 1 } }, 'token_revoked'],
      ['other jti', { type: 'revoked', revocation: { kind: 'jti', subject: 'j2', at: now, expiresAt: now + 1 } }, undefined],
      ['sid', { type: 'revoked', revocation: { kind: 'sid', subject: 's1', at: now, expiresAt: now + 1 } }, 'session_revoked'],
      ['disabled', { type: 'revoked', revocation: { kind: 'disabled', subject: 'u1', at: now, expiresAt: now + 1 } }, 'user_disabled'],
      ['revoke-all a second later', { type: 'revoked', revocation: { kind: 'user', subject: 'u1', at: 1_001_000, expiresAt: now + 1 } }, 'user_tokens_revoked'],
      ['revoke-all in the same second', { type: 'revoked', revocation: { kind: 'user', subject: 'u1', at: 1_000_400, expiresAt: now + 1 } }, undefined],
      ['expired entry', { type: 'revoked', revocation: { kind: 'jti', subject: 'j1', at: now - 10, expiresAt: now } }, undefined],
    ];
    for (const [why, change, expected] of cases) {
      const cache = new RevocationCache();
      cache.apply(change);
      assert.equal(cache.check(token, now), expected, why);
    }
  });

  it('merges monotonically, re-enables, and prunes what no longer matters', () => {
    const cache = new RevocationCache();
    cache.load([
      { kind: 'user', subject: 'u1', at: 5_000_000, expiresAt: 9_000_000 },
      { kind: 'user', subject: 'u1', at: 2_000_000, expiresAt: 3_000_000 },
      { kind: 'disabled', subject: 'u2', at: 1, expiresAt: 9_000_000 },
    ]);
    assert.equal(cache.check({ ...token, iat: 4_000 }, 4_000_000), 'user_tokens_revoked', 'the later revoke-all wins');
    assert.equal(cache.check({ ...token, sub: 'u2', iat: 4_000 }, 4_000_000), 'user_disabled');
    cache.apply({ type: 'enabled', userId: 'u2' });
    assert.equal(cache.check({ ...token, sub: 'u2', iat: 4_000 }, 4_000_000), undefined);
    assert.equal(cache.size, 1);
    cache.prune(9_000_000);
    assert.equal(cache.size, 0);
  });

  it('says whether a change changed anything, holds API keys, and lists what is in force', () => {
    const cache = new RevocationCache();
    const sid = { type: 'revoked', revocation: { kind: 'sid', subject: 's1', at: 10, expiresAt: 1_000 } } as const;
    assert.equal(cache.apply(sid), true);
    assert.equal(cache.apply(sid), false, 'the same again');
    assert.equal(cache.apply({ type: 'revoked', revocation: { ...sid.revocation, expiresAt: 900 } }), false, 'an earlier expiry');
    assert.equal(cache.apply({ type: 'revoked', revocation: { ...sid.revocation, expiresAt: 2_000 } }), true, 'a later expiry');
    assert.equal(cache.apply({ type: 'revoked', revocation: { kind: 'api_key', subject: 'k1', at: 10, expiresAt: 1_000 } }), true);
    assert.equal(cache.isApiKeyRevoked('k1', 999), true);
    assert.equal(cache.isApiKeyRevoked('k1', 1_000), false, 'expired');
    assert.equal(cache.check({ ...token, jti: 'k1', sid: 'k1', sub: 'k1' }, 500), undefined, 'a key id never revokes a token');
    assert.equal(cache.apply({ type: 'revoked', revocation: { kind: 'user', subject: 'u1', at: 5_000, expiresAt: 9_000 } }), true);
    assert.equal(cache.apply({ type: 'revoked', revocation: { kind: 'user', subject: 'u1', at: 4_000, expiresAt: 9_000 } }), false);
    assert.equal(cache.apply({ type: 'enabled', userId: 'u9' }), false, 'nobody to enable');
    assert.equal(cache.apply({ type: 'revoked', revocation: { kind: 'future' as never, subject: 'x', at: 1, expiresAt: 9_000 } }), false, 'an unknown kind is ignored');
    assert.deepEqual(
      [...cache.entries(1_500)].map(({ kind, subject, expiresAt }) => [kind, subject, expiresAt]),
      [['sid', 's1', 2_000], ['user', 'u1', 9_000]],
    );
    assert.equal([...cache.entries(1_500)].find((entry) => entry.kind === 'user')!.at, 5_000);
  });
});
