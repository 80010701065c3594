import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { describe, it } from 'node:test';
import { cryptoParameters, jwsAlgorithms, toLowS, type JwsAlgorithm } from '../algorithms.js';
import { verifyJws } from '../jws.js';
import { verifyJwsWeb, webBase64url } from '../web-jws.js';
import { importKeySet } from './keys.js';
import { importWebKeySet } from './web-keys.js';

/*
 * The Web Crypto path (../web-jws.ts and web-keys.ts, for Deno, Bun and edge runtimes) against the node:crypto path
 * (../jws.ts and keys.ts, the server's and the SDK's under Node): both given the same JWKS document, every token
 * of a table of good and forged ones must get the same result, reason and payload alike.
 */

const digits = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

const pairs: Record<JwsAlgorithm, { privateKey: KeyObject; publicKey: KeyObject }> = {
  RS256: generateKeyPairSync('rsa', { modulusLength: 2048 }),
  PS256: generateKeyPairSync('rsa', { modulusLength: 3072 }),
  ES256: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  EdDSA: generateKeyPairSync('ed25519'),
};

const document = { keys: jwsAlgorithms.map((alg) => ({ ...pairs[alg].publicKey.export({ format: 'jwk' }), kid: alg, alg, use: 'sig' })) };

function signInput(alg: JwsAlgorithm, input: string, privateKey = pairs[alg].privateKey): string {
  const [digest, key] = cryptoParameters(alg, privateKey);
  const signature = sign(digest, Buffer.from(input), key);
  return (alg === 'ES256' ? toLowS(signature) : signature).toString('base64url');
}

function token(alg: JwsAlgorithm, header: Record<string, unknown> = {}, payload: unknown = { sub: 'u1', n: [1, 'ü'] }): string {
  const input = `${b64({ alg, kid: alg, typ: 'at+jwt', ...header })}.${b64(payload)}`;
  return `${input}.${signInput(alg, input)}`;
}

function cases(): [string, string][] {
  const table: [string, string][] = [];
  for (const alg of jwsAlgorithms) {
    const good = token(alg);
    const [h, p, s] = good.split('.') as [string, string, string];
    table.push(
      [`${alg} good`, good],
      [`${alg} tampered payload`, `${h}.${b64({ sub: 'admin' })}.${s}`],
      [`${alg} tampered signature`, `${h}.${p}.${s.slice(0, -2)}${s.endsWith('AA') ? 'BA' : 'AA'}`],
      [`${alg} signature one char short`, `${h}.${p}.${s.slice(0, -1)}`],
      [`${alg} signature with padding`, `${h}.${p}.${s}==`],
      [`${alg} signature with stray bits in its last character`, `${h}.${p}.${s.slice(0, -1)}${digits[digits.indexOf(s.at(-1)!) ^ 1]}`],
      [`${alg} signature of another key`, `${h}.${p}.${signInput(alg, `${h}.${p}`, (alg === 'EdDSA' ? generateKeyPairSync('ed25519') : alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: alg === 'PS256' ? 3072 : 2048 })).privateKey)}`],
      [`${alg} header with jku`, token(alg, { jku: 'https://evil.example/jwks' })],
      [`${alg} header with jwk`, token(alg, { jwk: document.keys[0] })],
      [`${alg} header with crit`, token(alg, { crit: ['exp'] })],
      [`${alg} no kid`, token(alg, { kid: undefined })],
      [`${alg} unknown kid`, token(alg, { kid: 'nobody' })],
      [`${alg} payload not an object`, token(alg, {}, [1, 2])],
      [`${alg} payload not JSON`, (() => { const input = `${b64({ alg, kid: alg })}.${b64('not json')}`; return `${input}.${signInput(alg, input)}`; })()],
      [`${alg} payload with invalid UTF-8, signed by the key (decoded with U+FFFD by both) good`, (() => { const input = `${b64({ alg, kid: alg })}.${Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]).toString('base64url')}`; return `${input}.${signInput(alg, input)}`; })()],
    );
  }
  const rs = token('RS256');
  const [h, p, s] = rs.split('.') as [string, string, string];
  const hsInput = `${b64({ alg: 'HS256', kid: 'RS256' })}.${p}`;
  table.push(
    ['alg none', `${b64({ alg: 'none', kid: 'RS256' })}.${p}.`],
    ['alg none with a signature', `${b64({ alg: 'none', kid: 'RS256' })}.${p}.${s}`],
    ['HS256 keyed with the public key', `${hsInput}.${createHmac('sha256', JSON.stringify(document.keys[0])).update(hsInput).digest('base64url')}`],
    ['RS256 header on the ES256 key', `${b64({ alg: 'RS256', kid: 'ES256' })}.${p}.${s}`],
    ['ES256 high-s twin', (() => {
      const [eh, ep, es] = token('ES256').split('.') as [string, string, string];
      const bytes = Buffer.from(es, 'base64url');
      const n = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
      const high = (n - BigInt(`0x${bytes.subarray(32).toString('hex')}`)).toString(16).padStart(64, '0');
      return `${eh}.${ep}.${Buffer.concat([bytes.subarray(0, 32), Buffer.from(high, 'hex')]).toString('base64url')}`;
    })()],
    ['two segments', `${h}.${p}`],
    ['four segments', `${rs}.${s}`],
    ['empty payload', `${h}..${s}`],
    ['empty', ''],
    ['dots only', '..'],
    ['a space inside', `${h}.${p} .${s}`],
    ['a header with a lone trailing character', `${h}A.${p}.${s}`],
    ['a header that is not JSON', `${b64('{"alg":')}.${p}.${s}`],
    ['a header that is an array', `${b64(['RS256'])}.${p}.${s}`],
    ['a non-ASCII character', `${h}.${p}é.${s}`],
  );
  return table;
}

