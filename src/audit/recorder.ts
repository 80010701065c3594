import { randomUUID } from 'node:crypto';
import type { EventRecorder, SecurityEvent, SecurityEventType } from '../events/bus.js';
import { AuthError, isAuthError } from '../errors/auth-error.js';
import { networkOf } from '../protection/network.js';
import type { RateLimiter } from '../store/hot/ports.js';
import type { AuditOutcome, AuditRecord, AuditSeverity } from './record.js';
import type { AuditQueue } from './store.js';

interface Classification {
  outcome: AuditOutcome;
  severity: AuditSeverity;
}

/** How each event type is recorded (docs/events.md). */
const classification: { [T in SecurityEventType]: (event: Extract<SecurityEvent, { type: T }>) => Classification } = {
  'login.succeeded': () => ({ outcome: 'success', severity: 'info' }),
  'login.failed': (e) => ({ outcome: 'failure', severity: e.payload.reason === 'locked' ? 'medium' : 'low' }),
  'session.created': () => ({ outcome: 'success', severity: 'info' }),
  'session.revoked': () => ({ outcome: 'success', severity: 'info' }),
  'session.terminated': () => ({ outcome: 'success', severity: 'info' }),
  'session.context_changed': (e) => ({ outcome: 'info', severity: e.payload.ended ? 'medium' : 'low' }),
  'refresh_token.rotated': () => ({ outcome: 'success', severity: 'info' }),
  'refresh_token.reused': () => ({ outcome: 'failure', severity: 'high' }),
  'token.revoked': () => ({ outcome: 'success', severity: 'info' }),
  'token.rejected': () => ({ outcome: 'failure', severity: 'medium' }),
  'user.created': () => ({ outcome: 'success', severity: 'info' }),
  // Medium: a reviewer should see every change of who may do what, and who did it.
  'user.updated': () => ({ outcome: 'success', severity: 'medium' }),
  'user.disabled': () => ({ outcome: 'success', severity: 'medium' }),
  'user.enabled': () => ({ outcome: 'success', severity: 'medium' }),
  'user.deleted': () => ({ outcome: 'success', severity: 'medium' }),
  'user.signed_out': () => ({ outcome: 'success', severity: 'medium' }),
  'user.tokens_revoked': () => ({ outcome: 'success', severity: 'medium' }),
  'user.locked': () => ({ outcome: 'failure', severity: 'medium' }),
  'user.unlocked': () => ({ outcome: 'success', severity: 'info' }),
  // Medium: many accounts (admins among them) appeared at once, with hashes from elsewhere.
  'users.imported': () => ({ outcome: 'success', severity: 'medium' }),
  rate_limited: () => ({ outcome: 'failure', severity: 'low' }),
  'access.denied': () => ({ outcome: 'failure', severity: 'low' }),
  'password.changed': () => ({ outcome: 'success', severity: 'info' }),
  'password.reset_requested': () => ({ outcome: 'info', severity: 'info' }),
  'password.reset': () => ({ outcome: 'success', severity: 'medium' }),
  'incident.opened': (e) => ({ outcome: 'info', severity: e.payload.severity as AuditSeverity }),
  'incident.acknowledged': () => ({ outcome: 'success', severity: 'info' }),
  'incident.resolved': () => ({ outcome: 'success', severity: 'info' }),
  'ip.blocked': () => ({ outcome: 'info', severity: 'high' }),
  // Medium: it reopens a network to password guesses, so a reviewer should see who did it.
  'ip.unblocked': () => ({ outcome: 'success', severity: 'medium' }),
  // Medium: a rule opens the admin API to, or shuts every route to, a whole network.
  'ip_rule.created': () => ({ outcome: 'success', severity: 'medium' }),
  'ip_rule.deleted': () => ({ outcome: 'success', severity: 'medium' }),
  // Medium: a key acts for its owner until revoked, so a reviewer should see each made and revoked.
  'api_key.created': () => ({ outcome: 'success', severity: 'medium' }),
  'api_key.revoked': () => ({ outcome: 'success', severity: 'medium' }),
  // High: the secret of a revoked key is still in someone's hands.
  'api_key.used_after_revocation': () => ({ outcome: 'failure', severity: 'high' }),
  // Medium: a reviewer should see every change of the key that signs every token.
  'key.rotated': () => ({ outcome: 'success', severity: 'medium' }),
  'audit.pruned': () => ({ outcome: 'info', severity: 'info' }),
  'audit.rekeyed': (e) => ({ outcome: 'info', severity: e.payload.legacyVerified ? 'info' : 'critical' }),
  'audit.chain_broken': () => ({ outcome: 'failure', severity: 'critical' }),
};

/**
 * Events a client can cause at will, many times a second (a flood of forged tokens, requests
 * past a limit): recorded for the first few per IP and window, counted in metrics and detection
 * always. Without this, the audit log would be the cheapest thing to fill for an attacker.
 */
const sampledTypes: ReadonlySet<SecurityEventType> = new Set(['rate_limited', 'token.rejected', 'access.denied', 'api_key.used_after_revocation']);

/** Longest text kept from a client-supplied value. */
const maxTextLength = 512;

/** PostgreSQL text cannot hold NUL; control characters are kept out of exports and terminals. */
export function sanitizeText(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  return value.replace(/[\u0000-\u001f\u007f-\u009f]/g, '\ufffd').slice(0, maxTextLength);
}

/** The audit record of an event: ids lifted into columns, the rest of the payload as details. */
export function auditRecordOf(event: SecurityEvent, id: string = randomUUID()): AuditRecord {
  const classify = classification[event.type] as (e: SecurityEvent) => Classification;
  const { userId, sessionId, ...details } = event.payload as { userId?: string; sessionId?: string } & Record<string, unknown>;
  return {
    id,
    at: new Date(event.at),
    type: event.type,
    ...classify(event),
    userId: userId ?? null,
    sessionId: sessionId ?? null,
    ip: sanitizeText(event.context.ip),
    userAgent: sanitizeText(event.context.userAgent),
    requestId: sanitizeText(event.context.requestId),
    details,
  };
}

export interface AuditRecorderOptions {
  /** The root audit log: records of events outside a transaction are queued on their own. */
  stores: { audit: AuditQueue };
  /** Limits the records of sampled event types per type and IP. */
  sampler: RateLimiter;
  /** Observes each append's duration in seconds (metrics). */
  observe?: (seconds: number) => void;
}

/** The recorder that writes every event to the hash-chained audit log. */
export function createAuditRecorder(options: AuditRecorderOptions): EventRecorder {
  return async (event, tx) => {
    if (sampledTypes.has(event.type) && !(await options.sampler.consume(`${event.type}:${networkOf(event.context.ip ?? 'unknown')}`)).allowed) {
      return false;
    }
    const started = performance.now();
    const record = auditRecordOf(event);
    try {
      await (tx ?? options.stores).audit.enqueue(record);
    } catch (error) {
      // Whatever the cause, the request that needed this record fails, as unavailable: it must
      // never be answered as if it had been recorded (inside a transaction, the change rolls back).
      if (isAuthError(error)) throw error;
      throw new AuthError('service_unavailable', { detail: 'audit record not written', cause: error });
    }
    options.observe?.((performance.now() - started) / 1000);
    return true;
  };
}
