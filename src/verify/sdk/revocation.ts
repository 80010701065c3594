import { RevocationCache, revocationKinds, type Revocation, type RevocationChange, type RevokedReason } from '../revocation-state.js';
import { VerifyError } from './errors.js';
import { defaultFetchTimeoutMs, isLoopback } from './jwks.js';
import { createSseParser, SseParseError, type SseEvent } from './sse.js';

/*
 * The SDK's copy of the issuer's revocation state, kept current by GET /auth/revocations
 * (Server-Sent Events, docs/api.md): a snapshot, `ready`, then every change. Checks are in-process
 * and synchronous; the stream runs in the background, reconnects with a jittered back-off, resumes
 * with Last-Event-ID, and treats the server as hostile (bounded parser, strict shapes, stall
 * detection, replay guard). Nothing it does in the background throws to the caller.
 */

export interface RevocationOptions {
  /** Default `${issuer}/auth/revocations`; https:, or http: on a loopback address; no credentials in it. */
  url?: string | URL;
  /** An API key holding `tokens:introspect`, sent as X-API-Key. */
  apiKey?: string;
  /** Headers for each connection (e.g. an admin's bearer token), or a function giving them afresh each time. */
  headers?: Record<string, string> | (() => Record<string, string> | Promise<Record<string, string>>);
  /** When set (ms), verification is refused once the state has been stale longer than this. */
  failClosedAfter?: number;
  /** Jittered exponential back-off between connection attempts (default 500 ms .. 30 s). */
  reconnect?: { minDelayMs?: number; maxDelayMs?: number };
  /** Injectable for tests; default globalThis.fetch. */
  fetch?: typeof fetch;
}

export interface RevocationSubscriptionOptions extends RevocationOptions {
  issuer: string;
  clock?: { now(): number };
  /** How long a connection attempt may wait for the response head (default 5 s). */
  fetchTimeoutMs?: number;
  /** Hears why the stream is unavailable, once per change of cause (never with a credential in it). */
  onError?: (error: unknown) => void;
  /** For tests and tight networks: the silence allowed past two heartbeats (default 5 s), how often expired entries are dropped (default 1 min). */
  timing?: { stallGraceMs?: number; pruneIntervalMs?: number };
}

export interface RevocationSubscription {
  /** Resolves once the first snapshot is complete (`ready` received); never rejects (see staleness). */
  readonly ready: Promise<void>;
  /** Why a verified token is revoked, or undefined. Synchronous, no I/O. */
  check(claims: { jti: string; sid: string; sub: string; iat: number }): RevokedReason | undefined;
  apiKeyRevoked(keyId: string): boolean;
  /** ms since the state was last known complete and current (0 while the stream is live and heard in time). */
  staleness(): number;
  /** Whether failClosedAfter is set and staleness() exceeds it. */
  failingClosed(): boolean;
  /** Ends the connection and every timer; idempotent. */
  close(): void;
  /** Entries held (expired ones included until the next prune). */
  readonly size: number;
}

export const defaultReconnectMinDelayMs = 500;
export const defaultReconnectMaxDelayMs = 30_000;
/** Assumed until a `ready` says otherwise. */
const defaultHeartbeatMs = 15_000;
/** A server's heartbeat is bounded, so a hostile value can neither switch stall detection off nor make it fire at once. */
const heartbeatBoundsMs = [50, 5 * 60_000] as const;
const defaultStallGraceMs = 5000;
const defaultPruneIntervalMs = 60_000;
const maxSubjectLength = 1024;
const endedByServer = 'the server ended the stream';
/** `<epoch (hex)>-<sequence (decimal)>`: anything else is never sent back as Last-Event-ID. */
const eventIdPattern = /^([0-9a-f]{1,32})-(\d{1,15})$/;

interface Position {
  epoch: string;
  seq: number;
}

