import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { createUser, signIn, startTestApp, type TestApp } from '../test-support/app.js';
import { testBackends } from '../test-support/databases.js';
import { refresh } from '../test-support/tokens.js';
import { cleanupMargins } from './cleanup.js';

/*
 * Issue 10, finding 13: expired outbox, reset-token, session and refresh-token rows are deleted on
 * a schedule, past safe margins; live sessions keep every refresh token (reuse detection needs them).
 */

const minute = 60_000;
const day = 24 * 60 * minute;

async function count(t: TestApp, sql: string, params: unknown[] = []): Promise<number> {
  return Number((await t.db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${sql}`, params))[0]!.n);
}

for (const backend of testBackends()) {
  describe(`row clean-up (${backend.name})`, () => {
    it('deletes finished outbox messages and expired reset tokens past their margins, and nothing else', async () => {
      const t = await startTestApp(backend);
      try {
        const userId = await createUser(t, 'swept');
        const reset = () => t.app.inject({ method: 'POST', url: '/auth/password-reset', payload: { username: 'swept' } });
        assert.equal((await reset()).statusCode, 202);
        await t.tessera.passwordReset.settled();
        const start = new Date(t.clock.now());
        // A message that was given up, and one still waiting for its next attempt.
        const dead = randomUUID();
        const waiting = randomUUID();
        await t.db.query(
          `INSERT INTO outbox (id, kind, sealed, created_at, attempts, next_attempt_at, failed_at)
           VALUES ($1, 'password_reset', '', $3, 12, $3, $3), ($2, 'password_reset', 'sealed', $3, 3, $4, NULL)`,
          [dead, waiting, start, new Date(start.getTime() + 365 * day)],
        );
        assert.equal(await count(t, 'outbox'), 4, 'the request, its mail, the dead and the waiting message');
        assert.equal(await count(t, 'password_reset_tokens WHERE user_id = $1', [userId]), 1);

        t.clock.advance(cleanupMargins.resetTokenMs - minute);
        assert.deepEqual(await t.tessera.rowCleanup.sweep(), { outbox: 0, resetTokens: 0, refreshTokens: 0, sessions: 0, apiKeys: 0 }, 'inside every margin');

        t.clock.advance(30 * minute + 2 * minute);
        assert.equal((await t.tessera.rowCleanup.sweep()).resetTokens, 1, 'a day after it expired');
        assert.equal((await reset()).statusCode, 202);
        await t.tessera.passwordReset.settled();

        t.clock.set(start.getTime() + cleanupMargins.outboxMs + minute);
        const swept = await t.tessera.rowCleanup.sweep();
        assert.equal(swept.outbox, 3, 'the first request, its mail and the dead message');
        const left = await t.db.query<{ id: string; delivered: boolean }>('SELECT id, delivered_at IS NOT NULL AS delivered FROM outbox ORDER BY created_at, id');
        assert.ok(left.some((row) => row.id === waiting), 'a message waiting for delivery is never deleted');
        assert.equal(left.filter((row) => row.delivered).length, 2, 'the second request and its mail are inside the margin');
        assert.equal(await count(t, 'password_reset_tokens WHERE user_id = $1', [userId]), 0, 'the second token expired more than a day ago');
      } finally {
        await t.close();
      }
    });

    it('deletes sessions past their absolute end with their refresh tokens, and keeps live sessions whole', async () => {
      const t = await startTestApp(backend);
      try {
        await createUser(t, 'session-swept');
        const ended = await signIn(t, 'session-swept');
        assert.equal((await refresh(t, ended.refresh_token)).statusCode, 200);
        const maxAge = t.config.sessionMaxAgeMs;
        t.clock.advance(maxAge - day);
        const live = await signIn(t, 'session-swept');
        const rotated = await refresh(t, live.refresh_token);
        assert.equal(rotated.statusCode, 200);
        const tokensOf = (sessionId: string) => count(t, 'refresh_tokens WHERE session_id = $1', [sessionId]);
        const sessionExists = async (sessionId: string) => (await count(t, 'sessions WHERE id = $1', [sessionId])) === 1;

        t.clock.advance(day + cleanupMargins.sessionMs - minute);
        assert.deepEqual(await t.tessera.rowCleanup.sweep(), { outbox: 0, resetTokens: 0, refreshTokens: 0, sessions: 0, apiKeys: 0 }, 'inside the margin');
        assert.equal(await tokensOf(ended.session_id), 2);

        t.clock.advance(2 * minute);
        const swept = await t.tessera.rowCleanup.sweep();
        assert.deepEqual({ refreshTokens: swept.refreshTokens, sessions: swept.sessions }, { refreshTokens: 2, sessions: 1 });
        assert.equal(await sessionExists(ended.session_id), false);
        assert.equal(await tokensOf(ended.session_id), 0);
        assert.equal(await sessionExists(live.session_id), true, 'a live session stays');
        assert.equal(await tokensOf(live.session_id), 2, 'with its consumed refresh token');

        // The consumed token is what still detects a replay of the live session.
        const replay = await refresh(t, live.refresh_token);
        assert.equal(replay.statusCode, 401);
        const [session] = await t.db.query<{ revoke_reason: string | null }>('SELECT revoke_reason FROM sessions WHERE id = $1', [live.session_id]);
        assert.equal(session?.revoke_reason, 'refresh_token_reused');
      } finally {
        await t.close();
      }
    });

    it('deletes API keys revoked or expired more than the margin ago, and keeps live ones', async () => {
      const t = await startTestApp(backend);
      try {
        const userId = await createUser(t, 'key-sweeper');
        const make = (name: string, expiresAt?: string) => t.tessera.apiKeys.create(userId, { name, permissions: [], ...(expiresAt ? { expiresAt } : {}) });
        const revoked = await make('revoked');
        await make('expiring', new Date(t.clock.now() + day).toISOString());
        const live = await make('live');
        await t.tessera.apiKeys.revokeOwn(userId, revoked.apiKey.id);
        t.clock.advance(cleanupMargins.apiKeyMs + minute);
        assert.equal((await t.tessera.rowCleanup.sweep()).apiKeys, 1, 'revoked more than a margin ago; the expired one a day less');
        t.clock.advance(day + minute);
        assert.equal((await t.tessera.rowCleanup.sweep()).apiKeys, 1);
        const left = await t.db.query<{ id: string }>('SELECT id FROM api_keys');
        assert.deepEqual(left.map((row) => row.id), [live.apiKey.id]);
      } finally {
        await t.close();
      }
    });

    it('deletes more rows than one batch, and concurrent sweeps delete each row once', async () => {
      const t = await startTestApp(backend);
      try {
        const userId = await createUser(t, 'many-tokens');
        const expired = new Date(t.clock.now() - cleanupMargins.resetTokenMs - day);
        await t.db.query(
          `INSERT INTO password_reset_tokens (id, user_id, secret_hash, created_at, expires_at)
           SELECT 'bulk' || lpad(g::text, 18, '0'), $1, 'hash', $2, $2 FROM generate_series(1, 1234) AS g`,
          [userId, expired],
        );
        const results = await Promise.all([t.tessera.rowCleanup.sweep(), t.tessera.rowCleanup.sweep()]);
        assert.equal(results[0]!.resetTokens + results[1]!.resetTokens, 1234);
        assert.equal(await count(t, 'password_reset_tokens'), 0);
      } finally {
        await t.close();
      }
    });
  });
}
