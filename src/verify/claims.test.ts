import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkType, withinValidity } from './claims.js';

describe('verification core: claims', () => {
  it('typ is at+jwt, with or without application/, in any case (RFC 9068 §4)', () => {
    for (const typ of ['at+jwt', 'AT+JWT', 'application/at+jwt', 'Application/At+Jwt']) assert.equal(checkType({ typ }), undefined, typ);
    for (const typ of [undefined, 'JWT', 'jwt', 'at+jwt ', 'application/jwt', 'x/at+jwt', 1, ['at+jwt']]) {
      assert.deepEqual(checkType({ typ }), { ok: false, reason: 'wrong_type', detail: 'typ is not at+jwt' }, String(typ));
    }
  });

  it('keeps verified claims valid exactly as long as the verification would (cached tokens)', () => {
    const claims = { exp: 1000, nbf: 100 };
    const cases: [number, boolean][] = [
      [69, false],
      [70, true],
      [1029, true],
      [1029.999, true],
      [1030, false],
    ];
    for (const [now, valid] of cases) assert.equal(withinValidity(claims, now, 30), valid, `at ${now}`);
    assert.equal(withinValidity({ exp: 1000, nbf: undefined as unknown as number }, 0, 30), true, 'no nbf: only exp bounds it');
  });
});
