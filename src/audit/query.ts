import { AuthError } from '../errors/auth-error.js';
import { canonicalIp } from '../protection/ip-address.js';
import type { AuditOutcome } from './record.js';
import type { AuditFilter } from './store.js';

/*
 * The audit search parameters, shared by GET /admin/audit, its export and `tessera audit export`.
 * Each bad value is a 400 invalid_request that names the parameter, never echoing the value.
 */

/** The filter parameters as received: text, absent, or (a repeated query parameter) a list. */
export interface RawAuditFilter {
  type?: unknown;
  user?: unknown;
  ip?: unknown;
  outcome?: unknown;
  since?: unknown;
  until?: unknown;
}

export const auditPageSize = { default: 50, max: 200 } as const;

const outcomes: readonly AuditOutcome[] = ['success', 'failure', 'info'];
const eventType = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/;
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/**
 * RFC 3339 date-time, or a date (midnight UTC). A space before the offset is read as `+`: an
 * unencoded `+` in a query string arrives as a space.
 */
const isoTime = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+\- ]\d{2}:\d{2}))?$/i;

/** How a parameter is named in messages: `querystring/since` (HTTP) or `--since` (CLI). */
export type ParameterName = (parameter: string) => string;

export const queryParameter: ParameterName = (parameter) => `querystring/${parameter}`;

function invalid(where: ParameterName, parameter: string, rule: string): AuthError {
  return new AuthError('invalid_request', { description: `${where(parameter)} ${rule}` });
}

/** One text value: undefined when absent; a list (the parameter given twice) or an empty value is refused. */
function text(raw: unknown, where: ParameterName, parameter: string, maxLength = 256): string | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string') throw invalid(where, parameter, 'must be given once');
  if (raw.length === 0 || raw.length > maxLength) throw invalid(where, parameter, `must be 1 to ${maxLength} characters`);
  return raw;
}

/** The instants SQL timestamps hold on every backend: years 0001 to 9999 UTC (PGlite refuses the rest). */
const earliest = Date.parse('0001-01-01T00:00:00.000Z');
const latest = Date.parse('9999-12-31T23:59:59.999Z');

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * A strict ISO-8601 time (years 0001–9999; no rolled-over dates such as February 30). The offset
 * applied, the instant must still fall in years 0001–9999 UTC: `0001-01-01T00:00:00+14:00` does not.
 */
export function parseIsoTime(value: string, where: ParameterName, parameter: string): Date {
  const match = isoTime.exec(value);
  const [year, month, day, hour, minute, second] = (match?.slice(1, 7) ?? []).map((part) => (part === undefined ? 0 : Number(part)));
  const valid =
    match !== null &&
    year! >= 1 &&
    month! >= 1 &&
    month! <= 12 &&
    day! >= 1 &&
    day! <= daysIn(year!, month!) &&
    hour! <= 23 &&
    minute! <= 59 &&
    second! <= 59;
  const time = valid ? Date.parse(value.toUpperCase().replace(' ', '+')) : Number.NaN;
  if (Number.isNaN(time)) throw invalid(where, parameter, 'must be an ISO-8601 time such as 2030-01-31T12:00:00Z');
  if (time < earliest || time > latest) throw invalid(where, parameter, 'must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z');
  return new Date(time);
}

/** Validates every filter parameter; `where` names them in messages. */
export function parseAuditFilter(raw: RawAuditFilter, where: ParameterName = queryParameter): AuditFilter {
  const filter: AuditFilter = {};
  const type = text(raw.type, where, 'type', 64);
  if (type !== undefined) {
    if (!eventType.test(type)) throw invalid(where, 'type', 'must be an event type such as login.failed');
    filter.type = type;
  }
  const user = text(raw.user, where, 'user', 36);
  if (user !== undefined) {
    if (!uuid.test(user)) throw invalid(where, 'user', 'must be a user id (UUID)');
    filter.userId = user.toLowerCase();
  }
  const ip = text(raw.ip, where, 'ip', 64);
  if (ip !== undefined) {
    // Recorded addresses are canonical (protection/client-address.ts): search in the same spelling.
    const canonical = canonicalIp(ip);
    if (canonical === undefined) throw invalid(where, 'ip', 'must be an IPv4 or IPv6 address');
    filter.ip = canonical;
  }
  const outcome = text(raw.outcome, where, 'outcome', 16);
  if (outcome !== undefined) {
    if (!(outcomes as readonly string[]).includes(outcome)) throw invalid(where, 'outcome', 'must be success, failure or info');
    filter.outcome = outcome as AuditOutcome;
  }
  const since = text(raw.since, where, 'since', 64);
  if (since !== undefined) filter.since = parseIsoTime(since, where, 'since');
  const until = text(raw.until, where, 'until', 64);
  if (until !== undefined) filter.until = parseIsoTime(until, where, 'until');
  if (filter.since && filter.until && filter.since.getTime() >= filter.until.getTime()) {
    throw invalid(where, 'until', 'must be later than since');
  }
  return filter;
}

/** The page size: 1 to 200, default 50. */
export function parseAuditLimit(raw: unknown, where: ParameterName = queryParameter): number {
  const value = text(raw, where, 'limit', 3);
  if (value === undefined) return auditPageSize.default;
  if (!/^[1-9][0-9]*$/.test(value) || Number(value) > auditPageSize.max) {
    throw invalid(where, 'limit', `must be a whole number from 1 to ${auditPageSize.max}`);
  }
  return Number(value);
}

/** The opaque cursor of the next page: base64url of the last record's seq. */
export function encodeAuditCursor(seq: number): string {
  return Buffer.from(String(seq)).toString('base64url');
}

/** The seq a cursor continues before; anything but a cursor this server issued is a 400. */
export function decodeAuditCursor(raw: unknown, where: ParameterName = queryParameter): number | undefined {
  const value = text(raw, where, 'cursor', 32);
  if (value === undefined) return undefined;
  const decoded = /^[A-Za-z0-9_-]+$/.test(value) ? Buffer.from(value, 'base64url').toString('latin1') : '';
  const seq = /^[1-9][0-9]{0,15}$/.test(decoded) ? Number(decoded) : Number.NaN;
  if (!Number.isSafeInteger(seq) || encodeAuditCursor(seq) !== value) throw invalid(where, 'cursor', 'is not a cursor from this API');
  return seq;
}
