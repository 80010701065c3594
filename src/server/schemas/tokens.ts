import { Type } from 'typebox';
import { SafeText } from './common.js';

/** An opaque or JWT token in a body: bounded, no control characters. Shape checks come after. */
const TokenText = Type.String({ minLength: 1, maxLength: 16_384 });

export const RefreshBody = Type.Object({ refresh_token: TokenText }, { additionalProperties: false });

export const LogoutBody = Type.Union([
  Type.Object({ all_devices: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
  Type.Null(),
]);

export const RevokeBody = Type.Object(
  {
    token: TokenText,
    token_type_hint: Type.Optional(SafeText(64)),
    // OAuth clients send their credentials with RFC 7009/7662 requests; accepted and ignored.
    client_id: Type.Optional(SafeText(256)),
    client_secret: Type.Optional(Type.String({ maxLength: 1024 })),
  },
  { additionalProperties: false },
);

/** `token` may be absent only when an API key is presented in a header instead (routes/verify.ts). */
export const VerifyBody = Type.Object(
  {
    token: Type.Optional(TokenText),
    required_permissions: Type.Optional(Type.Array(SafeText(128), { maxItems: 64 })),
  },
  { additionalProperties: false },
);

export const VerifyQuery = Type.Object({ permissions: Type.Optional(Type.String({ maxLength: 2048 })) });

export const SessionParams = Type.Object({ id: Type.String({ maxLength: 64 }) });

export const SessionView = Type.Object({
  id: Type.String(),
  device_name: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  user_agent: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String(),
  last_active_at: Type.String(),
  expires_at: Type.String(),
  current: Type.Boolean(),
});

export const ClaimsSchema = Type.Object(
  {
    iss: Type.String(),
    aud: Type.Union([Type.String(), Type.Array(Type.String())]),
    sub: Type.String(),
    client_id: Type.Optional(Type.String()),
    iat: Type.Number(),
    nbf: Type.Optional(Type.Number()),
    exp: Type.Number(),
    jti: Type.String(),
    sid: Type.String(),
    roles: Type.Array(Type.String()),
    permissions: Type.Array(Type.String()),
    amr: Type.Array(Type.String()),
    username: Type.Optional(Type.String()),
    tenant: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
