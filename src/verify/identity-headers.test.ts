import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { headerValue, identityHeaderNames, identityHeaders } from './identity-headers.js';

describe('verification core: identity headers', () => {
  it('are a pure function of the claims: all six, lists comma-separated, empty when absent', () => {
    const claims = { sub: 'u-1', username: 'alice', roles: ['admin', 'support'], permissions: ['orders:read', 'orders:write'], sid: 's-1', tenant: 'acme' };
    assert.deepEqual(identityHeaders(claims), {
      'x-user-id': 'u-1',
      'x-username': 'alice',
      'x-roles': 'admin,support',
      'x-permissions': 'orders:read,orders:write',
      'x-session-id': 's-1',
      'x-tenant-id': 'acme',
    });
    assert.deepEqual(identityHeaders({ sub: 'u-2', roles: [], permissions: [], sid: 's-2' }), {
      'x-user-id': 'u-2',
      'x-username': '',
      'x-roles': '',
      'x-permissions': '',
      'x-session-id': 's-2',
      'x-tenant-id': '',
    });
    assert.deepEqual(Object.keys(identityHeaders(claims)), [...identityHeaderNames]);
  });

  it('percent-encodes anything that is not printable ASCII, so no value can split or break a header', () => {
    const cases: [string, string][] = [
      ['alice', 'alice'],
      ['a b~!', 'a b~!'],
      ['дмитрий', '%D0%B4%D0%BC%D0%B8%D1%82%D1%80%D0%B8%D0%B9'],
      ['evil\r\nX-Roles: admin', 'evil%0D%0AX-Roles%3A%20admin'],
      ['nul\u0000', 'nul%00'],
      ['tab\t', 'tab%09'],
    ];
    for (const [value, expected] of cases) {
      assert.equal(headerValue(value), expected, JSON.stringify(value));
      assert.doesNotMatch(identityHeaders({ sub: 'u', username: value, roles: [value], permissions: [], sid: 's' })['x-roles'], /[^\x20-\x7e]/);
    }
  });
});
