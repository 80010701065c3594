import type { AuditSeverity } from '../audit/record.js';

/** The detection rules' incident types (docs/security.md, "Detection"), and the audit chain's ("Audit trail"). */
export const incidentTypes = ['brute_force', 'password_spraying', 'distributed_attack', 'refresh_token_reuse', 'forged_tokens', 'new_device', 'audit_chain_broken'] as const;
export type IncidentType = (typeof incidentTypes)[number];

export const incidentStatuses = ['open', 'acknowledged', 'resolved'] as const;
export type IncidentStatus = (typeof incidentStatuses)[number];

/**
 * A security incident: what a detection rule saw, about which subject (`ip:…`, `user:…`,
 * `session:…`, `account:<digest of the identifier typed>`), from when to when and how often.
 * Evidence holds counts, ids and addresses, never a name typed by a client or a secret.
 */
export interface Incident {
  id: string;
  type: IncidentType;
  severity: AuditSeverity;
  subject: string;
  status: IncidentStatus;
  evidence: Record<string, unknown>;
  firstSeen: Date;
  lastSeen: Date;
  count: number;
  acknowledgedAt: Date | null;
  acknowledgedBy: string | null;
  resolvedAt: Date | null;
  resolvedBy: string | null;
}

export interface IncidentTrigger {
  type: IncidentType;
  severity: AuditSeverity;
  subject: string;
  evidence: Record<string, unknown>;
  at: Date;
}
