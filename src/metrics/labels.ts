/*
 * Every metric label takes its value from a fixed set, so that no client can mint a new time
 * series (and grow Prometheus without bound) by sending a new path, method, name or header. A
 * value outside its set is counted as `other`.
 */

export const otherLabel = 'other';

/** The value when it belongs to `allowed`, else `other`. */
export function oneOf(allowed: ReadonlySet<string>, value: unknown): string {
  return typeof value === 'string' && allowed.has(value) ? value : otherLabel;
}

export const httpMethods: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** The route label of a request that matched no route (404s, malformed URLs). */
export const unmatchedRoute = 'unmatched';

/** A status code as a label: the three digits of a valid HTTP status, else `other`. */
export function statusLabel(status: number): string {
  return Number.isInteger(status) && status >= 100 && status <= 599 ? String(status) : otherLabel;
}

/**
 * The failure reasons /metrics shows. Unknown name, wrong password and disabled account are one
 * reason, as they are one answer: /metrics may be open, and must not tell which names exist (the
 * audit, admin-only, keeps the exact reason).
 */
export const loginFailureReasons: ReadonlySet<string> = new Set(['invalid_credentials', 'locked']);

/** The /metrics reason of a `login.failed` reason. */
export function publicLoginFailureReason(reason: unknown): string {
  return reason === 'unknown_user' || reason === 'wrong_password' || reason === 'user_disabled' ? 'invalid_credentials' : oneOf(loginFailureReasons, reason);
}

/** `session.revoked` and `user.tokens_revoked` reasons (docs/events.md). */
export const revocationReasons: ReadonlySet<string> = new Set([
  'logout',
  'logout_all',
  'ended_by_user',
  'revoked',
  'refresh_token_reused',
  'session_binding',
  'session_limit',
  'user_disabled',
  'password_changed',
  'password_reset',
  'admin',
]);

export const tokenTypes: ReadonlySet<string> = new Set(['access_token', 'refresh_token']);

export const rateLimiters: ReadonlySet<string> = new Set(['ip', 'login-ip', 'login-account', 'refresh', 'reset', 'signup', 'api-key']);

/** How an API-key verification ended (api-keys/service.ts). */
export const apiKeyOutcomes: ReadonlySet<string> = new Set(['valid', 'invalid', 'revoked', 'expired', 'rate_limited']);

export const tokenRejectionReasons: ReadonlySet<string> = new Set(['bad_signature', 'unknown_key', 'bad_header', 'api_key_invalid']);

export const accessDeniedReasons: ReadonlySet<string> = new Set(['forbidden', 'insufficient_permissions', 'not_token_owner', 'ip_blocked']);

export const incidentTypes: ReadonlySet<string> = new Set([
  'brute_force',
  'password_spraying',
  'distributed_attack',
  'refresh_token_reuse',
  'forged_tokens',
  'new_device',
  'audit_chain_broken',
]);
