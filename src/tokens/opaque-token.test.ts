import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateOpaqueToken, hashTokenSecret, parseOpaqueToken, tokenSecretMatches } from './opaque-token.js';

describe('refresh tokens', () => {
  it('are <128-bit id>.<256-bit secret> and only the secret hash is kept', () => {
    const token = generateOpaqueToken();
    assert.match(token.token, /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(token.secret, 'base64url').length, 32);
    assert.equal(Buffer.from(token.id, 'base64url').length, 16);
    assert.equal(token.secretHash, hashTokenSecret(token.secret));
    assert.ok(!token.secretHash.includes(token.secret));
    assert.deepEqual(parseOpaqueToken(token.token), { id: token.id, secret: token.secret });
    assert.equal(tokenSecretMatches(token.secret, token.secretHash), true);
    assert.equal(tokenSecretMatches(generateOpaqueToken().secret, token.secretHash), false);
    assert.notEqual(generateOpaqueToken().token, token.token);
  });

  it('parses nothing that is not exactly of that shape', () => {
    const { token } = generateOpaqueToken();
    for (const bad of [
      undefined,
      null,
      42,
      { $ne: null },
      ['a'],
      '',
      token.slice(1),
      `${token}x`,
      token.replace('.', ''),
      token.replace('.', '..'),
      `${token.slice(0, 22)}.${'='.repeat(43)}`,
      `${'a'.repeat(22)}.${'b'.repeat(42)}/`,
      'x'.repeat(100_000),
    ]) {
      assert.equal(parseOpaqueToken(bad), undefined, String(bad).slice(0, 30));
    }
  });
});
