import type { Incident, IncidentStatus, IncidentTrigger, IncidentType } from './incident.js';

export interface IncidentQuery {
  status?: IncidentStatus | undefined;
  type?: IncidentType | undefined;
  /** Keyset cursor: incidents seen before this one (newest first). */
  after?: { lastSeen: Date; id: string } | undefined;
  limit: number;
}

export interface IncidentStore {
  /**
   * Opens an incident, or, when one of the same type and subject is unresolved, updates it
   * (last seen, count, evidence). `opened` says which.
   */
  raise(trigger: IncidentTrigger, id: string): Promise<{ incident: Incident; opened: boolean }>;
  findById(id: string): Promise<Incident | undefined>;
  /** Locks the row for a status change in this transaction. */
  lockById(id: string): Promise<Incident | undefined>;
  setStatus(id: string, status: 'acknowledged' | 'resolved', by: string, at: Date): Promise<Incident | undefined>;
  list(query: IncidentQuery): Promise<Incident[]>;
  countUnresolved(): Promise<number>;
}
