import { Counter, type Registry } from 'prom-client';
import type { SecurityEvent } from '../events/bus.js';
import {
  accessDeniedReasons,
  incidentTypes,
  oneOf,
  publicLoginFailureReason,
  rateLimiters,
  revocationReasons,
  tokenRejectionReasons,
  tokenTypes,
} from './labels.js';

/**
 * The security counters, fed only by the event bus: each counts one event type, with labels from
 * the payload mapped to fixed sets (labels.ts). Returns the listener to subscribe.
 */
export function registerEventMetrics(registry: Registry): (event: SecurityEvent) => void {
  const registers = [registry];
  const logins = new Counter({
    name: 'tessera_logins_total',
    help: 'Password sign-ins by outcome (success, failure) and failure reason (invalid_credentials, locked; none for a success).',
    labelNames: ['outcome', 'reason'] as const,
    registers,
  });
  const refreshes = new Counter({
    name: 'tessera_refresh_rotations_total',
    help: 'Refresh tokens rotated by POST /auth/refresh (grace-window replays not counted).',
    registers,
  });
  const reuses = new Counter({
    name: 'tessera_refresh_token_reuse_total',
    help: 'Refresh-token reuse detections; each ends its session.',
    registers,
  });
  const tokensRevoked = new Counter({
    name: 'tessera_tokens_revoked_total',
    help: 'Tokens revoked through POST /auth/revoke, by token type.',
    labelNames: ['token_type'] as const,
    registers,
  });
  const sessionsRevoked = new Counter({
    name: 'tessera_sessions_revoked_total',
    help: 'Sessions ended before their time, by reason.',
    labelNames: ['reason'] as const,
    registers,
  });
  const userRevocations = new Counter({
    name: 'tessera_user_tokens_revoked_total',
    help: 'Revocations of every session and token of a user, by reason.',
    labelNames: ['reason'] as const,
    registers,
  });
  const lockouts = new Counter({
    name: 'tessera_lockouts_total',
    help: 'Account names locked after reaching the failed-password threshold.',
    registers,
  });
  const rateLimited = new Counter({
    name: 'tessera_rate_limited_total',
    help: 'Requests refused by a rate limit, by limiter.',
    labelNames: ['limiter'] as const,
    registers,
  });
  const tokensRejected = new Counter({
    name: 'tessera_tokens_rejected_total',
    help: 'Presented access tokens that failed their signature or structure checks (forged or tampered), by reason.',
    labelNames: ['reason'] as const,
    registers,
  });
  const accessDenied = new Counter({
    name: 'tessera_access_denied_total',
    help: 'Authenticated requests refused for lack of rights, or from a blocked IP, by reason.',
    labelNames: ['reason'] as const,
    registers,
  });
  const incidents = new Counter({
    name: 'tessera_incidents_opened_total',
    help: 'Security incidents opened by attack detection, by type.',
    labelNames: ['type'] as const,
    registers,
  });
  const ipBlocks = new Counter({
    name: 'tessera_ip_blocks_total',
    help: 'Client IPs blocked by attack detection, by the incident type that caused the block.',
    labelNames: ['incident_type'] as const,
    registers,
  });

  return (event) => {
    switch (event.type) {
      case 'login.succeeded':
        logins.inc({ outcome: 'success', reason: 'none' });
        return;
      case 'login.failed':
        logins.inc({ outcome: 'failure', reason: publicLoginFailureReason(event.payload.reason) });
        return;
      case 'refresh_token.rotated':
        refreshes.inc();
        return;
      case 'refresh_token.reused':
        reuses.inc();
        return;
      case 'token.revoked':
        tokensRevoked.inc({ token_type: oneOf(tokenTypes, event.payload.tokenType) });
        return;
      case 'session.revoked':
        sessionsRevoked.inc({ reason: oneOf(revocationReasons, event.payload.reason) });
        return;
      case 'user.tokens_revoked':
        userRevocations.inc({ reason: oneOf(revocationReasons, event.payload.reason) });
        return;
      case 'user.locked':
        lockouts.inc();
        return;
      case 'rate_limited':
        rateLimited.inc({ limiter: oneOf(rateLimiters, event.payload.limiter) });
        return;
      case 'token.rejected':
        tokensRejected.inc({ reason: oneOf(tokenRejectionReasons, event.payload.reason) });
        return;
      case 'access.denied':
        accessDenied.inc({ reason: oneOf(accessDeniedReasons, event.payload.reason) });
        return;
      case 'incident.opened':
        incidents.inc({ type: oneOf(incidentTypes, event.payload.incidentType) });
        return;
      case 'ip.blocked':
        ipBlocks.inc({ incident_type: oneOf(incidentTypes, event.payload.incidentType) });
        return;
      default:
        return;
    }
  };
}
