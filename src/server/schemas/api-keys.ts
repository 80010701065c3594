import { Type } from 'typebox';

/*
 * The API-key routes' schemas. Bounds here only keep oversized input out; the name, permission
 * and expiry rules are the feature's (api-keys/service.ts), answered 400 `invalid_request`.
 */

const NullableText = Type.Union([Type.String(), Type.Null()]);

export const ApiKeyCreateBody = Type.Object(
  {
    name: Type.String({ maxLength: 1024 }),
    permissions: Type.Array(Type.String({ maxLength: 1024 }), { maxItems: 1000 }),
    expires_at: Type.Optional(Type.Union([Type.String({ maxLength: 64 }), Type.Null()])),
    /** The owner's password, asked again: a stolen access token alone mints no key. */
    current_password: Type.String({ maxLength: 4096 }),
  },
  { additionalProperties: false },
);

/** A key as its owner sees it: never the secret or its hash. */
export const ApiKeyView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  permissions: Type.Array(Type.String()),
  created_at: Type.String(),
  expires_at: NullableText,
  last_used_at: NullableText,
  last_used_ip: NullableText,
});

/** The answer to POST /auth/api-keys: the only time `api_key` (with its secret) is shown. */
export const ApiKeyCreated = Type.Object({
  ...ApiKeyView.properties,
  api_key: Type.String(),
});

export const AdminApiKeyView = Type.Object({
  ...ApiKeyView.properties,
  user_id: Type.String(),
});

export const ApiKeyParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false });

export const AdminApiKeyListQuery = Type.Object(
  {
    user: Type.Optional(Type.String({ pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' })),
    limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$' })),
    cursor: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,200}$' })),
  },
  { additionalProperties: false },
);

/** What GET /auth/verify answers (as JSON) for an API key: its owner and the key's permissions. */
export const ApiKeyClaimsSchema = Type.Object(
  {
    sub: Type.String(),
    username: Type.String(),
    roles: Type.Array(Type.String()),
    permissions: Type.Array(Type.String()),
    tenant: Type.Optional(Type.String()),
    api_key_id: Type.String(),
    auth_method: Type.Literal('api_key'),
  },
  { additionalProperties: false },
);
