import { decodeKeysetCursor, encodeKeysetCursor } from '../keyset-cursor.js';
import type { UserCursor } from './store.js';
import type { User } from './user.js';

/** The cursor of GET /admin/users pages: after this user, in (created, id) order. */
export function encodeUserCursor(user: Pick<User, 'createdAt' | 'id'>): string {
  return encodeKeysetCursor(user.createdAt, user.id);
}

/** Throws AuthError `invalid_request` for anything this server did not issue. */
export function decodeUserCursor(cursor: string): UserCursor {
  const { at, id } = decodeKeysetCursor(cursor);
  return { createdAt: at, id };
}
