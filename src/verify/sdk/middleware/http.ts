import { VerifyError } from '../errors.js';
import type { Verifier } from '../verifier.js';

/**
 * The framework-neutral core of the Express, Fastify and Hono middlewares: it reads the bearer
 * token from the Authorization header only (RFC 6750 §2.1; never the query string or the body),
 * verifies it and turns the outcome into a status, headers and a SPEC-shaped body. The adapters
 * only read the request and write the answer, so all three behave alike.
 */

/** The claims the verifier resolves to; follows the Verifier's type when it grows. */
export type Claims = Awaited<ReturnType<Verifier['verify']>>;

export interface TesseraAuthOptions {
  /** A verifier from `createVerifier` (tessera/verify); only its `verify` is used. */
  verifier: Pick<Verifier, 'verify'>;
  /** Permissions the token must all carry, else 403. */
  permissions?: readonly string[];
  /** When true, a request without an Authorization header passes with no claims; a bad token is still refused. */
  optional?: boolean;
  /** Sent as `realm="…"` in WWW-Authenticate. */
  realm?: string;
}

export interface ErrorBody {
  error: string;
  error_description: string;
}

export interface Refusal {
  status: 400 | 401 | 403 | 503;
  headers: Record<string, string>;
  body: ErrorBody;
}

/** `claims` is undefined only for an optional middleware and a request without an Authorization header. */
export type Outcome = { ok: true; claims: Claims | undefined } | { ok: false; refusal: Refusal };

export interface Authenticator {
  /** Never rejects. `authorization` is every Authorization header value the request carried, in order. */
  authenticate(authorization: readonly string[]): Promise<Outcome>;
}

// Fixed texts: nothing in an answer is taken from the request or from an error's message.
// They go into WWW-Authenticate quoted-strings too, so none may hold a `"` or a `\`.
const descriptions = {
  missing: 'An access token is required.',
  malformed: 'The Authorization header must be one Bearer scheme and one token.',
  invalid: 'The access token is invalid.',
  expired: 'The access token has expired.',
  revoked: 'The access token has been revoked.',
  insufficient: 'The access token lacks a permission this resource requires.',
  unavailable: 'The access token cannot be verified right now; try again later.',
} as const;

/** RFC 6750 §2.1: `Bearer` (any case), one space, one token68: the token68 part. */
const token68Pattern = /^[A-Za-z0-9\-._~+/]+=*$/;
/** A quoted-string's content without escapes: visible ASCII and space, less `"` and `\`. */
const realmPattern = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
/** RFC 6749 §3.3 scope-token. */
const scopeTokenPattern = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

type BearerHeader = { kind: 'absent' } | { kind: 'token'; token: string } | { kind: 'other_scheme' } | { kind: 'malformed' };

export function parseAuthorization(values: readonly string[]): BearerHeader {
  if (values.length === 0) return { kind: 'absent' };
  // Several headers (or one comma-joined by a proxy or the framework) are ambiguous: refuse them.
  if (values.length > 1) return { kind: 'malformed' };
  const value = values[0]!.trim();
  // The scheme by a prefix compare and the token by one anchored scan: this runs on every request.
  if (value.length > 7 && value.charCodeAt(6) === 0x20 && value.slice(0, 6).toLowerCase() === 'bearer') {
    const token = value.slice(7);
    // A comma (several values joined) or a second space is not one token68: malformed below.
    if (token68Pattern.test(token)) return { kind: 'token', token };
  }
  if (value.includes(',')) return { kind: 'malformed' };
  // Another scheme (Basic, Digest, …) carries no bearer credentials: answered as missing ones (RFC 6750 §3.1).
  if (/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+( |$)/.test(value) && !/^bearer( |$)/i.test(value)) return { kind: 'other_scheme' };
  return { kind: 'malformed' };
}

function invalidOptions(message: string): VerifyError {
  return new VerifyError('invalid_options', message);
}

