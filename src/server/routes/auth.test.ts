import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { hash as bcryptHash } from '@node-rs/bcrypt';
import { createVerifier } from 'fast-jwt';
import { createUser, login, signIn, startTestApp, strongPassword, type TestApp } from '../../test-support/app.js';
import { testBackends } from '../../test-support/databases.js';

for (const backend of testBackends()) {
  describe(`sign-in over HTTP (${backend.name})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(backend, {
        env: { TESSERA_BOOTSTRAP_ADMIN: `root:${strongPassword}`, TESSERA_SIGNUP: 'open' },
      });
    });
    after(() => t.close());

    it('signs in the bootstrap admin and answers /auth/me', async () => {
      const tokens = await signIn(t, 'root');
      assert.equal(tokens.user.username, 'root');
      assert.deepEqual(tokens.user.roles, ['admin']);
      assert.equal(tokens.expires_in, 900);
      assert.match(tokens.refresh_token, /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);

      const me = await t.app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${tokens.access_token}` } });
      assert.equal(me.statusCode, 200);
      const body = me.json();
      assert.equal(body.user.id, tokens.user.id);
      assert.deepEqual(body.roles, ['admin']);
      assert.deepEqual(body.amr, ['pwd']);
      assert.equal(body.session.id, tokens.session_id);
      assert.equal(body.user.password_hash, undefined);
    });

    it('issues an RFC 9068 access token that an independent JOSE library verifies against the served JWKS', async () => {
      const tokens = await signIn(t, 'root');
      const jwks = (await t.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as { keys: Record<string, string>[] };
      const [header] = tokens.access_token.split('.');
      const { kid, typ, alg } = JSON.parse(Buffer.from(header!, 'base64url').toString());
      assert.equal(typ, 'at+jwt');
      assert.equal(alg, 'RS256');
      const jwk = jwks.keys.find((key) => key.kid === kid);
      assert.ok(jwk, 'the token kid is published');
      for (const privateMember of ['d', 'p', 'q', 'dp', 'dq', 'qi']) assert.equal(jwk[privateMember], undefined);

      const verify = createVerifier({
        key: createPublicKey({ key: jwk, format: 'jwk' }).export({ format: 'pem', type: 'spki' }).toString(),
        algorithms: ['RS256'],
        allowedIss: 'https://auth.test.example',
        allowedAud: 'tessera',
        clockTimestamp: t.clock.now(),
      });
      const claims = verify(tokens.access_token);
      assert.equal(claims.sub, tokens.user.id);
      assert.equal(claims.sid, tokens.session_id);
      assert.equal(claims.client_id, 'tessera');
      assert.deepEqual(claims.amr, ['pwd']);
      assert.equal(claims.exp - claims.iat, 900);
      assert.equal(claims.nbf, claims.iat);
      assert.match(claims.jti, /^[0-9a-f-]{36}$/);
    });

    it('answers unknown user and wrong password identically', async () => {
      await createUser(t, 'alice');
      const wrong = await login(t, { username: 'alice', password: 'not the right password' });
      const unknown = await login(t, { username: 'nobody-here', password: 'not the right password' });
      for (const response of [wrong, unknown]) {
        assert.equal(response.statusCode, 401);
        assert.deepEqual(response.json(), { error: 'invalid_credentials', error_description: 'Invalid username or password.' });
        assert.equal(response.headers['www-authenticate'], 'Bearer realm="tessera"');
      }
      assert.equal(wrong.body, unknown.body);
    });

    it('signs in by e-mail and by a differently cased or fullwidth username', async () => {
      await createUser(t, 'Bob', { email: 'Bob@Example.com' });
      assert.equal((await login(t, { email: 'bob@example.COM', password: strongPassword })).statusCode, 200);
      assert.equal((await login(t, { username: 'ＢＯＢ', password: strongPassword })).statusCode, 200);
    });

    it('refuses a disabled user with the same 401', async () => {
      const id = await createUser(t, 'carol');
      const session = await signIn(t, 'carol');
      // Disabled directly in storage: the admin API arrives later.
      assert.equal(await t.stores.users.setDisabled(id, true, new Date()), true);
      const response = await login(t, { username: 'carol', password: strongPassword });
      assert.equal(response.statusCode, 401);
      assert.equal(response.json().error, 'invalid_credentials');
      const me = await t.app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${session.access_token}` } });
      assert.equal(me.statusCode, 401);
      assert.equal(me.json().error, 'invalid_token');
    });

    it('verifies an imported bcrypt hash and rehashes it to argon2id', async () => {
      const id = await createUser(t, 'dave');
      await t.stores.users.updatePasswordHash(id, await bcryptHash('imported password 1', 10), new Date(), false);
      assert.equal((await login(t, { username: 'dave', password: 'wrong password here' })).statusCode, 401);
      assert.equal((await login(t, { username: 'dave', password: 'imported password 1' })).statusCode, 200);
      const stored = await t.stores.users.findById(id);
      assert.match(stored!.passwordHash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      assert.equal((await login(t, { username: 'dave', password: 'imported password 1' })).statusCode, 200);
    });

    it('records the device, IP and user agent on the session', async () => {
      await createUser(t, 'erin');
      const response = await login(
        t,
        { username: 'erin', password: strongPassword, device: { name: 'Work laptop', fingerprint: 'fp-123' } },
        { 'user-agent': 'TestAgent/1.0' },
      );
      assert.equal(response.statusCode, 200);
      const session = await t.stores.sessions.findById(response.json().session_id);
      assert.equal(session?.deviceName, 'Work laptop');
      assert.equal(session?.deviceFingerprint, 'fp-123');
      assert.equal(session?.userAgent, 'TestAgent/1.0');
      assert.equal(session?.ip, '127.0.0.1');
      assert.equal(session!.expiresAt.getTime() - session!.createdAt.getTime(), 30 * 86_400_000);
    });

    it('registers when sign-up is open and refuses taken and look-alike names', async () => {
      const created = await t.app.inject({
        method: 'POST',
        url: '/auth/register',
        payload: { username: 'Frank', email: 'frank@example.com', password: strongPassword },
      });
      assert.equal(created.statusCode, 201);
      assert.equal(created.json().username, 'frank');
      assert.deepEqual(created.json().roles, []);
      for (const username of ['frank', 'FRANK', 'ｆｒａｎｋ']) {
        const again = await t.app.inject({ method: 'POST', url: '/auth/register', payload: { username, password: strongPassword } });
        assert.equal(again.statusCode, 409, username);
        assert.equal(again.json().error, 'username_taken');
      }
      const sameEmail = await t.app.inject({
        method: 'POST',
        url: '/auth/register',
        payload: { username: 'frank2', email: 'FRANK@example.com', password: strongPassword },
      });
      assert.equal(sameEmail.statusCode, 409);
      assert.equal(sameEmail.json().error, 'email_taken');
      const short = await t.app.inject({ method: 'POST', url: '/auth/register', payload: { username: 'gina', password: 'short pw' } });
      assert.equal(short.statusCode, 400);
      assert.equal(short.json().error, 'weak_password');
      assert.deepEqual(short.json().reasons, ['too_short', 'too_weak']);
    });
  });
}
