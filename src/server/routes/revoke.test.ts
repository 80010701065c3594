import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { createUser, startTestApp, type TestApp } from '../../test-support/app.js';
import { testBackends } from '../../test-support/databases.js';
import {
  assertApiError,
  me,
  postForm,
  postJson,
  refresh,
  signInWith,
  unknownRefreshToken,
  verifyGet,
  type RequestOptions,
  type SignedIn,
} from '../../test-support/tokens.js';

/*
 * RFC 7009 token revocation, POST /auth/revoke: refresh and access tokens, JSON and form bodies,
 * any hint, 200 {} for unknown tokens, 403 not_token_owner for another user's token with a Bearer.
 */

const minute = 60_000;
const hints = ['refresh_token', 'access_token', 'nonsense', undefined] as const;
const encodings = ['json', 'form'] as const;

function revoke(
  t: TestApp,
  encoding: (typeof encodings)[number],
  token: string,
  hint?: string,
  options: RequestOptions = {},
): Promise<LightMyRequestResponse> {
  const body: Record<string, string> = { token };
  if (hint !== undefined) body.token_type_hint = hint;
  return encoding === 'json' ? postJson(t, '/auth/revoke', body, options) : postForm(t, '/auth/revoke', body, options);
}

/** RFC 7009 §2.2: 200 with an empty JSON object, never cached. */
function assertRevoked(response: LightMyRequestResponse, label: string): void {
  assert.equal(response.statusCode, 200, `${label}: ${response.body}`);
  assert.deepEqual(response.json(), {}, label);
  assert.match(String(response.headers['content-type']), /^application\/json\b/, `${label}: content-type`);
  assert.equal(response.headers['cache-control'], 'no-store', `${label}: cache-control`);
}