/** Timers never keep the process alive by themselves (unref where the runtime has it). */
function unref(timer: ReturnType<typeof setTimeout>): void {
  (timer as { unref?: () => void }).unref?.();
}

/** The event broke the protocol: the connection is dropped and nothing of the event applied. */
class MalformedEvent extends Error {}

const knownKinds = new Set<string>(revocationKinds);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isSubject(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= maxSubjectLength;
}

function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function dataOf(event: SseEvent): Record<string, unknown> {
  let data: unknown;
  try {
    data = JSON.parse(event.data);
  } catch {
    throw new MalformedEvent(`a ${event.type} event that is not JSON`);
  }
  if (!isRecord(data)) throw new MalformedEvent(`a ${event.type} event that is not an object`);
  return data;
}

/** An entry of the wire form, or undefined for a kind this build does not know (ignored: forward compatible). */
function revocationOf(entry: unknown): Revocation | undefined {
  if (!isRecord(entry) || typeof entry.kind !== 'string') throw new MalformedEvent('an entry without a kind');
  if (!knownKinds.has(entry.kind)) return undefined;
  const { subject, expires_at: expiresAt, at } = entry;
  if (!isSubject(subject) || !isTime(expiresAt)) throw new MalformedEvent('an entry without a subject or expires_at');
  if (entry.kind === 'user' ? !isTime(at) : at !== undefined && !isTime(at)) throw new MalformedEvent('an entry with a bad at');
  // `at` decides only for revoke-all; the cache ignores it for the other kinds.
  return { kind: entry.kind as Revocation['kind'], subject, expiresAt, at: isTime(at) ? at : expiresAt };
}

/**
 * Against a hostile or broken server: entries held at most (a million is ~135 MB; Tessera holds
 * one per revocation of a live token), and how far ahead an entry may expire (Tessera's live as
 * long as an access token can, minutes to hours).
 */
export const maxEntries = 1_000_000;
export const maxEntryLifeMs = 48 * 60 * 60_000;

/** Every entry of a snapshot or revoked event, all checked before any is applied. */
function entriesOf(event: SseEvent): Revocation[] {
  const { entries } = dataOf(event);
  if (!Array.isArray(entries)) throw new MalformedEvent(`a ${event.type} event without entries`);
  return entries.map(revocationOf).filter((entry): entry is Revocation => entry !== undefined);
}

function positionOf(id: string): Position | undefined {
  const match = eventIdPattern.exec(id);
  return match ? { epoch: match[1]!, seq: Number(match[2]) } : undefined;
}

/** The subscription's URL: https:, or http: on this machine, with no user or password. */
function streamUrl(options: RevocationSubscriptionOptions): URL {
  let url: URL;
  try {
    url = new URL(options.url ?? `${options.issuer.replace(/\/+$/, '')}/auth/revocations`);
  } catch {
    throw new VerifyError('invalid_options', 'revocation.url is not a URL');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url))) {
    throw new VerifyError('invalid_options', 'revocation.url must be https: (or http: on a loopback address)');
  }
  if (url.username || url.password) throw new VerifyError('invalid_options', 'revocation.url must not carry credentials');
  url.hash = '';
  return url;
}

function nonNegative(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) throw new VerifyError('invalid_options', `${name} must be a non-negative number of milliseconds`);
  return value;
}

