import { refuse, type Refusal } from './result.js';

/*
 * The checks of a compact JWS that need no cryptography, shared by the node:crypto path (jws.ts:
 * the server and the SDK under Node) and the Web Crypto path (web/jws.ts: Deno, Bun, edge
 * runtimes), so both refuse exactly the same tokens for the same reasons. Nothing here imports a
 * runtime module: base64url decoding is handed in by each path.
 */

/** The JWS algorithms Tessera signs and verifies: asymmetric only, so a verifier never holds a signing secret. */
export const jwsAlgorithms = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;

export type JwsAlgorithm = (typeof jwsAlgorithms)[number];

export function isJwsAlgorithm(value: unknown): value is JwsAlgorithm {
  return typeof value === 'string' && (jwsAlgorithms as readonly string[]).includes(value);
}

/** Order of the P-256 group: an ECDSA signature (r, s) also verifies as (r, n − s). */
export const p256Order = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const p256HalfOrder = p256Order >> 1n;

export function readBigInt(bytes: Uint8Array): bigint {
  let hex = '';
  for (const byte of bytes) hex += byte.toString(16).padStart(2, '0');
  return BigInt(`0x${hex || '0'}`);
}

/** ES256 signatures are issued and accepted only with s ≤ n/2, so each token has exactly one signature. */
export function isHighS(signature: Uint8Array): boolean {
  return readBigInt(signature.subarray(32)) > p256HalfOrder;
}

/** The low-s twin (r, n − s) of an ES256 signature R || S with a high s; the signature itself otherwise. */
export function lowSTwin(signature: Uint8Array): Uint8Array {
  if (!isHighS(signature)) return signature;
  let flipped = (p256Order - readBigInt(signature.subarray(32))).toString(16).padStart(64, '0');
  const twin = new Uint8Array(64);
  twin.set(signature.subarray(0, 32));
  for (let i = 0; i < 32; i += 1, flipped = flipped.slice(2)) twin[32 + i] = Number.parseInt(flipped.slice(0, 2), 16);
  return twin;
}

/** What a path verifies with: a key pinned to its one algorithm, and the one length its signatures have. */
export interface PinnedKey {
  readonly alg: JwsAlgorithm;
  readonly signatureLength: number;
}

/** Where keys come from, by kid. Never a key named or carried by the token. */
export type PinnedKeyLookup<K extends PinnedKey> = (kid: string) => K | undefined;

/** Base64url as each runtime does it fastest (Buffer under Node, atob elsewhere). */
export interface Base64url {
  /** The bytes of a segment already known to hold only base64url characters. */
  decode(part: string): Uint8Array;
  /** The canonical encoding of bytes (no padding). */
  encode(bytes: Uint8Array): string;
  /** The text of a segment, as UTF-8. */
  text(part: string): string;
}

/** Header members that would let a token choose its own key or semantics (RFC 8725 §3.10, RFC 7515 §4.1, RFC 7797). */
const forbiddenHeaderMembers = ['jwk', 'jku', 'x5u', 'x5c', 'x5t', 'x5t#S256', 'b64', 'zip', 'enc'] as const;

const segment = /^[A-Za-z0-9_-]+$/;

const base64urlDigits = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Whether a segment of base64url characters (checked before) is the one unpadded encoding of
 * `byteLength` bytes: exactly as many characters, and the bits of the last one past the bytes
 * zero (RFC 4648 §3.5). Cheaper than encoding the decoded bytes again and comparing.
 */
export function isCanonicalBase64url(part: string, byteLength: number): boolean {
  if (part.length !== Math.ceil((byteLength * 4) / 3)) return false;
  const spareBits = (part.length * 6) % 8;
  return spareBits === 0 || (base64urlDigits.indexOf(part[part.length - 1]!) & ((1 << spareBits) - 1)) === 0;
}

