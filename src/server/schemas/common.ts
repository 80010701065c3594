import { Type } from 'typebox';

/**
 * Text without C0 or C1 control characters (they break logs, terminals and CSV exports, and
 * PostgreSQL text cannot hold NUL).
 */
export function SafeText(maxLength: number, minLength = 1) {
  return Type.String({ minLength, maxLength, pattern: '^[^\\u0000-\\u001f\\u007f-\\u009f]*$' });
}

/**
 * A password field: any text but NUL, at most 1024 characters here; the byte limit and the
 * policy are enforced by the passwords module.
 */
export const PasswordText = Type.String({ minLength: 1, maxLength: 1024 });

export const ErrorResponse = Type.Object(
  {
    error: Type.String(),
    error_description: Type.String(),
  },
  { additionalProperties: true },
);

export const PublicUserSchema = Type.Object({
  id: Type.String(),
  username: Type.String(),
  email: Type.Union([Type.String(), Type.Null()]),
  roles: Type.Array(Type.String()),
  permissions: Type.Array(Type.String()),
});

export const errorResponses = {
  400: ErrorResponse,
  401: ErrorResponse,
  403: ErrorResponse,
  404: ErrorResponse,
  409: ErrorResponse,
  413: ErrorResponse,
  415: ErrorResponse,
  429: ErrorResponse,
  500: ErrorResponse,
  503: ErrorResponse,
};

export const NoContent = Type.Null();
export const EmptyObject = Type.Object({}, { additionalProperties: false });
