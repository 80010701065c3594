import { Type } from 'typebox';
import { PasswordText, PublicUserSchema, SafeText } from './common.js';

export const Device = Type.Object(
  {
    name: Type.Optional(SafeText(128)),
    fingerprint: Type.Optional(SafeText(256)),
  },
  { additionalProperties: false },
);

export const LoginBody = Type.Object(
  {
    username: Type.Optional(SafeText(256)),
    email: Type.Optional(SafeText(320)),
    password: PasswordText,
    device: Type.Optional(Device),
    /** The `device_token` of an earlier sign-in on this device (docs/adr/006). */
    device_token: Type.Optional(SafeText(256)),
  },
  { additionalProperties: false },
);

export const RegisterBody = Type.Object(
  {
    username: SafeText(256),
    email: Type.Optional(SafeText(320)),
    password: PasswordText,
  },
  { additionalProperties: false },
);

export const TokenResponseSchema = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer(),
  refresh_token: Type.String(),
  refresh_expires_in: Type.Integer(),
  session_id: Type.String(),
  user: PublicUserSchema,
  /** Sign-in only. */
  device_token: Type.Optional(Type.String()),
});

export const RegisteredUser = Type.Object({
  id: Type.String(),
  username: Type.String(),
  email: Type.Union([Type.String(), Type.Null()]),
  roles: Type.Array(Type.String()),
  permissions: Type.Array(Type.String()),
  created_at: Type.String(),
});

const Nullable = (text = Type.String()) => Type.Union([text, Type.Null()]);

export const SessionSchema = Type.Object({
  id: Type.String(),
  device_name: Nullable(),
  ip: Nullable(),
  user_agent: Nullable(),
  created_at: Type.String(),
  last_active_at: Type.String(),
  expires_at: Type.String(),
});

export const MeResponse = Type.Object({
  user: RegisteredUser,
  roles: Type.Array(Type.String()),
  permissions: Type.Array(Type.String()),
  amr: Type.Array(Type.String()),
  session: SessionSchema,
});

export const ChangePasswordBody = Type.Object(
  { current_password: PasswordText, new_password: PasswordText },
  { additionalProperties: false },
);

export const ResetRequestBody = Type.Object(
  { username: Type.Optional(SafeText(256)), email: Type.Optional(SafeText(320)) },
  { additionalProperties: false },
);

export const ResetConfirmBody = Type.Object(
  { token: Type.String({ minLength: 1, maxLength: 16_384 }), new_password: PasswordText },
  { additionalProperties: false },
);
