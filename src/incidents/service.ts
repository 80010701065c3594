import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import { AuthError } from '../errors/auth-error.js';
import type { EventBus, EventContext } from '../events/bus.js';
import type { StoreSet } from '../store/stores.js';
import type { Incident, IncidentTrigger } from './incident.js';
import type { IncidentQuery } from './store.js';

export interface IncidentService {
  /** Opens an incident or updates the unresolved one of the same type and subject. */
  raise(trigger: IncidentTrigger, context?: EventContext): Promise<{ incident: Incident; opened: boolean }>;
  list(query: IncidentQuery): Promise<Incident[]>;
  /** Acknowledges or resolves; 404 for an unknown id, 409 to move a resolved incident. */
  update(id: string, status: 'acknowledged' | 'resolved', by: string, context?: EventContext): Promise<Incident>;
  countUnresolved(): Promise<number>;
}

export function createIncidentService(options: { stores: StoreSet; events: EventBus; clock: Clock }): IncidentService {
  const { stores, events, clock } = options;
  return {
    raise: (trigger, context) =>
      stores.transaction(async (tx) => {
        const result = await tx.incidents.raise(trigger, randomUUID());
        if (result.opened) {
          const { id, type, severity, subject } = result.incident;
          await events.emitIn(tx, 'incident.opened', { incidentId: id, incidentType: type, severity, subject }, context);
        }
        return result;
      }),

    list: (query) => stores.incidents.list(query),

    update: (id, status, by, context) =>
      stores.transaction(async (tx) => {
        const current = await tx.incidents.lockById(id);
        if (!current) throw new AuthError('not_found', { description: 'No such incident.' });
        if (current.status === status) return current;
        if (current.status === 'resolved') throw new AuthError('conflict', { description: 'The incident is resolved.' });
        const updated = (await tx.incidents.setStatus(id, status, by, new Date(clock.now())))!;
        await events.emitIn(tx, status === 'acknowledged' ? 'incident.acknowledged' : 'incident.resolved', { incidentId: id, incidentType: current.type, by }, context);
        return updated;
      }),

    countUnresolved: () => stores.incidents.countUnresolved(),
  };
}
