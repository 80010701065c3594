import type { Incident } from '../../incidents/incident.js';
import type { IncidentStore } from '../../incidents/store.js';
import { isUuid } from './uuid.js';
import type { Queryable } from './db.js';

interface IncidentRow {
  id: string;
  type: Incident['type'];
  severity: Incident['severity'];
  subject: string;
  status: Incident['status'];
  evidence: Record<string, unknown>;
  first_seen: Date;
  last_seen: Date;
  count: number;
  acknowledged_at: Date | null;
  acknowledged_by: string | null;
  resolved_at: Date | null;
  resolved_by: string | null;
}

const columns =
  'id, type, severity, subject, status, evidence, first_seen, last_seen, count, acknowledged_at, acknowledged_by, resolved_at, resolved_by';

function toIncident(row: IncidentRow): Incident {
  return {
    id: row.id,
    type: row.type,
    severity: row.severity,
    subject: row.subject,
    status: row.status,
    evidence: row.evidence,
    firstSeen: row.first_seen,
    lastSeen: row.last_seen,
    count: Number(row.count),
    acknowledgedAt: row.acknowledged_at,
    acknowledgedBy: row.acknowledged_by,
    resolvedAt: row.resolved_at,
    resolvedBy: row.resolved_by,
  };
}

export function sqlIncidentStore(db: Queryable): IncidentStore {
  return {
    async raise(trigger, id) {
      // xmax = 0 only for a freshly inserted row: tells an opened incident from an updated one.
      const rows = await db.query<IncidentRow & { inserted: boolean }>(
        `INSERT INTO incidents (id, type, severity, subject, evidence, first_seen, last_seen)
         VALUES ($1, $2, $3, $4, ($5::text)::jsonb, $6, $6)
         ON CONFLICT (type, subject) WHERE status <> 'resolved' DO UPDATE
           SET last_seen = GREATEST(incidents.last_seen, EXCLUDED.last_seen),
               count = incidents.count + 1,
               -- The network the incident blocked stays named after later updates that block
               -- nothing (a brute force that spread to other addresses): resolving lifts it.
               evidence = jsonb_strip_nulls(jsonb_build_object('blocked_ip', incidents.evidence -> 'blocked_ip')) || EXCLUDED.evidence
         RETURNING ${columns}, (xmax = 0) AS inserted`,
        [id, trigger.type, trigger.severity, trigger.subject, JSON.stringify(trigger.evidence), trigger.at],
      );
      const row = rows[0]!;
      return { incident: toIncident(row), opened: row.inserted };
    },

    async findById(id) {
      if (!isUuid(id)) return undefined;
      const rows = await db.query<IncidentRow>(`SELECT ${columns} FROM incidents WHERE id = $1`, [id]);
      return rows[0] ? toIncident(rows[0]) : undefined;
    },

    async lockById(id) {
      if (!isUuid(id)) return undefined;
      const rows = await db.query<IncidentRow>(`SELECT ${columns} FROM incidents WHERE id = $1 FOR UPDATE`, [id]);
      return rows[0] ? toIncident(rows[0]) : undefined;
    },

    async setStatus(id, status, by, at) {
      const rows = await db.query<IncidentRow>(
        status === 'acknowledged'
          ? `UPDATE incidents SET status = 'acknowledged', acknowledged_at = $3, acknowledged_by = $2 WHERE id = $1 RETURNING ${columns}`
          : `UPDATE incidents SET status = 'resolved', resolved_at = $3, resolved_by = $2 WHERE id = $1 RETURNING ${columns}`,
        [id, by, at],
      );
      return rows[0] ? toIncident(rows[0]) : undefined;
    },

    async list({ status, type, after, limit }) {
      const where: string[] = [];
      const params: unknown[] = [];
      if (status) {
        params.push(status);
        where.push(`status = $${params.length}`);
      }
      if (type) {
        params.push(type);
        where.push(`type = $${params.length}`);
      }
      if (after) {
        params.push(after.lastSeen, after.id);
        where.push(`(last_seen, id) < ($${params.length - 1}, $${params.length})`);
      }
      params.push(limit);
      const rows = await db.query<IncidentRow>(
        `SELECT ${columns} FROM incidents ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY last_seen DESC, id DESC LIMIT $${params.length}`,
        params,
      );
      return rows.map(toIncident);
    },

    async countUnresolved() {
      const rows = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM incidents WHERE status <> 'resolved'`);
      return Number(rows[0]?.n ?? 0);
    },
  };
}
