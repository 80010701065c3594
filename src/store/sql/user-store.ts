import { AuthError } from '../../errors/auth-error.js';
import type { UserStore } from '../../users/store.js';
import type { NewUser, User } from '../../users/user.js';
import { isUniqueViolation, type Queryable } from './db.js';
import { isUuid } from './uuid.js';

export interface UserRow {
  id: string;
  username: string;
  email: string | null;
  password_hash: string;
  roles: string[];
  permissions: string[];
  tenant: string | null;
  disabled: boolean;
  created_at: Date;
  updated_at: Date;
  password_changed_at: Date;
}

export const userColumns =
  'id, username, email, password_hash, roles, permissions, tenant, disabled, created_at, updated_at, password_changed_at';

export function toUser(row: UserRow): User {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    passwordHash: row.password_hash,
    roles: row.roles,
    permissions: row.permissions,
    tenant: row.tenant,
    disabled: row.disabled,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    passwordChangedAt: row.password_changed_at,
  };
}

function params(user: NewUser): unknown[] {
  return [user.id, user.username, user.email, user.passwordHash, user.roles, user.permissions, user.tenant, user.createdAt];
}

function conflict(error: unknown): never {
  if (isUniqueViolation(error, 'users_username_key')) throw new AuthError('username_taken', { cause: error });
  if (isUniqueViolation(error, 'users_email_key')) throw new AuthError('email_taken', { cause: error });
  throw error;
}

