import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testSecret } from '../test-support/config.js';
import { createSealer } from './sealer.js';

const sealer = createSealer(testSecret, 'signing-keys');
const plaintext = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIBx1/+fake+key+material+for+tests==\n-----END PRIVATE KEY-----\n';
const kid = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs';

/** `text` with the character at `index` replaced by a different base64url character. */
function flipChar(text: string, index: number): string {
  const replacement = text[index] === 'A' ? 'B' : 'A';
  return `${text.slice(0, index)}${replacement}${text.slice(index + 1)}`;
}

function parts(sealed: string): [string, string, string] {
  const [version, iv, body] = sealed.split('.');
  assert.ok(version !== undefined && iv !== undefined && body !== undefined);
  return [version, iv, body];
}

describe('sealer', () => {
  it('opens what it sealed, for any text', () => {
    for (const text of [plaintext, '', 'x', 'ünïcødé 名前 🔑', 'a'.repeat(10_000)]) {
      const sealed = sealer.seal(text, kid);
      assert.match(sealed, /^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
      assert.equal(sealer.open(sealed, kid), text);
      assert.equal(createSealer(testSecret, 'signing-keys').open(sealed, kid), text, 'a new sealer with the same secret opens it');
    }
  });

  it('never shows the plaintext in the sealed value', () => {
    const sealed = sealer.seal(plaintext, kid);
    assert.ok(!sealed.includes('PRIVATE KEY'));
    assert.ok(!Buffer.from(parts(sealed)[2], 'base64url').toString('latin1').includes('PRIVATE KEY'));
  });

  it('seals the same plaintext differently each time (random IV)', () => {
    const first = sealer.seal(plaintext, kid);
    const second = sealer.seal(plaintext, kid);
    assert.notEqual(first, second);
    assert.notEqual(parts(first)[1], parts(second)[1], 'different IVs');
    assert.equal(sealer.open(first, kid), plaintext);
    assert.equal(sealer.open(second, kid), plaintext);
  });

  it('refuses a value with any one character of its IV or ciphertext changed', () => {
    const sealed = sealer.seal(plaintext, kid);
    const [version, iv, body] = parts(sealed);
    // The last character of a segment may carry only padding bits; every other one is significant.
    for (let index = 0; index < iv.length - 1; index += 1) {
      assert.throws(() => sealer.open(`${version}.${flipChar(iv, index)}.${body}`, kid), `IV char ${index}`);
    }
    for (let index = 0; index < body.length - 1; index += 1) {
      assert.throws(() => sealer.open(`${version}.${iv}.${flipChar(body, index)}`, kid), `body char ${index}`);
    }
  });

  it('refuses a value with any one bit of its ciphertext or tag flipped', () => {
    const sealed = sealer.seal(plaintext, kid);
    const [version, iv, body] = parts(sealed);
    const bytes = Buffer.from(body, 'base64url');
    for (let index = 0; index < bytes.length; index += 1) {
      const tampered = Buffer.from(bytes);
      tampered[index]! ^= 0x01;
      assert.throws(() => sealer.open(`${version}.${iv}.${tampered.toString('base64url')}`, kid), `byte ${index}`);
    }
  });

  it('refuses a value spliced from two seals', () => {
    const [version, ivA] = parts(sealer.seal(plaintext, kid));
    const [, , bodyB] = parts(sealer.seal(plaintext, kid));
    assert.throws(() => sealer.open(`${version}.${ivA}.${bodyB}`, kid));
  });

  it('refuses a value sealed for other associated data', () => {
    const sealed = sealer.seal(plaintext, kid);
    for (const other of ['', 'other-kid', kid.slice(1), `${kid} `, kid.toLowerCase()]) {
      assert.throws(() => sealer.open(sealed, other), `associated data ${JSON.stringify(other)}`);
    }
  });

  it('refuses a value sealed for another purpose', () => {
    const sealed = sealer.seal(plaintext, kid);
    assert.throws(() => createSealer(testSecret, 'refresh-tokens').open(sealed, kid));
    assert.throws(() => createSealer(testSecret, 'signing-keys ').open(sealed, kid));
    assert.throws(() => sealer.open(createSealer(testSecret, 'refresh-tokens').seal(plaintext, kid), kid));
  });

  it('refuses a value sealed under another secret', () => {
    const sealed = sealer.seal(plaintext, kid);
    assert.throws(() => createSealer(`${testSecret}x`, 'signing-keys').open(sealed, kid));
    assert.throws(() => createSealer('another-secret-another-secret-another-secret', 'signing-keys').open(sealed, kid));
  });

  it('refuses garbage', () => {
    const sealed = sealer.seal(plaintext, kid);
    const [, iv, body] = parts(sealed);
    const garbage = [
      '',
      'garbage',
      'v1',
      'v1.',
      'v1..',
      '...',
      'v1.x.y',
      'v1.AAAA.BBBB',
      'v1.!!!!!!!!!!!!!!!!.????????????????????????',
      `v2.${iv}.${body}`,
      `V1.${iv}.${body}`,
      `${iv}.${body}`,
      `v1.${iv}`,
      `v1.${iv}.${body}.extra`,
      `v1.${iv}.${body.slice(0, 20)}`,
      `v1.${iv}.`,
      `v1..${body}`,
      `v1.${iv.slice(0, 8)}.${body}`,
      `v1.${iv}AAAA.${body}`,
      `v1.${iv}.${'A'.repeat(body.length)}`,
      sealed.slice(0, -4),
      ` ${sealed}`,
    ];
    for (const value of garbage) {
      assert.throws(() => sealer.open(value, kid), `garbage ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`);
    }
  });
});
