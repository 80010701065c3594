import { decodeKeysetCursor, encodeKeysetCursor } from '../keyset-cursor.js';
import type { Session } from './session.js';

/** Where a page of GET /admin/sessions resumes: after this session, in (created, id) order. */
export interface SessionCursor {
  createdAt: Date;
  id: string;
}

export function encodeSessionCursor(session: Pick<Session, 'createdAt' | 'id'>): string {
  return encodeKeysetCursor(session.createdAt, session.id);
}

/** Throws AuthError `invalid_request` for anything this server did not issue. */
export function decodeSessionCursor(cursor: string): SessionCursor {
  const { at, id } = decodeKeysetCursor(cursor);
  return { createdAt: at, id };
}
