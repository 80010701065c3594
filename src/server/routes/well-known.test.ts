import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../../test-support/app.js';
import { testBackends } from '../../test-support/databases.js';

/*
 * Discovery advertises only what is served (issue 11, item 10): every endpoint it names answers
 * with the method that endpoint takes, and no grant, response type or ID-token field is listed
 * for a flow Tessera does not implement, so generic OAuth / OIDC clients are not sent astray.
 */

/** Each endpoint field RFC 8414 and OpenID Discovery define, with the method its endpoint takes. */
const endpointMethods: Record<string, 'GET' | 'POST'> = {
  jwks_uri: 'GET',
  authorization_endpoint: 'GET',
  token_endpoint: 'POST',
  userinfo_endpoint: 'GET',
  registration_endpoint: 'POST',
  revocation_endpoint: 'POST',
  introspection_endpoint: 'POST',
  end_session_endpoint: 'GET',
  device_authorization_endpoint: 'POST',
  pushed_authorization_request_endpoint: 'POST',
};

/** Fields that only mean something for flows Tessera does not serve (no authorization endpoint, no ID tokens, no RFC 6749 token endpoint). */
const unservedFields = [
  'grant_types_supported',
  'response_types_supported',
  'response_modes_supported',
  'subject_types_supported',
  'id_token_signing_alg_values_supported',
  'id_token_encryption_alg_values_supported',
  'token_endpoint',
  'token_endpoint_auth_methods_supported',
  'authorization_endpoint',
  'userinfo_endpoint',
  'claims_supported',
  'scopes_supported',
];

for (const backend of testBackends()) {
  describe(`discovery metadata (${backend.name})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(backend);
    });
    after(() => t.close());

    for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
      it(`${path}: every advertised endpoint answers, and nothing unserved is listed`, async () => {
        const response = await t.app.inject({ url: path });
        assert.equal(response.statusCode, 200, response.body);
        const metadata = response.json() as Record<string, unknown>;
        assert.equal(metadata.issuer, t.config.issuer);

        const endpoints = Object.keys(metadata).filter((field) => field.endsWith('_endpoint') || field.endsWith('_uri'));
        assert.ok(endpoints.includes('jwks_uri'));
        for (const field of endpoints) {
          const method = endpointMethods[field];
          assert.ok(method, `${field} is an endpoint this test knows how to call`);
          const url = String(metadata[field]);
          assert.ok(url.startsWith(`${t.config.issuer}/`), `${field} is under the issuer`);
          const answer = await t.app.inject({ method, url: url.slice(t.config.issuer.length), payload: method === 'POST' ? {} : undefined });
          assert.notEqual(answer.statusCode, 404, `${field} (${method} ${url}) answers`);
        }
        for (const field of unservedFields) assert.equal(metadata[field], undefined, `${field} is not advertised`);

        const jwks = (await t.app.inject({ url: '/.well-known/jwks.json' })).json() as { keys: { alg: string }[] };
        assert.deepEqual(metadata.access_token_signing_alg_values_supported, [...new Set(jwks.keys.map((key) => key.alg))]);
        assert.deepEqual(metadata.revocation_endpoint_auth_methods_supported, ['none']);
      });
    }
  });
}