describe('verification core: the Web Crypto path agrees with node:crypto', () => {
  it('imports the same key set and gives every good and forged token the same verdict', async () => {
    const nodeKeys = importKeySet(document, jwsAlgorithms);
    const webKeys = await importWebKeySet(document, jwsAlgorithms);
    assert.deepEqual([...webKeys.keys()], [...nodeKeys.keys()]);
    for (const [kid, key] of webKeys) assert.equal(key.signatureLength, nodeKeys.get(kid)!.signatureLength, kid);
    for (const [label, candidate] of cases()) {
      const viaNode = verifyJws(candidate, (kid) => nodeKeys.get(kid));
      const viaWeb = await verifyJwsWeb(candidate, (kid) => webKeys.get(kid));
      const view = (result: typeof viaNode | typeof viaWeb) => (result.ok ? { ok: true, header: result.header, payload: result.payload, kid: result.header.kid } : result);
      assert.deepEqual(view(viaWeb), view(viaNode), label);
      // A 3072-bit RSA signature (PS256 here) fills its last character: no stray bits to have.
      if (label.includes('stray bits') && !label.startsWith('PS256')) assert.deepEqual(viaNode, { ok: false, reason: 'bad_signature', detail: 'malformed signature' }, label);
      if (label.endsWith(' good')) assert.equal(viaNode.ok, true, label);
      else assert.equal(viaNode.ok, false, `${label}: ${JSON.stringify(viaNode.ok && viaNode.payload)}`);
    }
  });

  it('refuses the same key set documents with the same messages', async () => {
    const rsa = document.keys[0]!;
    const small = { ...generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' }), kid: 'small', alg: 'RS256' };
    const documents: [string, unknown][] = [
      ['private member', { keys: [{ ...rsa, d: 'AAAA' }] }],
      ['oct key', { keys: [{ kty: 'oct', k: 'c2VjcmV0', kid: 'h' }] }],
      ['duplicate kid', { keys: [rsa, rsa] }],
      ['RSA under 2048 bits', { keys: [small] }],
      ['an RSA key without alg where RS256 and PS256 are allowed', { keys: [{ ...rsa, alg: undefined }] }],
      ['an EC key on P-384', { keys: [{ ...generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' }), kid: 'p384' }] }],
      ['an EC point off the curve', { keys: [{ ...document.keys[2], x: webBase64url.encode(new Uint8Array(32).fill(7)) }] }],
      ['not a document', 'keys'],
      ['use enc', { keys: [{ ...rsa, use: 'enc' }] }],
    ];
    for (const [label, doc] of documents) {
      let nodeMessage = 'accepted';
      let webMessage = 'accepted';
      try {
        importKeySet(doc, jwsAlgorithms);
      } catch (error) {
        nodeMessage = (error as Error).message;
      }
      try {
        await importWebKeySet(doc, jwsAlgorithms);
      } catch (error) {
        webMessage = (error as Error).message;
      }
      assert.notEqual(nodeMessage, 'accepted', label);
      assert.equal(webMessage, nodeMessage, label);
    }
  });
});
