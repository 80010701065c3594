import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Clock } from '../clock.js';
import type { EventBus } from '../events/bus.js';
import { registerEventMetrics } from './event-metrics.js';
import { apiKeyOutcomes, httpMethods, oneOf, statusLabel } from './labels.js';
import { registerProcessMetrics } from './process-metrics.js';

/** What the scrape-time gauges read, and the bus the security counters listen to. */
export interface MetricsSources {
  events: EventBus;
  /** The in-memory revocation denylist. */
  revocations: { readonly size: number };
  keyRing: { readonly activeKeyCreatedAt: Date | undefined };
  /** The SQL store. */
  stores: { ping(): Promise<void> };
  hotState: { ping(): Promise<void> };
}

/**
 * The Prometheus metrics of one Tessera (docs/operations.md#metrics), in a registry of its own.
 * Fed only by the HTTP latency hook, the audit recorder's timing and the event bus; routes never
 * count anything themselves.
 */
export interface Metrics {
  /** The exposition format's media type. */
  readonly contentType: string;
  /** The exposition text, after reading the scrape-time gauges. */
  expose(): Promise<string>;
  /** One answered HTTP request. `route` is a registered route template or a fixed word, never a path. */
  observeRequest(method: string, route: string, statusCode: number, seconds: number): void;
  /** `observeRequest` bound to one method, route and status: no label lookup per request (hot paths). */
  requestObserver(method: string, route: string, statusCode: number): (seconds: number) => void;
  /** The duration of one audit append (the recorder's `observe`). */
  observeAuditWrite(seconds: number): void;
  /**
   * One API-key verification by outcome (the API-key service's `observe`): not an event, since a
   * valid verification is recorded nowhere else and happens on every request of a program.
   */
  observeApiKeyVerification(outcome: string): void;
  /** Subscribes to the bus and reads the sources at each scrape. Once, after they exist. */
  watch(sources: MetricsSources): void;
  /** Unsubscribes from the bus and stops the event-loop monitor. */
  close(): void;
}

export interface MetricsOptions {
  clock: Clock;
  /** How long a scrape waits for each store to answer its ping (ms, default 1000); then it is down. */
  storePingTimeoutMs?: number;
}

/** Seconds: from a cached JWKS answer to a slow password hash. */
const httpBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const auditBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/** True when `ping` resolves within `timeoutMs`; a scrape never waits longer on a store. */
async function answers(ping: () => Promise<void>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(resolve, timeoutMs, false);
  });
  try {
    return await Promise.race([
      Promise.resolve()
        .then(() => ping())
        .then(
          () => true,
          () => false,
        ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  const registers = [registry];
  const storeTimeoutMs = options.storePingTimeoutMs ?? 1000;
  let sources: MetricsSources | undefined;
  let unsubscribe: (() => void) | undefined;

  const requests = new Histogram({
    name: 'tessera_http_request_duration_seconds',
    help: 'HTTP request duration in seconds, by method, route template (unmatched for 404s) and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: httpBuckets,
    registers,
  });
  const auditWrites = new Histogram({
    name: 'tessera_audit_write_duration_seconds',
    help: 'Duration of one audit-log append, in seconds.',
    buckets: auditBuckets,
    registers,
  });
  const apiKeyVerifications = new Counter({
    name: 'tessera_api_key_verifications_total',
    help: 'API keys presented to GET/POST /auth/verify and POST /auth/introspect, by outcome (valid, invalid, revoked, expired, rate_limited).',
    labelNames: ['outcome'] as const,
    registers,
  });
  new Gauge({
    name: 'tessera_revocation_denylist_entries',
    help: 'Entries in the in-memory revocation denylist (tokens, sessions and users revoked within the access-token lifetime).',
    registers,
    collect() {
      if (sources) this.set(sources.revocations.size);
    },
  });
  new Gauge({
    name: 'tessera_signing_key_age_seconds',
    help: 'Age of the active signing key, in seconds.',
    registers,
    collect() {
      const createdAt = sources?.keyRing.activeKeyCreatedAt;
      if (createdAt) this.set(Math.max(0, (options.clock.now() - createdAt.getTime()) / 1000));
    },
  });
  new Gauge({
    name: 'tessera_store_up',
    help: `1 when the store answered a ping within ${storeTimeoutMs / 1000} s at scrape time, else 0 (store: database, hot_state).`,
    labelNames: ['store'] as const,
    registers,
    async collect() {
      const watched = sources;
      if (!watched) return;
      const [database, hotState] = await Promise.all([
        answers(() => watched.stores.ping(), storeTimeoutMs),
        answers(() => watched.hotState.ping(), storeTimeoutMs),
      ]);
      this.set({ store: 'database' }, database ? 1 : 0);
      this.set({ store: 'hot_state' }, hotState ? 1 : 0);
    },
  });
  const countEvent = registerEventMetrics(registry);
  const processMetrics = registerProcessMetrics(registry);

  return {
    contentType: registry.contentType,
    expose: () => registry.metrics(),
    observeRequest(method, route, statusCode, seconds) {
      requests.observe({ method: oneOf(httpMethods, method), route, status_code: statusLabel(statusCode) }, seconds);
    },
    requestObserver(method, route, statusCode) {
      const child = requests.labels({ method: oneOf(httpMethods, method), route, status_code: statusLabel(statusCode) });
      return (seconds) => child.observe(seconds);
    },
    observeAuditWrite(seconds) {
      auditWrites.observe(seconds);
    },
    observeApiKeyVerification(outcome) {
      apiKeyVerifications.inc({ outcome: oneOf(apiKeyOutcomes, outcome) });
    },
    watch(watched) {
      if (sources) throw new Error('metrics are already watching');
      sources = watched;
      unsubscribe = watched.events.subscribe(countEvent);
    },
    close() {
      unsubscribe?.();
      unsubscribe = undefined;
      processMetrics.stop();
    },
  };
}