for (const backend of testBackends()) {
  describe(`POST /auth/revoke (${backend.name})`, () => {
    let t: TestApp;
    let counter = 0;
    /** A new user and a session of it, so cases never share state. */
    async function freshSession(prefix: string): Promise<SignedIn> {
      counter += 1;
      const username = `${prefix}-${counter}`;
      await createUser(t, username);
      return signInWith(t, username);
    }

    before(async () => {
      t = await startTestApp(backend);
    });
    after(() => t?.close());

    describe('a refresh token', () => {
      for (const encoding of encodings) {
        for (const hint of hints) {
          it(`${encoding} body, hint ${hint ?? '(none)'}: ends the session`, async () => {
            const s = await freshSession('rt');
            const other = await signInWith(t, s.user.username);
            assertRevoked(await revoke(t, encoding, s.refresh_token, hint), 'revoke');
            assertApiError(await refresh(t, s.refresh_token), 401, 'invalid_grant', 'the refresh token');
            assertApiError(await verifyGet(t, s.access_token), 401, 'invalid_token', "the session's access token on /auth/verify");
            assertApiError(await me(t, s.access_token), 401, 'invalid_token', "the session's access token on /auth/me");
            // Revoking again is still 200 (RFC 7009 §2.2: an invalid token is not an error).
            assertRevoked(await revoke(t, encoding, s.refresh_token, hint), 'revoke again');
            // Only that session: the user's other session still works.
            assert.equal((await verifyGet(t, other.access_token)).statusCode, 200);
            assert.equal((await refresh(t, other.refresh_token)).statusCode, 200);
          });
        }
      }

      it('accepts a form body whose content type carries a charset parameter', async () => {
        const s = await freshSession('rt-charset');
        const response = await postForm(t, '/auth/revoke', { token: s.refresh_token }, { headers: { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' } });
        assertRevoked(response, 'revoke');
        assertApiError(await refresh(t, s.refresh_token), 401, 'invalid_grant', 'the refresh token');
      });

      it("revokes with the owner's own Bearer too", async () => {
        const s = await freshSession('rt-own');
        assertRevoked(await revoke(t, 'json', s.refresh_token, 'refresh_token', { token: s.access_token }), 'revoke');
        assertApiError(await refresh(t, s.refresh_token), 401, 'invalid_grant', 'the refresh token');
      });

      it('ends the session when the revoked token is a rotated successor', async () => {
        const s = await freshSession('rt-rotated');
        const next = await refresh(t, s.refresh_token);
        assert.equal(next.statusCode, 200);
        const successor = next.json() as SignedIn;
        assertRevoked(await revoke(t, 'form', successor.refresh_token), 'revoke');
        assertApiError(await refresh(t, successor.refresh_token), 401, 'invalid_grant', 'the successor');
        assertApiError(await verifyGet(t, successor.access_token), 401, 'invalid_token', 'the new access token');
      });
    });

    describe('an access token', () => {
      for (const encoding of encodings) {
        for (const hint of hints) {
          it(`${encoding} body, hint ${hint ?? '(none)'}: refuses that token only`, async () => {
            const s = await freshSession('at');
            assertRevoked(await revoke(t, encoding, s.access_token, hint), 'revoke');
            assertApiError(await verifyGet(t, s.access_token), 401, 'invalid_token', 'the revoked token on GET /auth/verify');
            assertApiError(await postJson(t, '/auth/verify', { token: s.access_token }), 401, 'invalid_token', 'POST /auth/verify', { valid: false });
            assertApiError(await me(t, s.access_token), 401, 'invalid_token', '/auth/me');
            // The session lives on: its refresh token still works and yields a valid access token.
            const next = await refresh(t, s.refresh_token);
            assert.equal(next.statusCode, 200, `refresh: ${next.body}`);
            assert.equal((await verifyGet(t, (next.json() as SignedIn).access_token)).statusCode, 200);
          });
        }
      }
    });

    describe('unknown, garbage and expired tokens', () => {
      it('answers 200 {} for each, with and without a hint', async () => {
        const cases: [string, string][] = [
          ['unknown refresh token', unknownRefreshToken()],
          ['garbage', 'garbage'],
          ['JWT-shaped garbage', 'a.b.c'],
          ['a single character', 'x'],
        ];
        for (const [label, token] of cases) {
          for (const encoding of encodings) {
            for (const hint of hints) assertRevoked(await revoke(t, encoding, token, hint), `${label}, ${encoding}, ${hint ?? 'no hint'}`);
          }
        }
      });

      it('answers 200 {} for an expired access token', async () => {
        const s = await freshSession('expired');
        t.clock.advance(16 * minute);
        for (const encoding of encodings) {
          for (const hint of hints) assertRevoked(await revoke(t, encoding, s.access_token, hint), `expired, ${encoding}, ${hint ?? 'no hint'}`);
        }
        // The session itself was not touched: its refresh token still works.
        assert.equal((await refresh(t, s.refresh_token)).statusCode, 200);
      });

      it('answers 200 {} for an already consumed (rotated) refresh token', async () => {
        const s = await freshSession('consumed');
        const next = await refresh(t, s.refresh_token);
        assert.equal(next.statusCode, 200);
        assertRevoked(await revoke(t, 'json', s.refresh_token, 'refresh_token'), 'revoke consumed');
      });
    });

    describe('with a Bearer', () => {
      it("answers 403 not_token_owner for another user's token, which keeps working", async () => {
        const alice = await freshSession('owner-a');
        const bob = await freshSession('owner-b');
        for (const encoding of encodings) {
          for (const hint of hints) {
            const label = `${encoding}, ${hint ?? 'no hint'}`;
            assertApiError(
              await revoke(t, encoding, bob.refresh_token, hint, { token: alice.access_token }),
              403,
              'not_token_owner',
              `refresh token, ${label}`,
            );
            assertApiError(
              await revoke(t, encoding, bob.access_token, hint, { token: alice.access_token }),
              403,
              'not_token_owner',
              `access token, ${label}`,
            );
          }
        }
        assert.equal((await verifyGet(t, bob.access_token)).statusCode, 200, "bob's access token");
        assert.equal((await refresh(t, bob.refresh_token)).statusCode, 200, "bob's refresh token");
        assert.equal((await verifyGet(t, alice.access_token)).statusCode, 200, "alice's access token");
      });

      it('answers 401 for an invalid Bearer and revokes nothing', async () => {
        const s = await freshSession('bad-bearer');
        const revokedCaller = await freshSession('revoked-caller');
        assert.equal((await postJson(t, '/auth/logout', {}, { token: revokedCaller.access_token })).statusCode, 204);
        for (const caller of ['garbage', 'a.b.c', revokedCaller.access_token]) {
          for (const encoding of encodings) {
            assertApiError(await revoke(t, encoding, s.refresh_token, undefined, { token: caller }), 401, 'invalid_token', `${encoding} bearer ${caller.slice(0, 10)}`);
          }
        }
        const empty = await postJson(t, '/auth/revoke', { token: s.access_token }, { headers: { authorization: 'Bearer' } });
        assertApiError(empty, 401, 'invalid_token', 'Bearer without a token');
        assert.equal((await verifyGet(t, s.access_token)).statusCode, 200);
        assert.equal((await refresh(t, s.refresh_token)).statusCode, 200);
      });

      it('ignores OAuth client credentials (Basic): holding the token is what counts', async () => {
        const s = await freshSession('basic-client');
        const response = await postJson(t, '/auth/revoke', { token: s.access_token }, { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
        assert.equal(response.statusCode, 200);
        assert.deepEqual(response.json(), {});
        assert.equal((await verifyGet(t, s.access_token)).statusCode, 401);
      });
    });
  });
}
