import { randomBytes } from 'node:crypto';
import type { Revocation, RevocationChange } from './revocation.js';
import type { RevocationService } from './service.js';

/** One change of the revocation state, numbered in the order this instance applied it. */
export interface FeedEvent {
  readonly seq: number;
  readonly change: RevocationChange;
}

/** A position in one instance's feed: `<epoch>-<seq>` on the wire (event ids, `?since=`). */
export interface FeedPosition {
  epoch: string;
  seq: number;
}

export interface RevocationFeed {
  /** Random per process: a position from another instance, or from before a restart, never resumes here. */
  readonly epoch: string;
  /** The sequence number of the newest change (0 before any). */
  position(): number;
  /**
   * The changes after `position`, in order, or undefined when they are not all held any more (or
   * the position is of another epoch): the caller then sends a snapshot.
   */
  since(position: FeedPosition): FeedEvent[] | undefined;
  /** Hears each change as it is applied. Returns the unsubscribe function. */
  follow(listener: (event: FeedEvent) => void): () => void;
  /** Every revocation in force now. */
  snapshot(): Iterable<Revocation>;
  stop(): void;
}

const idPattern = /^([0-9a-f]{12})-(\d{1,15})$/;

export function formatFeedId(epoch: string, seq: number): string {
  return `${epoch}-${seq}`;
}

/** A wire id, or undefined when it is not of the form `<12 hex digits>-<decimal>`. */
export function parseFeedId(id: string): FeedPosition | undefined {
  const match = idPattern.exec(id);
  return match ? { epoch: match[1]!, seq: Number(match[2]) } : undefined;
}

export interface RevocationFeedOptions {
  revocations: Pick<RevocationService, 'onChange' | 'entries'>;
  /** Changes kept for resuming (default 10 000); a client further behind gets a snapshot. */
  capacity?: number;
}

/**
 * The revocation state of this instance as a numbered feed, for GET /auth/revocations: a snapshot
 * and then every change (whichever instance made it: the service hears them all), with the last
 * `capacity` changes kept so a reconnecting subscriber resumes without a gap or a new snapshot.
 */
export function createRevocationFeed(options: RevocationFeedOptions): RevocationFeed {
  const capacity = options.capacity ?? 10_000;
  const epoch = randomBytes(6).toString('hex');
  const ring: (FeedEvent | undefined)[] = new Array(capacity);
  let seq = 0;
  const listeners = new Set<(event: FeedEvent) => void>();

  const stopListening = options.revocations.onChange((change) => {
    seq += 1;
    const event: FeedEvent = { seq, change };
    ring[seq % capacity] = event;
    // One failing subscriber must not keep the change from the others.
    for (const listener of listeners) {
      try {
        listener(event);
      } catch {
        // The subscriber's own concern (its stream ends on its next write).
      }
    }
  });

  return {
    epoch,
    position: () => seq,
    since(position) {
      if (position.epoch !== epoch || position.seq > seq) return undefined;
      // The oldest change still held is seq − capacity + 1.
      if (position.seq < seq - capacity) return undefined;
      const events: FeedEvent[] = [];
      for (let next = position.seq + 1; next <= seq; next += 1) events.push(ring[next % capacity]!);
      return events;
    },
    follow(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    snapshot: () => options.revocations.entries(),
    stop() {
      stopListening();
      listeners.clear();
    },
  };
}