function checkedOptions(options: TesseraAuthOptions) {
  if (typeof options !== 'object' || options === null) throw invalidOptions('tesseraAuth options must be an object');
  const { verifier, permissions = [], optional = false, realm } = options;
  if (typeof verifier !== 'object' || verifier === null || typeof verifier.verify !== 'function') {
    throw invalidOptions('tesseraAuth verifier must be a Verifier from createVerifier');
  }
  if (!Array.isArray(permissions) || !permissions.every((permission) => typeof permission === 'string' && scopeTokenPattern.test(permission))) {
    throw invalidOptions('tesseraAuth permissions must be a list of non-empty strings without spaces, quotes or backslashes');
  }
  if (typeof optional !== 'boolean') throw invalidOptions('tesseraAuth optional must be a boolean');
  if (realm !== undefined && (typeof realm !== 'string' || !realmPattern.test(realm))) {
    throw invalidOptions('tesseraAuth realm must be a string of printable ASCII without quotes or backslashes');
  }
  return { verifier, permissions: [...permissions] as readonly string[], optional, realm };
}

/** Checks the options at once (throwing VerifyError `invalid_options`), then answers requests. */
export function createAuthenticator(options: TesseraAuthOptions): Authenticator {
  const { verifier, permissions, optional, realm } = checkedOptions(options);
  const verifyOptions = permissions.length > 0 ? { permissions } : {};

  function challenge(attributes: Record<string, string>): string {
    const all = realm === undefined ? attributes : { realm, ...attributes };
    const parts = Object.entries(all).map(([name, value]) => `${name}="${value}"`);
    return parts.length === 0 ? 'Bearer' : `Bearer ${parts.join(', ')}`;
  }

  function refuse(status: Refusal['status'], error: string, description: string, headers: Record<string, string>): Outcome {
    return { ok: false, refusal: { status, headers: { 'cache-control': 'no-store', ...headers }, body: { error, error_description: description } } };
  }

  function unauthorized(description: string): Outcome {
    return refuse(401, 'invalid_token', description, { 'www-authenticate': challenge({ error: 'invalid_token', error_description: description }) });
  }

  function unavailable(): Outcome {
    return refuse(503, 'service_unavailable', descriptions.unavailable, { 'retry-after': '5' });
  }

  function refusalOf(error: unknown): Outcome {
    // Anything but a VerifyError about the token is a fault of ours: never an acceptance, never its message.
    if (!(error instanceof VerifyError)) return unavailable();
    switch (error.code) {
      case 'invalid_token':
        return unauthorized(descriptions.invalid);
      case 'token_expired':
        return unauthorized(descriptions.expired);
      case 'token_revoked':
        return unauthorized(descriptions.revoked);
      case 'insufficient_permissions': {
        const attributes: Record<string, string> = { error: 'insufficient_scope', error_description: descriptions.insufficient };
        if (permissions.length > 0) attributes.scope = permissions.join(' ');
        return refuse(403, 'insufficient_permissions', descriptions.insufficient, { 'www-authenticate': challenge(attributes) });
      }
      default:
        // jwks_unavailable, revocation_unavailable, invalid_options and codes added later: fail closed.
        return unavailable();
    }
  }

  return {
    async authenticate(authorization) {
      const header = parseAuthorization(authorization);
      if (header.kind === 'absent' && optional) return { ok: true, claims: undefined };
      if (header.kind === 'absent' || header.kind === 'other_scheme') {
        return refuse(401, 'invalid_token', descriptions.missing, { 'www-authenticate': challenge({}) });
      }
      if (header.kind === 'malformed') {
        return refuse(400, 'invalid_request', descriptions.malformed, {
          'www-authenticate': challenge({ error: 'invalid_request', error_description: descriptions.malformed }),
        });
      }
      try {
        return { ok: true, claims: await verifier.verify(header.token, verifyOptions) };
      } catch (error) {
        return refusalOf(error);
      }
    },
  };
}

/**
 * Every Authorization value of a Node request. Node keeps only the first of duplicated
 * Authorization headers in `headers`, so the raw list is read to see them all.
 */
export function nodeAuthorization(rawHeaders: readonly string[] | undefined, parsed: string | string[] | undefined): string[] {
  if (Array.isArray(rawHeaders)) {
    const values: string[] = [];
    for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
      if (rawHeaders[index]!.toLowerCase() === 'authorization') values.push(rawHeaders[index + 1]!);
    }
    return values;
  }
  if (parsed === undefined) return [];
  return Array.isArray(parsed) ? parsed : [parsed];
}
