import { AuthError } from '../errors/auth-error.js';
import type { Incident } from './incident.js';

/*
 * The cursor of GET /admin/incidents pages: the last incident of a page, its last-seen time and
 * id, base64url, opaque to clients. Anything this server did not issue is a 400.
 */

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The instants SQL dates hold on every backend: years 0001 to 9999 (PGlite refuses the rest). */
const earliest = Date.parse('0001-01-01T00:00:00.000Z');
const latest = Date.parse('9999-12-31T23:59:59.999Z');

export function encodeIncidentCursor(incident: Incident): string {
  return Buffer.from(`${incident.lastSeen.getTime()}.${incident.id}`).toString('base64url');
}

export function decodeIncidentCursor(cursor: string): { lastSeen: Date; id: string } {
  const match = /^(\d{1,15})\.([0-9a-f-]{36})$/.exec(Buffer.from(cursor, 'base64url').toString('latin1'));
  const time = match ? Number(match[1]) : Number.NaN;
  if (!match || !uuid.test(match[2]!) || !(time >= earliest && time <= latest)) {
    throw new AuthError('invalid_request', { description: 'The cursor is not valid.' });
  }
  return { lastSeen: new Date(time), id: match[2]! };
}
