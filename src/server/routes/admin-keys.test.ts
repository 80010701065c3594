import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { publishBeforeSignMs } from '../../keys/schedule.js';
import { createUser, signIn, startTestApp, type SignedIn, type TestApp } from '../../test-support/app.js';
import { testBackends } from '../../test-support/databases.js';
import { assertApiError, decodeSegment, get, postJson, verifyGet } from '../../test-support/tokens.js';

/*
 * GET /admin/keys and POST /admin/keys/rotate (SPEC §3 Administration, §2 Signing keys): the admin
 * gate with no side effect, the listing's fields and states (never private material), publish
 * before sign over HTTP (the new key is in JWKS at once and signs only later), 409 while a rotated
 * key waits, and the audit record naming the admin.
 */

const viewFields = ['activates_at', 'alg', 'created_at', 'kid', 'published_until', 'retires_at', 'state'];
/** Private JWK members (RFC 7517/7518) and anything else that could carry the private key. */
const privateWords = ['"d"', '"p"', '"q"', '"dp"', '"dq"', '"qi"', '"k"', 'PRIVATE', 'sealed', 'v1.'];

interface KeyRow {
  kid: string;
  alg: string;
  state: 'next' | 'active' | 'retired';
  created_at: string;
  activates_at: string;
  retires_at: string | null;
  published_until: string | null;
}

