import { sign, type KeyObject, type SignKeyObjectInput } from 'node:crypto';
import { promisify } from 'node:util';
import type { SigningAlg } from '../config/schema.js';
import { cryptoParameters, toLowS } from '../verify/algorithms.js';

const signAsync = promisify(sign) as (algorithm: string | null, data: Buffer, key: KeyObject | SignKeyObjectInput) => Promise<Buffer>;

const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * Signs a compact JWS with our own private key. The signature runs on the libuv thread pool
 * (node:crypto's asynchronous sign), so the event loop keeps serving requests meanwhile; jose's
 * WebCrypto signing costs ~0.3 ms of event-loop time per RS256 token here (ADR 004). Tokens are
 * verified by our own code too, in src/verify/ (ADR 008). Tests check every algorithm against
 * jose and a second, independent library (fast-jwt).
 */
export async function signCompactJws(
  header: { alg: SigningAlg; kid: string; typ: string },
  payload: object,
  key: KeyObject,
): Promise<string> {
  const input = `${encode(header)}.${encode(payload)}`;
  // SigningAlg must stay within what src/verify/ verifies: this call does not compile otherwise.
  const [digest, signingKey] = cryptoParameters(header.alg, key);
  const raw = await signAsync(digest, Buffer.from(input), signingKey);
  // ES256 signatures are issued with a low s only: the verifier refuses the high-s twin.
  const signature = header.alg === 'ES256' ? toLowS(raw) : raw;
  return `${input}.${signature.toString('base64url')}`;
}