function decodeJsonObject(part: string, codec: Base64url): Record<string, unknown> | 'not JSON' | 'not a JSON object' {
  let value: unknown;
  try {
    value = JSON.parse(codec.text(part));
  } catch {
    return 'not JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  return value as Record<string, unknown>;
}

/** Everything checked before the signature, and what the signature check needs. */
export interface PreparedJws<K extends PinnedKey> {
  readonly ok: true;
  readonly header: Readonly<Record<string, unknown>>;
  /** `header.payload`, the JWS signing input (RFC 7515 §5.2), base64url characters only. */
  readonly signingInput: string;
  readonly payloadPart: string;
  readonly key: K;
  readonly signature: Uint8Array;
}

export interface VerifiedJwsOf<K extends PinnedKey> {
  readonly ok: true;
  /** Frozen: one object is shared by every token with the same header segment. */
  readonly header: Readonly<Record<string, unknown>>;
  readonly payload: Record<string, unknown>;
  readonly key: K;
}

/** A header segment's verdict: the header, or why any token with it is refused before its key is looked up. */
type HeaderVerdict = { ok: true; header: Readonly<Record<string, unknown>>; kid: string } | Refusal;

function checkHeader(headerPart: string, codec: Base64url): HeaderVerdict {
  if (!segment.test(headerPart)) return refuse('malformed', 'not a compact JWS');
  const header = decodeJsonObject(headerPart, codec);
  if (typeof header === 'string') return refuse('malformed', `header is ${header}`);
  for (const member of forbiddenHeaderMembers) {
    if (Object.hasOwn(header, member)) return refuse('forbidden_header', `header member ${member} is not accepted`);
  }
  if (Object.hasOwn(header, 'crit')) return refuse('unsupported_crit', 'header member crit is not accepted');
  if (typeof header.kid !== 'string') return refuse('missing_kid', 'no kid');
  return { ok: true, header: Object.freeze(header), kid: header.kid };
}

/*
 * An issuer's tokens share a handful of header segments (one per key), so each segment's verdict
 * is kept: decoding and checking it again per token is a tenth of an RS256 check. Bounded, and
 * emptied when full, so headers made up by a client cost memory only up to the bound.
 */
const headerVerdicts = new Map<string, HeaderVerdict>();
const maxHeaderVerdicts = 256;

function headerVerdict(headerPart: string, codec: Base64url): HeaderVerdict {
  let verdict = headerVerdicts.get(headerPart);
  if (verdict === undefined) {
    verdict = checkHeader(headerPart, codec);
    if (headerVerdicts.size >= maxHeaderVerdicts) headerVerdicts.clear();
    headerVerdicts.set(headerPart, verdict);
  }
  return verdict;
}

/*
 * The order of the checks is part of the contract: it decides which reason a token gets, and
 * forgery detection counts some reasons and not others. Structure, then refused header members,
 * then the kid and its key, then the algorithm against that key, then the signature; the payload
 * is decoded only once the signature holds.
 */
export function prepareJws<K extends PinnedKey>(token: string, keys: PinnedKeyLookup<K>, codec: Base64url): PreparedJws<K> | Refusal {
  const firstDot = token.indexOf('.');
  const lastDot = token.lastIndexOf('.');
  if (firstDot <= 0 || lastDot === firstDot || lastDot === token.length - 1) return refuse('malformed', 'not a compact JWS');
  const headerPart = token.slice(0, firstDot);
  const payloadPart = token.slice(firstDot + 1, lastDot);
  const signaturePart = token.slice(lastDot + 1);
  if (!segment.test(payloadPart) || !segment.test(signaturePart)) return refuse('malformed', 'not a compact JWS');
  const verdict = headerVerdict(headerPart, codec);
  if (!verdict.ok) return verdict;
  const { header } = verdict;
  const key = keys(verdict.kid);
  if (!key) return refuse('unknown_kid', 'unknown kid');
  if (header.alg !== key.alg) {
    return isJwsAlgorithm(header.alg) ? refuse('alg_mismatch', 'alg does not match the key') : refuse('unsupported_alg', 'alg is not an asymmetric algorithm we verify');
  }
  // Exactly one encoding per signature: its length, and no stray bits in its last character.
  if (!isCanonicalBase64url(signaturePart, key.signatureLength)) return refuse('bad_signature', 'malformed signature');
  const signature = codec.decode(signaturePart);
  if (signature.length !== key.signatureLength) return refuse('bad_signature', 'malformed signature');
  if (key.alg === 'ES256' && isHighS(signature)) return refuse('bad_signature', 'high-s ECDSA signature');
  return { ok: true, header, signingInput: token.slice(0, lastDot), payloadPart, key, signature };
}

/** After the signature check: the decoded payload, or the reason to refuse. */
export function finishJws<K extends PinnedKey>(prepared: PreparedJws<K>, valid: boolean, codec: Base64url): VerifiedJwsOf<K> | Refusal {
  if (!valid) return refuse('bad_signature', 'bad signature');
  const payload = decodeJsonObject(prepared.payloadPart, codec);
  if (typeof payload === 'string') return refuse('malformed', `payload is ${payload}`);
  return { ok: true, header: prepared.header, payload, key: prepared.key };
}
