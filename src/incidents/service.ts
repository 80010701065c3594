import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import { AuthError } from '../errors/auth-error.js';
import type { EventBus, EventContext } from '../events/bus.js';
import type { AuditQueue } from '../audit/store.js';
import type { Transactional } from '../store/unit-of-work.js';
import type { IpBlocks } from '../protection/ip-blocks.js';
import type { Incident, IncidentTrigger } from './incident.js';
import type { IncidentQuery, IncidentStore } from './store.js';

export interface IncidentService {
  /** Opens an incident or updates the unresolved one of the same type and subject. */
  raise(trigger: IncidentTrigger, context?: EventContext): Promise<{ incident: Incident; opened: boolean }>;
  list(query: IncidentQuery): Promise<Incident[]>;
  /**
   * Acknowledges or resolves; 404 for an unknown id, 409 to move a resolved incident. Resolving
   * lifts the IP block the incident placed (`evidence.blocked_ip`), on every instance, once the
   * resolution is committed.
   */
  update(id: string, status: 'acknowledged' | 'resolved', by: string, context?: EventContext): Promise<Incident>;
  countUnresolved(): Promise<number>;
}

export interface IncidentServiceOptions {
  stores: Transactional<{ incidents: IncidentStore; audit: AuditQueue }>;
  events: EventBus;
  clock: Clock;
  /** Lifts the IP block a resolved incident names (`evidence.blocked_ip`). */
  ipBlocks: Pick<IpBlocks, 'lift'>;
}

export function createIncidentService(options: IncidentServiceOptions): IncidentService {
  const { stores, events, clock, ipBlocks } = options;
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

    async update(id, status, by, context) {
      const { incident, changed } = await stores.transaction(async (tx) => {
        const current = await tx.incidents.lockById(id);
        if (!current) throw new AuthError('not_found', { description: 'No such incident.' });
        if (current.status === status) return { incident: current, changed: false };
        if (current.status === 'resolved') throw new AuthError('conflict', { description: 'The incident is resolved.' });
        const updated = (await tx.incidents.setStatus(id, status, by, new Date(clock.now())))!;
        await events.emitIn(tx, status === 'acknowledged' ? 'incident.acknowledged' : 'incident.resolved', { incidentId: id, incidentType: current.type, by }, context);
        return { incident: updated, changed: true };
      });
      // After the commit: the hot state is not in the transaction, and a block lifted for a
      // resolution that rolled back would be a block lost.
      const blocked = incident.evidence.blocked_ip;
      if (changed && incident.status === 'resolved' && typeof blocked === 'string') {
        try {
          await ipBlocks.lift(blocked, { by, incidentId: id }, context);
        } catch (error) {
          // The hot state is down: say so (503), never a bare 500; the block still ends at its expiry.
          throw new AuthError('service_unavailable', {
            description: 'The incident is resolved, but its IP block could not be lifted now; it ends by itself when it expires.',
            cause: error,
          });
        }
      }
      return incident;
    },

    countUnresolved: () => stores.incidents.countUnresolved(),
  };
}
