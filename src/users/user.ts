export interface User {
  id: string;
  /** Canonical form (NFKC, case-folded); unique. */
  username: string;
  /** Lower-cased; unique when present. */
  email: string | null;
  /** PHC string (argon2id), or a bcrypt hash imported from another system. */
  passwordHash: string;
  roles: string[];
  permissions: string[];
  tenant: string | null;
  disabled: boolean;
  createdAt: Date;
  updatedAt: Date;
  passwordChangedAt: Date;
}

export type NewUser = Pick<User, 'id' | 'username' | 'email' | 'passwordHash' | 'roles' | 'permissions' | 'tenant'> & {
  createdAt: Date;
};

/** What a user looks like to clients: never the hash. */
export interface PublicUser {
  id: string;
  username: string;
  email: string | null;
  roles: string[];
  permissions: string[];
}

export function toPublicUser(user: User): PublicUser {
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    roles: [...user.roles],
    permissions: [...user.permissions],
  };
}
