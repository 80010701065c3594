import { Type } from 'typebox';
import { PasswordText, SafeText } from './common.js';

/** A role or permission name (users/service.ts holds the same rule). */
const Name = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.:-]+$' });
const Names = Type.Array(Name, { maxItems: 100 });
const Email = SafeText(320);

/** An account as the admin API shows it: never a hash, a secret or a TOTP field. */
export const AdminUserView = Type.Object({
  id: Type.String(),
  username: Type.String(),
  email: Type.Union([Type.String(), Type.Null()]),
  roles: Type.Array(Type.String()),
  permissions: Type.Array(Type.String()),
  tenant: Type.Union([Type.String(), Type.Null()]),
  disabled: Type.Boolean(),
  /** Sign-in naming the user (its username or e-mail) is refused by the lockout now. */
  locked: Type.Boolean(),
  /** When that lock ends (ISO); null when not locked. */
  locked_until: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String(),
  updated_at: Type.String(),
});

export const AdminUserPage = Type.Object({ users: Type.Array(AdminUserView), next_cursor: Type.Union([Type.String(), Type.Null()]) });

export const AdminUserListQuery = Type.Object(
  {
    q: Type.Optional(SafeText(320)),
    role: Type.Optional(Name),
    disabled: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])),
    locked: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])),
    tenant: Type.Optional(Name),
    limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$' })),
    cursor: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,200}$' })),
  },
  { additionalProperties: false },
);

export const AdminUserParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });

export const AdminUserCreateBody = Type.Object(
  {
    username: SafeText(256),
    password: PasswordText,
    email: Type.Optional(Type.Union([Email, Type.Null()])),
    roles: Type.Optional(Names),
    permissions: Type.Optional(Names),
    tenant: Type.Optional(Type.Union([Name, Type.Null()])),
  },
  { additionalProperties: false },
);

export const AdminUserPatchBody = Type.Object(
  {
    roles: Type.Optional(Names),
    permissions: Type.Optional(Names),
    email: Type.Optional(Type.Union([Email, Type.Null()])),
    disabled: Type.Optional(Type.Boolean()),
    unlock: Type.Optional(Type.Literal(true)),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const RevokeAllResult = Type.Object({ sessions_revoked: Type.Integer() });
