import { maxTokenBytes } from './access-token-checks.js';
import type { VerifyClock } from './claims.js';
import { isHighS, lowSTwin, type Base64url, type PinnedKey, type PinnedKeyLookup, type VerifiedJwsOf } from './jws-structure.js';
import { refuse, type Refusal } from './result.js';

/*
 * Access tokens of providers other than Tessera (Cognito, Auth0, Keycloak, any OpenID provider):
 * the same compact JWS core (jws.ts: key by kid, the key's own algorithm, no key-bearing header
 * members), then the RFC 7519 / RFC 9068 checks such providers can all pass. Tessera's own
 * tokens keep the stricter checks of access-token.ts.
 */

/** The claims every accepted external token carries; the rest of the payload is kept as issued. */
export interface ExternalClaims {
  iss: string;
  sub: string;
  exp: number;
  [claim: string]: unknown;
}

export interface ExternalTokenPolicy {
  keys: PinnedKeyLookup<PinnedKey>;
  /** The one issuer accepted. */
  issuer: string;
  /** This verifier's audience: in `aud`, or, when the token has no `aud`, its `client_id` (Cognito). */
  audience: string;
  /** When set, `token_use` must equal it (Cognito: `access`, so its ID tokens are refused). */
  tokenUse?: string;
  clock: VerifyClock;
  /** Leeway for exp, nbf and iat, in seconds (default 30). */
  leewaySeconds?: number;
}

export type ExternalTokenResult = { readonly ok: true; readonly claims: ExternalClaims } | Refusal;

/** RFC 9068 §4's `at+jwt`, or the generic `JWT` (RFC 7519 §5.1) many providers put; any case, optional application/. */
const externalType = /^(application\/)?(at\+)?jwt$/i;

const shapes: readonly (readonly [string, 'string' | 'number' | 'audience', boolean])[] = [
  ['iss', 'string', true],
  ['exp', 'number', true],
  ['sub', 'string', true],
  ['aud', 'audience', false],
  ['client_id', 'string', false],
  ['iat', 'number', false],
  ['nbf', 'number', false],
  ['token_use', 'string', false],
  ['scope', 'string', false],
];

function hasShape(value: unknown, shape: 'string' | 'number' | 'audience'): boolean {
  if (shape === 'audience') return typeof value === 'string' || (Array.isArray(value) && value.every((item) => typeof item === 'string'));
  return shape === 'number' ? typeof value === 'number' && Number.isFinite(value) : typeof value === 'string';
}

/** The header and claims checks of a verified external token, in a fixed order. */
export function createExternalClaimsCheck(policy: Omit<ExternalTokenPolicy, 'keys'>): (header: Readonly<Record<string, unknown>>, payload: Record<string, unknown>) => ExternalTokenResult {
  const { issuer, audience, tokenUse, clock } = policy;
  const leeway = policy.leewaySeconds ?? 30;
  return (header, payload) => {
    // An ID token (typ absent or JWT) passes this; `tokenUse` or the audience is what tells them apart.
    if (header.typ !== undefined && (typeof header.typ !== 'string' || !externalType.test(header.typ))) return refuse('wrong_type', 'typ is not JWT or at+jwt');
    for (const [name, shape, required] of shapes) {
      if (payload[name] === undefined) {
        if (required) return refuse('missing_claim', `no ${name}`);
      } else if (!hasShape(payload[name], shape)) return refuse('invalid_claim', `${name} is not a ${shape}`);
    }
    const claims = payload as ExternalClaims;
    if (claims.iss !== issuer) return refuse('wrong_issuer', 'wrong issuer');
    if (tokenUse !== undefined && claims.token_use !== tokenUse) return refuse('wrong_type', 'token_use is not the one configured');
    const aud = claims.aud as string | string[] | undefined;
    const audienceHolds = aud === undefined ? claims.client_id === audience : aud === audience || (Array.isArray(aud) && aud.includes(audience));
    if (!audienceHolds) return refuse('wrong_audience', 'wrong audience');
    const now = clock.now() / 1000;
    if (claims.exp + leeway <= now) return refuse('expired', 'expired');
    if (typeof claims.nbf === 'number' && claims.nbf - leeway > now) return refuse('not_yet_valid', 'not yet valid');
    if (typeof claims.iat === 'number' && claims.iat - leeway > now) return refuse('issued_in_future', 'iat in the future');
    return { ok: true, claims };
  };
}

const segment = /^[A-Za-z0-9_-]+$/;

/** A compact JWS check of either runtime (node:crypto or Web Crypto): the same rules, jws-structure.ts. */
export interface JwsCheck {
  verify(token: string, keys: PinnedKeyLookup<PinnedKey>): VerifiedJwsOf<PinnedKey> | Refusal | Promise<VerifiedJwsOf<PinnedKey> | Refusal>;
  readonly base64url: Base64url;
}

/**
 * Tessera signs ES256 with a low s and refuses the high-s twin, so each of its tokens has one
 * signature. Other signers pick either s at random, half of their tokens high; (r, s) verifies
 * exactly when (r, n − s) does, so a high-s external token under an ES256 key is checked again
 * with its low-s twin. The key, the algorithm and every other check stay the core's.
 */
function withLowS(token: string, codec: Base64url): string {
  const lastDot = token.lastIndexOf('.');
  const signaturePart = token.slice(lastDot + 1);
  if (lastDot < 0 || signaturePart.length !== 86 || !segment.test(signaturePart)) return token;
  const signature = codec.decode(signaturePart);
  if (signature.length !== 64 || !isHighS(signature)) return token;
  return `${token.slice(0, lastDot + 1)}${codec.encode(lowSTwin(signature))}`;
}

/** The external verifier: size cap, the JWS core, then the checks above. Never throws (or rejects) for any input. */
export function createExternalTokenVerifier(policy: ExternalTokenPolicy, jws: JwsCheck): { verify(token: unknown): ExternalTokenResult | Promise<ExternalTokenResult> } {
  const check = createExternalClaimsCheck(policy);
  const tooLarge = refuse('too_large', 'token too large or not a string');

  function after(token: string, result: VerifiedJwsOf<PinnedKey> | Refusal, keyAlg: string | undefined): ExternalTokenResult | Promise<ExternalTokenResult> {
    // Only for an ES256 key: an Ed25519 signature is 64 bytes too, and has no twin.
    if (!result.ok && result.reason === 'bad_signature' && keyAlg === 'ES256') {
      const lowered = withLowS(token, jws.base64url);
      if (lowered !== token) {
        const again = jws.verify(lowered, policy.keys);
        return again instanceof Promise ? again.then(finish) : finish(again);
      }
    }
    return finish(result);
  }

  function finish(result: VerifiedJwsOf<PinnedKey> | Refusal): ExternalTokenResult {
    if (!result.ok) return result;
    return check(result.header, result.payload);
  }

  return {
    verify(token) {
      if (typeof token !== 'string' || token.length > maxTokenBytes) return tooLarge;
      let keyAlg: string | undefined;
      const result = jws.verify(token, (kid) => {
        const key = policy.keys(kid);
        keyAlg = key?.alg;
        return key;
      });
      return result instanceof Promise ? result.then((done) => after(token, done, keyAlg)) : after(token, result, keyAlg);
    },
  };
}
