import { errorCodes, type ErrorCode } from './codes.js';

export interface AuthErrorOptions {
  /** Client-safe text replacing the registry's default description. */
  description?: string;
  /** Internal detail for logs only; never sent to the client. */
  detail?: string;
  cause?: unknown;
  /** Extra response headers, e.g. Retry-After. */
  headers?: Record<string, string>;
  /** Extra client-safe body members, e.g. `reasons` for weak_password. */
  extra?: Record<string, unknown>;
  /** Another status than the registry's, where the contract says so (400 invalid_token on reset). */
  status?: number;
}

/** The one error type features throw; the HTTP layer maps it to `{error, error_description}`. */
export class AuthError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly description: string;
  readonly detail: string | undefined;
  readonly headers: Record<string, string>;
  readonly extra: Record<string, unknown>;

  constructor(code: ErrorCode, options: AuthErrorOptions = {}) {
    const entry = errorCodes[code];
    super(options.detail ?? options.description ?? entry.description, { cause: options.cause });
    this.name = 'AuthError';
    this.code = code;
    this.status = options.status ?? entry.status;
    this.description = options.description ?? entry.description;
    this.detail = options.detail;
    this.headers = options.headers ?? {};
    this.extra = options.extra ?? {};
  }
}

export function isAuthError(value: unknown): value is AuthError {
  return value instanceof AuthError;
}
