/**
 * Every error code Tessera answers with, its HTTP status and a client-safe description.
 * The description is what a client sees when the code is raised without a more specific one;
 * it never contains request data.
 */
export const errorCodes = {
  invalid_request: { status: 400, description: 'The request is malformed.' },
  weak_password: { status: 400, description: 'The password does not meet the password policy.' },
  password_breached: { status: 400, description: 'This password appears in known data breaches; choose another.' },
  password_reused: { status: 400, description: 'This password was used recently on this account; choose another.' },
  invalid_credentials: { status: 401, description: 'Invalid username or password.' },
  invalid_token: { status: 401, description: 'The access token is missing, malformed, expired or revoked.' },
  invalid_grant: { status: 401, description: 'The refresh token is invalid, expired or revoked.' },
  forbidden: { status: 403, description: 'You are not allowed to do this.' },
  signup_disabled: { status: 403, description: 'Self-service sign-up is disabled.' },
  insufficient_permissions: { status: 403, description: 'The token lacks a required permission.' },
  not_token_owner: { status: 403, description: 'That token belongs to another user.' },
  ip_blocked: { status: 403, description: 'Requests from this address are blocked for a while after suspicious activity.' },
  conflict: { status: 409, description: 'The resource is not in a state that allows this.' },
  not_found: { status: 404, description: 'Not found.' },
  username_taken: { status: 409, description: 'That username is already taken.' },
  email_taken: { status: 409, description: 'That e-mail address is already registered.' },
  last_admin: { status: 409, description: 'This would leave no enabled user with the admin role.' },
  payload_too_large: { status: 413, description: 'The request body is too large.' },
  unsupported_media_type: { status: 415, description: 'The request body must be application/json.' },
  rate_limited: { status: 429, description: 'Too many requests; retry later.' },
  too_many_attempts: { status: 429, description: 'Too many failed sign-in attempts; retry later.' },
  server_error: { status: 500, description: 'An unexpected error occurred.' },
  service_unavailable: { status: 503, description: 'The service is temporarily unavailable.' },
} as const satisfies Record<string, { status: number; description: string }>;

export type ErrorCode = keyof typeof errorCodes;