for (const backend of testBackends()) {
  describe(`admin keys API (${backend.name})`, () => {
    let t: TestApp;
    let admin: SignedIn;
    let adminId: string;
    let member: SignedIn;

    const listKeys = async (): Promise<KeyRow[]> => {
      const response = await get(t, '/admin/keys', { token: admin.access_token });
      assert.equal(response.statusCode, 200, response.body);
      return (response.json() as { keys: KeyRow[] }).keys;
    };
    const jwksKids = async () => ((await get(t, '/.well-known/jwks.json')).json() as { keys: Array<{ kid: string }> }).keys.map((key) => key.kid);
    const rotatedRecords = async () => {
      await t.tessera.auditChain.flush();
      return t.stores.audit.list({ type: 'key.rotated' }, { limit: 20 });
    };

    before(async () => {
      t = await startTestApp(backend);
      adminId = await createUser(t, 'keys-admin', { roles: ['admin'] });
      await createUser(t, 'keys-member');
      admin = await signIn(t, 'keys-admin');
      member = await signIn(t, 'keys-member');
    });
    after(() => t?.close());

    it('answers 401 without a valid token and 403 to a non-admin, and rotates nothing', async () => {
      const before = await listKeys();
      const cases = [
        { label: 'no token', token: undefined, status: 401, error: 'invalid_token' },
        { label: 'garbage token', token: 'not-a-token', status: 401, error: 'invalid_token' },
        { label: 'a refresh token as bearer', token: member.refresh_token, status: 401, error: 'invalid_token' },
        { label: 'non-admin', token: member.access_token, status: 403, error: 'forbidden' },
      ];
      for (const { label, token, status, error } of cases) {
        const options = token === undefined ? {} : { token };
        assertApiError(await get(t, '/admin/keys', options), status, error, `GET ${label}`);
        assertApiError(await postJson(t, '/admin/keys/rotate', undefined, options), status, error, `POST ${label}`);
        assertApiError(await postJson(t, '/admin/keys/rotate', {}, options), status, error, `POST {} ${label}`);
      }
      assert.deepEqual(await listKeys(), before, 'no key added');
      assert.equal((await jwksKids()).length, 1);
      assert.deepEqual(await rotatedRecords(), []);
    });

    it('lists the key with its schedule and never any private material', async () => {
      const response = await get(t, '/admin/keys', { token: admin.access_token });
      for (const word of privateWords) assert.ok(!response.body.includes(word), `no ${word} in ${response.body}`);
      const [key, ...rest] = (response.json() as { keys: KeyRow[] }).keys;
      assert.equal(rest.length, 0);
      assert.deepEqual(Object.keys(key!).sort(), viewFields);
      assert.equal(key!.state, 'active');
      assert.equal(key!.alg, t.config.signingAlg);
      assert.equal(key!.kid, t.tessera.keyRing.signingKey.kid);
      assert.equal(key!.retires_at, null);
      assert.equal(key!.published_until, null);
      assert.ok(!Number.isNaN(Date.parse(key!.created_at)) && !Number.isNaN(Date.parse(key!.activates_at)));
    });

    it('rotates: the new key is published at once, signs only after the JWKS max-age, and the old one stays until its tokens expire', async () => {
      const [old] = await listKeys();
      const rotatedAt = t.clock.now();
      const response = await postJson(t, '/admin/keys/rotate', undefined, { token: admin.access_token });
      assert.equal(response.statusCode, 201, response.body);
      for (const word of privateWords) assert.ok(!response.body.includes(word), `no ${word} in ${response.body}`);
      const created = response.json() as KeyRow;
      assert.deepEqual(Object.keys(created).sort(), viewFields);
      assert.equal(created.state, 'next');
      assert.equal(Date.parse(created.activates_at), rotatedAt + publishBeforeSignMs);
      const maxAge = Number(/max-age=(\d+)/.exec(String((await get(t, '/.well-known/jwks.json')).headers['cache-control']))![1]);
      assert.ok(Date.parse(created.activates_at) - rotatedAt > maxAge * 1000, 'signs only after a cached JWKS has expired');

      // Published at once; the old key still signs.
      assert.deepEqual((await jwksKids()).sort(), [old!.kid, created.kid].sort());
      const beforeActivation = await signIn(t, 'keys-member');
      assert.equal(decodeSegment(beforeActivation.access_token, 0).kid, old!.kid);
      const listed = await listKeys();
      assert.deepEqual(listed.map((key) => [key.kid, key.state]), [[created.kid, 'next'], [old!.kid, 'active']]);
      assert.equal(listed[1]!.retires_at, created.activates_at);
      assert.equal(Date.parse(listed[1]!.published_until!), Date.parse(created.activates_at) + t.config.accessTtlMs + 60_000);

      // A second rotation while this one waits: 409, nothing added, nothing recorded.
      assertApiError(await postJson(t, '/admin/keys/rotate', {}, { token: admin.access_token }), 409, 'conflict', 'pending');
      assert.equal((await listKeys()).length, 2);

      // Audited with the admin and the request's address, in the rotation's transaction.
      const records = await rotatedRecords();
      assert.equal(records.length, 1);
      assert.deepEqual(records[0]!.details, { kid: created.kid, alg: created.alg, previousKid: old!.kid, activatesAt: Date.parse(created.activates_at), by: adminId });
      assert.ok(records[0]!.ip);

      // Once it is due: the new key signs, old tokens still verify until they expire.
      t.clock.set(Date.parse(created.activates_at));
      const afterActivation = await signIn(t, 'keys-member');
      assert.equal(decodeSegment(afterActivation.access_token, 0).kid, created.kid);
      assert.equal((await verifyGet(t, beforeActivation.access_token)).statusCode, 200, 'a token of the old key still verifies');
      assert.deepEqual((await listKeys()).map((key) => key.state), ['active', 'retired']);

      // After the old key's last token expired, it leaves JWKS; the listing still shows it.
      t.clock.set(Date.parse(listed[1]!.published_until!) + 1);
      await t.tessera.keyRing.reload();
      admin = await signIn(t, 'keys-admin');
      assert.deepEqual(await jwksKids(), [created.kid]);
      const last = await listKeys();
      assert.deepEqual(last.map((key) => [key.kid, key.state]), [[created.kid, 'active'], [old!.kid, 'retired']]);
      assertApiError(await verifyGet(t, beforeActivation.access_token), 401, 'invalid_token', 'expired with its key');
    });

    it('rotates again once the waiting key signs', async () => {
      const response = await postJson(t, '/admin/keys/rotate', undefined, { token: admin.access_token });
      assert.equal(response.statusCode, 201, response.body);
      assert.equal((await listKeys()).length, 3);
      assert.equal((await jwksKids()).length, 2);
    });
  });
}
