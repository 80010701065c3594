import { AuthError } from './errors/auth-error.js';

/*
 * The cursor of an admin listing ordered by (time, id): the last row of a page, its time and id,
 * base64url, opaque to clients. Anything this server did not issue is a 400.
 */

export interface KeysetPosition {
  at: Date;
  id: string;
}

const shape = /^(\d{1,15})\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/** The instants SQL dates hold on every backend: years 0001 to 9999 (PGlite refuses the rest). */
const earliest = Date.parse('0001-01-01T00:00:00.000Z');
const latest = Date.parse('9999-12-31T23:59:59.999Z');

export function encodeKeysetCursor(at: Date, id: string): string {
  return Buffer.from(`${at.getTime()}.${id}`).toString('base64url');
}

/** Throws AuthError `invalid_request` for anything but a cursor `encodeKeysetCursor` made. */
export function decodeKeysetCursor(cursor: string): KeysetPosition {
  const text = Buffer.from(cursor, 'base64url').toString('latin1');
  const match = shape.exec(text);
  const time = match ? Number(match[1]) : Number.NaN;
  // Base64url decoding skips what it cannot read; only the exact encoding of a cursor we issued passes.
  if (!match || Buffer.from(text, 'latin1').toString('base64url') !== cursor || !(time >= earliest && time <= latest)) {
    throw new AuthError('invalid_request', { description: 'The cursor is not valid.' });
  }
  return { at: new Date(time), id: match[2]! };
}
