import type { ExternalClaims } from '../external-claims.js';

/**
 * Where an external provider's permissions or roles are read from: a claim name (a list of
 * strings, or a space-delimited string such as `scope`), or a function of the verified claims.
 */
export type ClaimMapping = string | ((claims: Readonly<Record<string, unknown>>) => string[]);

/** A mapping's outcome: the list, or why the token is refused (never accepted half-mapped). */
export type Mapped = string[] | 'not a list of strings';

function fromClaim(claims: ExternalClaims, name: string): Mapped {
  const value = claims[name];
  if (value === undefined) return [];
  if (typeof value === 'string') return value.split(' ').filter((item) => item.length > 0);
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return [...value];
  return 'not a list of strings';
}

function apply(claims: ExternalClaims, mapping: ClaimMapping): Mapped {
  if (typeof mapping === 'string') return fromClaim(claims, mapping);
  let mapped: unknown;
  try {
    mapped = mapping(claims);
  } catch {
    return 'not a list of strings';
  }
  return Array.isArray(mapped) && mapped.every((item) => typeof item === 'string') ? [...mapped] : 'not a list of strings';
}

/** Default permissions: the `permissions` claim (Auth0 RBAC) when present, else `scope` split on spaces (RFC 9068 §2.2.3). */
export function mapPermissions(claims: ExternalClaims, mapping: ClaimMapping | undefined): Mapped {
  return apply(claims, mapping ?? (claims.permissions !== undefined ? 'permissions' : 'scope'));
}

/** Default roles: the `roles` claim when present, else Cognito's `cognito:groups`, else none. */
export function mapRoles(claims: ExternalClaims, mapping: ClaimMapping | undefined): Mapped {
  return apply(claims, mapping ?? (claims.roles !== undefined ? 'roles' : 'cognito:groups'));
}

export function isClaimMapping(value: unknown): value is ClaimMapping {
  return (typeof value === 'string' && value.length > 0) || typeof value === 'function';
}
