import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateOpaqueToken } from '../tokens/opaque-token.js';
import type { User } from '../users/user.js';
import { checkRefreshToken, type RefreshTokenFamily, type RefreshTokenState } from './refresh-token-check.js';

const now = Date.UTC(2030, 0, 1);
const hour = 3_600_000;

function family(change: { token?: object; session?: object; user?: object } = {}) {
  const generated = generateOpaqueToken();
  const value = {
    token: {
      id: generated.id,
      sessionId: 's1',
      userId: 'u1',
      secretHash: generated.secretHash,
      createdAt: new Date(now - hour),
      expiresAt: new Date(now + hour),
      consumedAt: null,
      successorId: null,
      successorSealed: null,
      revokedAt: null,
      revokeReason: null,
      ...change.token,
    },
    session: {
      id: 's1',
      userId: 'u1',
      deviceName: null,
      deviceFingerprint: null,
      ip: null,
      userAgent: null,
      amr: ['pwd'],
      createdAt: new Date(now - hour),
      lastActiveAt: new Date(now - hour),
      expiresAt: new Date(now + 10 * hour),
      revokedAt: null,
      revokeReason: null,
      ...change.session,
    },
    user: { id: 'u1', disabled: false, ...change.user } as unknown as User,
  } satisfies RefreshTokenFamily;
  return { token: generated.token, secret: generated.secret, value, lookup: async (id: string) => (id === generated.id ? value : undefined) };
}

describe('the refresh-token check', () => {
  it('finds nothing for a malformed token, an unknown id or a wrong secret, without telling them apart by state', async () => {
    const f = family();
    assert.deepEqual(await checkRefreshToken('garbage', f.lookup, now), { found: false, detail: 'malformed refresh token' });
    assert.deepEqual(await checkRefreshToken(42, f.lookup, now), { found: false, detail: 'malformed refresh token' });
    assert.deepEqual(await checkRefreshToken(generateOpaqueToken().token, f.lookup, now), { found: false, detail: 'unknown refresh token' });
    const wrongSecret = `${f.token.split('.')[0]}.${generateOpaqueToken().secret}`;
    assert.deepEqual(await checkRefreshToken(wrongSecret, f.lookup, now), { found: false, detail: 'unknown refresh token' });
  });

  it('names the first reason in order: session, revoked, consumed, expired, user', async () => {
    const past = new Date(now - 1);
    const cases: [string, Parameters<typeof family>[0], RefreshTokenState][] = [
      ['a usable token', {}, 'usable'],
      ['a revoked session', { session: { revokedAt: past } }, 'session_ended'],
      ['a session past its absolute end', { session: { expiresAt: new Date(now) } }, 'session_ended'],
      ['an ended session before everything else', { session: { revokedAt: past }, token: { revokedAt: past, consumedAt: past }, user: { disabled: true } }, 'session_ended'],
      ['a revoked token', { token: { revokedAt: past } }, 'revoked'],
      ['revoked before consumed', { token: { revokedAt: past, consumedAt: past } }, 'revoked'],
      ['a consumed token', { token: { consumedAt: past } }, 'consumed'],
      ['consumed before expired and disabled', { token: { consumedAt: past, expiresAt: past }, user: { disabled: true } }, 'consumed'],
      ['an expired token', { token: { expiresAt: new Date(now) } }, 'expired'],
      ['expired before disabled', { token: { expiresAt: past }, user: { disabled: true } }, 'expired'],
      ['a disabled user', { user: { disabled: true } }, 'user_disabled'],
    ];
    for (const [label, change, state] of cases) {
      const f = family(change);
      const check = await checkRefreshToken(f.token, f.lookup, now);
      assert.equal(check.found, true, label);
      assert.equal(check.found && check.state, state, label);
      assert.equal(check.found && check.family, f.value, label);
    }
  });
});