/** Subscribes to the issuer's revocation stream. Throws VerifyError `invalid_options` for unusable options only. */
export function createRevocationSubscription(options: RevocationSubscriptionOptions): RevocationSubscription {
  const url = streamUrl(options);
  const where = `${url.origin}${url.pathname}`;
  const clock = options.clock ?? { now: () => Date.now() };
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const fetchTimeoutMs = nonNegative(options.fetchTimeoutMs, defaultFetchTimeoutMs, 'fetchTimeoutMs');
  const minDelayMs = nonNegative(options.reconnect?.minDelayMs, defaultReconnectMinDelayMs, 'revocation.reconnect.minDelayMs');
  const maxDelayMs = Math.max(minDelayMs, nonNegative(options.reconnect?.maxDelayMs, defaultReconnectMaxDelayMs, 'revocation.reconnect.maxDelayMs'));
  const failClosedAfter = options.failClosedAfter === undefined ? undefined : nonNegative(options.failClosedAfter, 0, 'revocation.failClosedAfter');
  const stallGraceMs = nonNegative(options.timing?.stallGraceMs, defaultStallGraceMs, 'timing.stallGraceMs');
  const pruneIntervalMs = Math.max(1, nonNegative(options.timing?.pruneIntervalMs, defaultPruneIntervalMs, 'timing.pruneIntervalMs'));

  /** Entries with their life clamped to maxEntryLifeMs from now. */
  const bounded = (entries: Revocation[]): Revocation[] => {
    const latest = clock.now() + maxEntryLifeMs;
    return entries.map((entry) => (entry.expiresAt > latest ? { ...entry, expiresAt: latest } : entry));
  };
  /** The state checks read: replaced whole when a full snapshot completes. */
  let cache = new RevocationCache();
  /** A full snapshot being received, swapped in at its `ready`; dropped if the stream ends first. */
  let building: RevocationCache | undefined;
  const createdAt = clock.now();
  let closed = false;
  /** `ready` was received on the connection now open: the state is complete and followed. */
  let live = false;
  let everReady = false;
  /** When a byte last arrived on the connection; while live, the state is fresh as of then. */
  let lastByteAt = createdAt;
  /** The last moment the state was known complete and current (set when a live connection ends). */
  let freshAt = createdAt;
  let heartbeatMs = defaultHeartbeatMs;
  /** Sent as Last-Event-ID: the id of the last change applied or of the last `ready`. */
  let resumeId: string | undefined;
  /** The newest change applied, for the replay guard. */
  let applied: Position | undefined;
  let attempt = 0;
  let lastProblem: string | undefined;
  let connection: AbortController | undefined;
  let wake: (() => void) | undefined;
  let resolveReady!: () => void;
  const ready = new Promise<void>((resolve) => {
    resolveReady = resolve;
  });

  const stallTimeoutMs = () => 2 * heartbeatMs + stallGraceMs;

  const pruner = setInterval(() => cache.prune(clock.now()), pruneIntervalMs);
  unref(pruner);

  /** Reports a cause once until it changes (a server answering 401 is not logged per retry). */
  function report(problem: string): void {
    if (problem === lastProblem) return;
    lastProblem = problem;
    try {
      options.onError?.(new VerifyError('revocation_unavailable', `the revocation stream at ${where}: ${problem}`));
    } catch {
      // A failing listener must not stop the subscription.
    }
  }

  /** Whether the change is one this subscription has already applied (same epoch, not a later sequence). */
  function replayed(position: Position): boolean {
    return applied !== undefined && applied.epoch === position.epoch && position.seq <= applied.seq;
  }

  function changePosition(event: SseEvent): Position {
    const position = positionOf(event.lastEventId);
    if (!position) throw new MalformedEvent(`a ${event.type} event without an event id`);
    return position;
  }

  function handle(event: SseEvent): void {
    let position: Position;
    switch (event.type) {
      case 'snapshot': {
        const entries = bounded(entriesOf(event));
        // An empty id opens a snapshot: the stream is not resumable until its `ready`, and the
        // snapshot is built apart, to replace the state then (a user enabled while this
        // subscription was away must not stay refused).
        // (The last event id is sticky: every event of the snapshot has it empty; the first opens it.)
        if (event.lastEventId === '' && building === undefined) {
          resumeId = undefined;
          building = new RevocationCache();
        }
        const target = building ?? cache;
        target.load(entries);
        if (target.size > maxEntries) throw new MalformedEvent(`more than ${maxEntries} entries`);
        return;
      }
      case 'ready': {
        const { heartbeat_ms: heartbeat, at, snapshot } = dataOf(event);
        if (!isTime(heartbeat) || heartbeat <= 0 || (at !== undefined && !isTime(at))) throw new MalformedEvent('a ready event of another shape');
        // Without an id (a snapshot's reset) the state is complete but not resumable.
        const readyAt = event.lastEventId === '' ? undefined : positionOf(event.lastEventId);
        if (event.lastEventId !== '' && !readyAt) throw new MalformedEvent('a ready event with a bad event id');
        heartbeatMs = Math.min(heartbeatBoundsMs[1], Math.max(heartbeatBoundsMs[0], heartbeat));
        // A full snapshot is complete: it replaces the state (a resume, `snapshot: false`, was merged).
        if (building !== undefined && snapshot !== false) cache = building;
        building = undefined;
        if (readyAt && !replayed(readyAt)) applied = readyAt;
        resumeId = readyAt ? event.lastEventId : undefined;
        live = true;
        everReady = true;
        attempt = 0;
        lastProblem = undefined;
        resolveReady();
        return;
      }
      case 'revoked': {
        position = changePosition(event);
        const entries = bounded(entriesOf(event));
        if (replayed(position)) return;
        const target = building ?? cache;
        target.load(entries);
        if (target.size > maxEntries) throw new MalformedEvent(`more than ${maxEntries} entries`);
        break;
      }
      case 'enabled': {
        position = changePosition(event);
        const { user } = dataOf(event);
        if (!isSubject(user)) throw new MalformedEvent('an enabled event without a user');
        if (replayed(position)) return;
        (building ?? cache).apply({ type: 'enabled', userId: user } satisfies RevocationChange);
        break;
      }
      default:
        // Unknown event types are ignored (forward compatible).
        return;
    }
    applied = position;
    resumeId = event.lastEventId;
  }

  async function requestHeaders(): Promise<Headers> {
    const given = typeof options.headers === 'function' ? await options.headers() : options.headers;
    const headers = new Headers(given);
    if (options.apiKey !== undefined) headers.set('x-api-key', options.apiKey);
    headers.set('accept', 'text/event-stream');
    if (resumeId !== undefined) headers.set('last-event-id', resumeId);
    return headers;
  }

  /** Why a request failed, without anything of the request (its headers carry the credential). */
  function requestProblem(error: unknown, timedOut: boolean): string {
    if (timedOut) return `no answer within ${fetchTimeoutMs} ms`;
    const cause = error instanceof Error ? (error.cause as { message?: unknown; code?: unknown } | undefined) : undefined;
    if (typeof cause?.message === 'string' && /redirect/i.test(cause.message)) return 'answered with a redirect (not followed)';
    return typeof cause?.code === 'string' && /^[A-Z_]{1,40}$/.test(cause.code) ? `the request failed (${cause.code})` : 'the request failed';
  }

  /** Reads one stream until it ends; returns why it ended (undefined once closed). */
  async function read(body: ReadableStream<Uint8Array>, abort: AbortController): Promise<string | undefined> {
    const parser = createSseParser({ fatal: true });
    const reader = body.getReader();
    let stalled = false;
    let stallTimer: ReturnType<typeof setTimeout> | undefined;
    const armStall = () => {
      clearTimeout(stallTimer);
      stallTimer = setTimeout(() => {
        stalled = true;
        abort.abort();
      }, stallTimeoutMs());
      unref(stallTimer);
    };
    armStall();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (closed) return undefined;
        if (done) {
          parser.end();
          return endedByServer;
        }
        lastByteAt = clock.now();
        let events: SseEvent[];
        try {
          events = parser.push(value);
        } catch (error) {
          // What came before the bytes that broke the stream is good: applied, then the stream dropped.
          if (error instanceof SseParseError) for (const event of error.events) handle(event);
          throw error;
        }
        // Events of one chunk are applied in order, synchronously: a bad one stops the rest.
        for (const event of events) handle(event);
        armStall();
      }
    } catch (error) {
      if (closed) return undefined;
      if (stalled) return `no bytes for ${stallTimeoutMs()} ms (stalled)`;
      if (error instanceof SseParseError || error instanceof MalformedEvent) return `a broken stream (${error.message})`;
      return 'the connection failed';
    } finally {
      clearTimeout(stallTimer);
      abort.abort();
      reader.releaseLock();
    }
  }

  /** One connection, from request to end; returns why it ended (undefined once closed). Never throws. */
  async function connectOnce(): Promise<string | undefined> {
    const abort = new AbortController();
    connection = abort;
    // A snapshot cut off with its connection is never swapped in.
    building = undefined;
    let headers: Headers;
    try {
      headers = await requestHeaders();
    } catch {
      return 'the headers option failed or gave invalid headers';
    }
    if (closed) return undefined;
    let timedOut = false;
    const headTimer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, fetchTimeoutMs);
    unref(headTimer);
    let response: Response;
    try {
      // No redirects: one could lead to another host, carrying the credential there. (`cache` is
      // honoured by Node's fetch, though @types/node's RequestInit does not list it.)
      const init: RequestInit & { cache: 'no-store' } = { headers, signal: abort.signal, redirect: 'error', cache: 'no-store' };
      response = await fetchImpl(url, init);
    } catch (error) {
      return closed ? undefined : requestProblem(error, timedOut);
    } finally {
      clearTimeout(headTimer);
    }
    const type = response.headers.get('content-type') ?? '';
    if (response.status !== 200 || !/^\s*text\/event-stream\s*(;|$)/i.test(type) || !response.body) {
      abort.abort();
      await response.body?.cancel().catch(() => undefined);
      return response.status !== 200 ? `answered ${response.status}` : 'answered with something other than an event stream';
    }
    return read(response.body, abort);
  }

  function nextDelay(): number {
    // Full jitter over [min, ceiling], the ceiling doubling per failed attempt: reconnecting
    // verifiers spread out, and never retry faster than minDelayMs.
    const ceiling = Math.min(maxDelayMs, minDelayMs * 2 ** Math.min(attempt + 1, 30));
    attempt += 1;
    return minDelayMs + Math.random() * (ceiling - minDelayMs);
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        wake = undefined;
        resolve();
      }, ms);
      unref(timer);
      wake = () => {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      };
    });
  }

  async function run(): Promise<void> {
    while (!closed) {
      let problem: string | undefined;
      try {
        problem = await connectOnce();
      } catch {
        problem = 'an unexpected failure';
      }
      const endedLive = live;
      if (live) {
        live = false;
        freshAt = lastByteAt;
      }
      if (closed) return;
      // A live stream that the server ends is routine (a restart, a deploy, a re-check): said only
      // if reconnecting then fails.
      if (problem !== undefined && !(endedLive && problem === endedByServer)) report(problem);
      await sleep(nextDelay());
    }
  }

  /** 0 while live and heard within the stall timeout; else the time since the state was last known current. */
  function staleness(): number {
    const now = clock.now();
    if (!everReady) return Math.max(0, now - createdAt);
    if (live) {
      const quiet = now - lastByteAt;
      return quiet <= stallTimeoutMs() ? 0 : quiet;
    }
    return Math.max(0, now - freshAt);
  }

  void run();

  return {
    ready,
    check: (claims) => cache.check(claims, clock.now()),
    apiKeyRevoked: (keyId) => cache.isApiKeyRevoked(keyId, clock.now()),
    staleness,
    failingClosed() {
      return failClosedAfter !== undefined && staleness() > failClosedAfter;
    },
    close() {
      if (closed) return;
      if (live) freshAt = lastByteAt;
      closed = true;
      live = false;
      clearInterval(pruner);
      connection?.abort();
      wake?.();
    },
    get size() {
      return cache.size;
    },
  };
}
