import type { Clock } from '../clock.js';
import type { EventBus, SecurityEventType } from '../events/bus.js';
import type { IncidentService } from '../incidents/service.js';
import type { RevocationService } from '../revocation/service.js';
import type { SessionStore } from '../sessions/store.js';
import type { Counters, HotStateHealth } from '../store/hot/ports.js';
import type { UserStore } from '../users/store.js';

const hourMs = 3_600_000;

/** What GET /admin/stats reports (SPEC §3 Administration). */
export interface Stats {
  /** Null while the database does not answer (so are activeSessions and openIncidents). */
  users: number | null;
  activeSessions: number | null;
  /** Access tokens, sessions and users refused by the revocation denylist right now. */
  revocationsInForce: number;
  last24h: { loginsSucceeded: number; loginsFailed: number; rateLimited: number; tokensRevoked: number };
  openIncidents: number | null;
  stores: { database: StoreState; hotState: StoreState };
}

export interface StoreState {
  kind: string;
  up: boolean;
}

export interface StatsService {
  snapshot(): Promise<Stats>;
  /** Resolves when every counted event has reached the hot state (tests). */
  settled(): Promise<void>;
  stop(): void;
}

/** The events counted per hour, by counter name. */
const counted: Partial<Record<SecurityEventType, keyof Stats['last24h']>> = {
  'login.succeeded': 'loginsSucceeded',
  'login.failed': 'loginsFailed',
  rate_limited: 'rateLimited',
  'token.revoked': 'tokensRevoked',
};

async function probe(ping: () => Promise<void>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([ping(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), timeoutMs)))]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Statistics for the admin API. Event counts are hourly counters in the hot state (shared by
 * every instance with Redis), so "the last 24 h" is this hour and the 23 before it. Counting every
 * event, not only the recorded ones, keeps rate-limited requests exact (their records are sampled).
 */
export function createStatsService(options: {
  events: EventBus;
  hotState: Counters & HotStateHealth;
  /** Counts read outside any transaction; `ping` is the database's health. */
  stores: { users: Pick<UserStore, 'count'>; sessions: Pick<SessionStore, 'countActive'>; ping(): Promise<void> };
  revocations: RevocationService;
  incidents: IncidentService;
  clock: Clock;
  sessionIdleMs: number;
  databaseKind: string;
}): StatsService {
  const { hotState, stores, clock } = options;
  const pending = new Set<Promise<void>>();
  const key = (name: string, hour: number) => `stats:${name}:${hour}`;

  const unsubscribe = options.events.subscribe((event) => {
    const name = counted[event.type];
    if (!name) return;
    const work = hotState
      .increment(key(name, Math.floor(event.at / hourMs)), 26 * 3600)
      .catch(() => undefined)
      .finally(() => pending.delete(work));
    pending.add(work);
  });

  async function last24h(): Promise<Stats['last24h']> {
    const hour = Math.floor(clock.now() / hourMs);
    const names = ['loginsSucceeded', 'loginsFailed', 'rateLimited', 'tokensRevoked'] as const;
    const hours = Array.from({ length: 24 }, (_, i) => hour - i);
    const values = await hotState.readCounters(names.flatMap((name) => hours.map((h) => key(name, h))));
    const sum = (index: number) => values.slice(index * 24, index * 24 + 24).reduce((a, b) => a + b, 0);
    return { loginsSucceeded: sum(0), loginsFailed: sum(1), rateLimited: sum(2), tokensRevoked: sum(3) };
  }

  return {
    async snapshot() {
      const now = clock.now();
      const [database, hot] = await Promise.all([probe(() => stores.ping(), 1000), probe(() => hotState.ping(), 1000)]);
      const [users, activeSessions, openIncidents, counts] = await Promise.all([
        database ? stores.users.count() : null,
        database ? stores.sessions.countActive(new Date(now), new Date(now - options.sessionIdleMs)) : null,
        database ? options.incidents.countUnresolved() : null,
        hot ? last24h() : { loginsSucceeded: 0, loginsFailed: 0, rateLimited: 0, tokensRevoked: 0 },
      ]);
      return {
        users,
        activeSessions,
        revocationsInForce: options.revocations.size,
        last24h: counts,
        openIncidents,
        stores: { database: { kind: options.databaseKind, up: database }, hotState: { kind: hotState.kind, up: hot } },
      };
    },
    async settled() {
      while (pending.size > 0) await Promise.all([...pending]);
    },
    stop: unsubscribe,
  };
}
