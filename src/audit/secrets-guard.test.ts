import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { pgliteBackend } from '../test-support/databases.js';
import { startTestApp, strongPassword, createUser, signIn } from '../test-support/app.js';

/*
 * The guard every test app runs at close (test-support/audit-secrets.ts) is what makes "no audit
 * record of a full test run holds a secret" a real check: here it must catch each kind of leak.
 */
describe('audit secrets guard', () => {
  for (const leak of ['password', 'refresh token', 'access token', 'password hash'] as const) {
    it(`fails an app whose audit log holds a ${leak}`, async () => {
      const t = await startTestApp(pgliteBackend);
      await createUser(t, 'leaky');
      const session = await signIn(t, 'leaky');
      const value = {
        password: strongPassword,
        'refresh token': session.refresh_token,
        'access token': session.access_token,
        'password hash': '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g',
      }[leak];
      await t.stores.audit.append({
        id: randomUUID(),
        at: new Date(t.clock.now()),
        type: 'login.failed',
        outcome: 'failure',
        userId: null,
        sessionId: null,
        ip: null,
        userAgent: null,
        requestId: null,
        severity: 'low',
        details: { note: `oops ${value}` },
      });
      await assert.rejects(t.close(), /audit record \d+ holds/);
    });
  }

  it('passes an app whose records are clean', async () => {
    const t = await startTestApp(pgliteBackend);
    await createUser(t, 'clean');
    await signIn(t, 'clean');
    await t.close();
  });
});