export function sqlUserStore(db: Queryable): UserStore {
  return {
    async create(user) {
      try {
        const rows = await db.query<UserRow>(
          `INSERT INTO users (id, username, email, password_hash, roles, permissions, tenant, disabled, created_at, updated_at, password_changed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, false, $8, $8, $8) RETURNING ${userColumns}`,
          params(user),
        );
        return toUser(rows[0]!);
      } catch (error) {
        return conflict(error);
      }
    },

    async createIfEmpty(user) {
      // Readers of an empty table would all see it empty; this lock mode conflicts with itself
      // and with inserts, so concurrent callers queue and the later ones find the first's row.
      // It needs a transaction: sqlStores runs this method in one.
      await db.query('LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE');
      try {
        const rows = await db.query<UserRow>(
          `INSERT INTO users (id, username, email, password_hash, roles, permissions, tenant, disabled, created_at, updated_at, password_changed_at)
           SELECT $1, $2, $3, $4, $5, $6, $7, false, $8, $8, $8
           WHERE NOT EXISTS (SELECT 1 FROM users) RETURNING ${userColumns}`,
          params(user),
        );
        return rows[0] ? toUser(rows[0]) : undefined;
      } catch (error) {
        // A concurrent bootstrap inserted the same name first: there is a user now.
        if (isUniqueViolation(error)) return undefined;
        throw error;
      }
    },

    async findById(id) {
      if (!isUuid(id)) return undefined;
      const rows = await db.query<UserRow>(`SELECT ${userColumns} FROM users WHERE id = $1`, [id]);
      return rows[0] ? toUser(rows[0]) : undefined;
    },

    async findByUsername(username) {
      const rows = await db.query<UserRow>(`SELECT ${userColumns} FROM users WHERE username = $1`, [username]);
      return rows[0] ? toUser(rows[0]) : undefined;
    },

    async findByEmail(email) {
      const rows = await db.query<UserRow>(`SELECT ${userColumns} FROM users WHERE email = $1`, [email]);
      return rows[0] ? toUser(rows[0]) : undefined;
    },

    async updatePasswordHash(id, passwordHash, at, passwordChanged) {
      if (!isUuid(id)) return;
      await db.query(
        `UPDATE users SET password_hash = $2, updated_at = $3,
           password_changed_at = CASE WHEN $4 THEN $3 ELSE password_changed_at END
         WHERE id = $1`,
        [id, passwordHash, at, passwordChanged],
      );
    },

    async changePassword(id, passwordHash, at, keep) {
      if (!isUuid(id)) return false;
      const rows = await db.query<{ id: string }>(
        `WITH previous AS (
           SELECT id, password_hash FROM users WHERE id = $1 FOR UPDATE
         ), archived AS (
           INSERT INTO password_history (user_id, password_hash, created_at)
           SELECT id, password_hash, $3 FROM previous
         )
         UPDATE users SET password_hash = $2, password_changed_at = $3, updated_at = $3
         WHERE id = (SELECT id FROM previous) RETURNING id`,
        [id, passwordHash, at],
      );
      await db.query(
        `DELETE FROM password_history WHERE user_id = $1 AND seq NOT IN (
           SELECT seq FROM password_history WHERE user_id = $1 ORDER BY created_at DESC, seq DESC LIMIT $2)`,
        [id, keep],
      );
      return rows.length > 0;
    },

    async recentPasswordHashes(id, limit) {
      if (!isUuid(id)) return [];
      const rows = await db.query<{ password_hash: string }>(
        `(SELECT password_hash, 1 AS rank, password_changed_at AS at, 0::bigint AS seq FROM users WHERE id = $1)
         UNION ALL
         (SELECT password_hash, 2 AS rank, created_at AS at, seq FROM password_history WHERE user_id = $1
          ORDER BY created_at DESC, seq DESC LIMIT $2)
         ORDER BY rank, at DESC, seq DESC LIMIT $2`,
        [id, limit],
      );
      return rows.map((row) => row.password_hash);
    },

    async setTokensRevokedAfter(id, at) {
      if (!isUuid(id)) return;
      await db.query('UPDATE users SET tokens_revoked_after = $2, updated_at = $2 WHERE id = $1', [id, at]);
    },

    async setDisabled(id, disabled, at) {
      if (!isUuid(id)) return false;
      const rows = await db.query('UPDATE users SET disabled = $2, updated_at = $3 WHERE id = $1 RETURNING id', [id, disabled, at]);
      return rows.length > 0;
    },

    async count() {
      const rows = await db.query<{ count: number }>('SELECT count(*)::int AS count FROM users');
      return rows[0]?.count ?? 0;
    },

    async passwordHashHeads(pattern) {
      const rows = await db.query<{ head: string }>('SELECT DISTINCT substring(password_hash from $1) AS head FROM users WHERE password_hash ~ $1', [pattern]);
      return rows.map((row) => row.head);
    },

    async list(query) {
      const values: unknown[] = [];
      const where: string[] = [];
      const param = (value: unknown) => `$${values.push(value)}`;
      // left(…) = prefix rather than LIKE: no wildcard in a typed prefix can mean anything.
      const prefixes: string[] = [];
      // The length is counted in SQL (characters), not in JS (UTF-16 units, two for an astral character).
      if (query.usernamePrefix !== undefined) {
        const prefix = param(query.usernamePrefix);
        prefixes.push(`left(username, char_length(${prefix}::text)) = ${prefix}`);
      }
      if (query.emailPrefix !== undefined) {
        const prefix = param(query.emailPrefix);
        prefixes.push(`left(email, char_length(${prefix}::text)) = ${prefix}`);
      }
      if (prefixes.length > 0) where.push(`(${prefixes.join(' OR ')})`);
      if (query.role !== undefined) where.push(`${param(query.role)} = ANY(roles)`);
      if (query.disabled !== undefined) where.push(`disabled = ${param(query.disabled)}`);
      if (query.tenant !== undefined) where.push(`tenant = ${param(query.tenant)}`);
      if (query.after) where.push(`(created_at, id) > (${param(query.after.createdAt)}, ${param(query.after.id)}::uuid)`);
      const rows = await db.query<UserRow>(
        `SELECT ${userColumns} FROM users ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY created_at, id LIMIT ${param(query.limit)}`,
        values,
      );
      return rows.map(toUser);
    },

    async lockById(id) {
      if (!isUuid(id)) return undefined;
      const rows = await db.query<UserRow>(`SELECT ${userColumns} FROM users WHERE id = $1 FOR UPDATE`, [id]);
      return rows[0] ? toUser(rows[0]) : undefined;
    },

    async lockActiveAdmins() {
      // READ COMMITTED re-checks the condition on a row once its lock is released: a waiter
      // does not count an admin that the holder demoted or disabled.
      const rows = await db.query<{ id: string }>(
        `SELECT id FROM users WHERE 'admin' = ANY(roles) AND NOT disabled ORDER BY id FOR UPDATE`,
      );
      return rows.map((row) => row.id);
    },

    async update(id, changes, at) {
      if (!isUuid(id)) return undefined;
      try {
        const rows = await db.query<UserRow>(
          `UPDATE users SET
             roles = CASE WHEN $2 THEN $3::text[] ELSE roles END,
             permissions = CASE WHEN $4 THEN $5::text[] ELSE permissions END,
             email = CASE WHEN $6 THEN $7::text ELSE email END,
             updated_at = $8
           WHERE id = $1 RETURNING ${userColumns}`,
          [
            id,
            changes.roles !== undefined,
            changes.roles ?? [],
            changes.permissions !== undefined,
            changes.permissions ?? [],
            changes.email !== undefined,
            changes.email ?? null,
            at,
          ],
        );
        return rows[0] ? toUser(rows[0]) : undefined;
      } catch (error) {
        return conflict(error);
      }
    },

    async delete(id) {
      if (!isUuid(id)) return false;
      const rows = await db.query('DELETE FROM users WHERE id = $1 RETURNING id', [id]);
      return rows.length > 0;
    },
  };
}
