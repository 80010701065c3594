import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { EventBus } from '../events/bus.js';
import type { IncidentService } from '../incidents/service.js';
import type { ChainBreak } from './store.js';

/** What found the break. */
export type ChainCheckpoint = 'retention' | 'head' | 'chaining';

/**
 * Raises the alarm for a broken chain found at work (retention refusing to prune, the head
 * publisher refusing to sign, the chainer finding a queued row that is not Tessera's): an error in the log, an `audit.chain_broken` event and a critical
 * `audit_chain_broken` incident (one open incident, updated on each repeat).
 */
export function createChainAlarm(options: { incidents: IncidentService; events: EventBus; clock: Clock; logger?: Logger | undefined }) {
  return async (broken: ChainBreak, during: ChainCheckpoint): Promise<void> => {
    const { seq, id, reason } = broken;
    options.logger?.error({ seq, recordId: id, reason, during }, 'audit chain broken');
    await options.events.emit('audit.chain_broken', { seq, recordId: id, reason, during });
    await options.incidents.raise({
      type: 'audit_chain_broken',
      severity: 'critical',
      subject: 'audit:chain',
      evidence: { seq, record_id: id, reason, during },
      at: new Date(options.clock.now()),
    });
  };
}
