import type { AccessTokenClaims } from './claims.js';

/**
 * The identity headers a verified request carries to the service behind a proxy or gateway
 * (SPEC §3, GET /auth/verify), lower-case as HTTP/2 and Node send them. All six are always set,
 * empty when there is no value, so a proxy that copies them replaces every client-sent one.
 */
export const identityHeaderNames = ['x-user-id', 'x-username', 'x-roles', 'x-permissions', 'x-session-id', 'x-tenant-id'] as const;

export type IdentityHeaderName = (typeof identityHeaderNames)[number];

/** The claims the identity headers are made of. */
export type IdentityClaims = Pick<AccessTokenClaims, 'sub' | 'username' | 'roles' | 'permissions' | 'sid' | 'tenant'>;

/**
 * A header value: printable ASCII as it is; anything else (a Cyrillic username, a control
 * character) percent-encoded, so a header can never be refused by Node or split by a proxy.
 */
export function headerValue(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}

/** The identity headers of verified claims; lists are comma-separated (SPEC §3). */
export function identityHeaders(claims: IdentityClaims): Record<IdentityHeaderName, string> {
  return {
    'x-user-id': headerValue(claims.sub),
    'x-username': headerValue(claims.username ?? ''),
    'x-roles': headerValue(claims.roles.join(',')),
    'x-permissions': headerValue(claims.permissions.join(',')),
    'x-session-id': headerValue(claims.sid),
    'x-tenant-id': headerValue(claims.tenant ?? ''),
  };
}
