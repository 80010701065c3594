import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createUser, login, signIn, startTestApp, strongPassword, type TestApp } from '../test-support/app.js';
import { testBackends } from '../test-support/databases.js';
import { refresh } from '../test-support/tokens.js';

/*
 * Issue 6, "bad input and faults": when the audit record cannot be written, the request that
 * needed it fails with 503 and its change does not happen; it is never answered as if recorded.
 * The database refuses audit rows with a trigger (real SQL, on both backends).
 */

async function breakAuditWrites(t: TestApp): Promise<void> {
  await t.db.exec(`
    CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'audit storage unavailable'; END $$;
    CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_pending FOR EACH ROW EXECUTE FUNCTION refuse_audit();`);
}

async function repairAuditWrites(t: TestApp): Promise<void> {
  await t.db.exec('DROP TRIGGER refuse_audit ON audit_pending; DROP FUNCTION refuse_audit();');
}

for (const backend of testBackends()) {
  describe(`audit write failures (${backend.name})`, () => {
    it('answers 503 and changes nothing when the record cannot be written', async () => {
      const t = await startTestApp(backend);
      try {
        await createUser(t, 'recorded');
        const before = await signIn(t, 'recorded');
        const sessions = async () => Number((await t.db.query<{ n: string }>('SELECT count(*)::text AS n FROM sessions'))[0]!.n);
        const sessionCount = await sessions();
        await breakAuditWrites(t);

        // A refused sign-in (recorded before the response) is not answered 401 unrecorded.
        const failed = await login(t, { username: 'recorded', password: 'not the password' });
        assert.equal(failed.statusCode, 503, failed.body);
        assert.deepEqual(Object.keys(failed.json() as object).sort(), ['error', 'error_description']);
        assert.equal((failed.json() as { error: string }).error, 'service_unavailable');

        // A sign-in (recorded in the session's transaction): 503, and no session was opened.
        const good = await login(t, { username: 'recorded', password: strongPassword });
        assert.equal(good.statusCode, 503, good.body);
        assert.equal(await sessions(), sessionCount, 'the session rolled back with its record');

        // A refresh: 503, and the token was not consumed.
        const refused = await refresh(t, before.refresh_token);
        assert.equal(refused.statusCode, 503, refused.body);

        await repairAuditWrites(t);
        const rotated = await refresh(t, before.refresh_token);
        assert.equal(rotated.statusCode, 200, 'the refresh token is still the live one');
      } finally {
        await t.close();
      }
    });
  });
}
