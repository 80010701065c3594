import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AuthError } from '../../errors/auth-error.js';
import { formatFeedId, parseFeedId, type FeedEvent, type FeedPosition, type RevocationFeed } from '../../revocation/feed.js';
import type { Revocation, RevocationChange } from '../../revocation/revocation.js';
import type { RevocationService } from '../../revocation/service.js';
import { requireAuth } from '../plugins/auth-context.js';
import { introspectPermission } from './introspect.js';
import { openSseStream } from '../plugins/sse.js';
import { errorResponses } from '../schemas/common.js';
import { authoriseTokenReader, type IntrospectRouteOptions, type TokenReader } from './introspect.js';

export interface RevocationStreamOptions {
  /** A comment line this often while idle; subscribers treat twice this plus 5 s of silence as a stall (default 15 s). */
  heartbeatMs?: number;
  /** A client that has not drained its backlog in this time is dropped (default 10 s). */
  drainTimeoutMs?: number;
  /** Streams one instance serves at once (default 256); more get 503. */
  maxStreams?: number;
  /** How often the subscriber's API key or admin token is checked again while streaming (default 5 s). */
  recheckMs?: number;
  /** Streams one API key (or one admin) may hold open on an instance (default 8). */
  maxStreamsPerReader?: number;
}

export interface RevocationRouteOptions extends Omit<IntrospectRouteOptions, 'introspect'> {
  feed: RevocationFeed;
  /** What this instance knows of revocations, to end a stream whose credential was revoked meanwhile. */
  revocations: Pick<RevocationService, 'isApiKeyRevoked' | 'isUserDisabled'>;
  stream?: RevocationStreamOptions;
}

/** Entries per snapshot event: each event stays a few hundred KiB, far under a subscriber's cap. */
const snapshotChunk = 1000;

const endpoint = '/auth/revocations';

/** The wire form of an entry (docs/api.md): `at` only where it decides, for revoke-all. */
interface EntryView {
  kind: string;
  subject: string;
  expires_at: number;
  at?: number;
}

function entryView(revocation: Revocation): EntryView {
  const view: EntryView = { kind: revocation.kind, subject: revocation.subject, expires_at: revocation.expiresAt };
  if (revocation.kind === 'user') view.at = revocation.at;
  return view;
}

function changeView(change: RevocationChange): { type: string; entries?: EntryView[]; user?: string } {
  return change.type === 'enabled' ? { type: 'enabled', user: change.userId } : { type: 'revoked', entries: [entryView(change.revocation)] };
}

function eventFrame(epoch: string, event: FeedEvent): string {
  // JSON.stringify escapes line breaks, so one data line holds the whole event.
  const { type, ...data } = changeView(event.change);
  return `id: ${formatFeedId(epoch, event.seq)}\nevent: ${type as string}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * A snapshot as frames: at least one, the first with an empty `id:` line, which resets a
 * client's last event id (EventSource does so too), so a stream cut inside a snapshot is never
 * resumed as if the client's state were complete.
 */
function snapshotFrames(entries: Iterable<Revocation>): string[] {
  const frames: string[] = [];
  let chunk: EntryView[] = [];
  const flush = () => {
    frames.push(`${frames.length === 0 ? 'id:\n' : ''}event: snapshot\ndata: ${JSON.stringify({ entries: chunk })}\n\n`);
    chunk = [];
  };
  for (const entry of entries) {
    chunk.push(entryView(entry));
    if (chunk.length === snapshotChunk) flush();
  }
  if (chunk.length > 0 || frames.length === 0) flush();
  return frames;
}

/** A position sent by the client, or undefined for none; 400 when it is not of the feed's form. */
function positionOf(value: unknown, name: string): FeedPosition | undefined {
  if (value === undefined) return undefined;
  const position = typeof value === 'string' ? parseFeedId(value) : undefined;
  if (!position) throw new AuthError('invalid_request', { description: `${name} must be an event id of this stream.` });
  return position;
}

/** The credential a stream is counted against: its API key, else its admin. */
const readerOf = (reader: TokenReader) => reader.apiKeyId ?? reader.userId;

/** Whether a change ends what the subscriber's credential may do: its key revoked, its owner disabled. */
function endsReader(change: RevocationChange, reader: TokenReader): boolean {
  if (change.type !== 'revoked') return false;
  const { kind, subject } = change.revocation;
  return (kind === 'api_key' && subject === reader.apiKeyId) || (kind === 'disabled' && subject === reader.userId);
}

const Entry = Type.Object(
  { kind: Type.String(), subject: Type.String(), expires_at: Type.Number(), at: Type.Optional(Type.Number()) },
  { additionalProperties: false },
);

const Poll = Type.Object(
  {
    snapshot: Type.Boolean(),
    entries: Type.Optional(Type.Array(Entry)),
    events: Type.Optional(
      Type.Array(
        Type.Object(
          { type: Type.String(), entries: Type.Optional(Type.Array(Entry)), user: Type.Optional(Type.String()) },
          { additionalProperties: false },
        ),
      ),
    ),
    last_event_id: Type.String(),
    heartbeat_ms: Type.Optional(Type.Number()),
  },
  { additionalProperties: false },
);

const Query = Type.Object({ since: Type.Optional(Type.String({ maxLength: 64 })) }, { additionalProperties: false });

/**
 * GET /auth/revocations: the revocation state for verifiers (the SDK, the gateway), so they refuse
 * revoked tokens without a request per token. Server-Sent Events (a snapshot, `ready`, then every
 * change with an id; `Last-Event-ID` resumes from the last 10 000 changes, else a new snapshot), or
 * JSON polling with `?since=`. An API key holding `tokens:introspect`, or an admin's token.
 */
export async function revocationRoutes(app: FastifyInstance, { feed, revocations, stream = {}, ...readers }: RevocationRouteOptions): Promise<void> {
  const heartbeatMs = stream.heartbeatMs ?? 15_000;
  const drainTimeoutMs = stream.drainTimeoutMs ?? 10_000;
  const maxStreams = stream.maxStreams ?? 256;
  const maxStreamsPerReader = stream.maxStreamsPerReader ?? 8;
  const recheckMs = stream.recheckMs ?? 5000;
  const open = new Set<{ close: () => void; reader: string }>();
  /** The last snapshot's frames, shared by streams opened at the same position within a second. */
  let snapshotCache: { position: number; builtAt: number; frames: string[] } | undefined;

  // preClose: a stream never ends by itself, and Fastify waits for in-flight requests before onClose.
  app.addHook('preClose', async () => {
    for (const slot of open) slot.close();
  });

  function snapshotAt(position: number): string[] {
    const now = Date.now();
    if (snapshotCache?.position !== position || now - snapshotCache.builtAt > 1000) {
      snapshotCache = { position, builtAt: now, frames: snapshotFrames(feed.snapshot()) };
    }
    return snapshotCache.frames;
  }

  /**
   * Whether the subscriber may still read: its key still stands with tokens:introspect, or it is
   * still an admin. Only a definite no is false: a store that cannot be reached is not a refusal
   * (the stream goes on, and the next check decides), so an outage does not drop every stream.
   */
  async function stillAllowed(request: FastifyRequest, reader: TokenReader): Promise<boolean> {
    if (reader.apiKeyId !== undefined) {
      const identity = await readers.apiKeys.recheck(reader.apiKeyId);
      return identity !== undefined && identity.user.id === reader.userId && identity.permissions.includes(introspectPermission);
    }
    try {
      const auth = await requireAuth(request, readers.authenticate);
      return auth.user.id === reader.userId && auth.user.roles.includes('admin');
    } catch (error) {
      if (error instanceof AuthError && error.status < 500) return false;
      throw error;
    }
  }

  async function serveStream(request: FastifyRequest, reply: FastifyReply, reader: TokenReader, from: FeedPosition | undefined): Promise<void> {
    // The slots are taken before anything is written, so concurrent requests cannot all pass the checks.
    if (open.size >= maxStreams) throw new AuthError('service_unavailable', { description: 'Too many revocation streams are open.' });
    if ([...open].filter((slot) => slot.reader === readerOf(reader)).length >= maxStreamsPerReader) {
      throw new AuthError('rate_limited', { description: `At most ${maxStreamsPerReader} revocation streams per API key or admin.`, headers: { 'retry-after': '5' } });
    }
    const slot = { close: () => undefined as void, reader: readerOf(reader) };
    open.add(slot);

    // Synchronously: the position, the subscription and the snapshot (or the resumed changes) are
    // one reading of the state, so nothing applied in between is missed.
    const position = feed.position();
    const resumed = from ? feed.since(from) : undefined;
    const queued: FeedEvent[] = [];
    let live = false;
    let sse: ReturnType<typeof openSseStream> | undefined;
    const end = (why: string) => {
      if (sse === undefined || sse.closed) return;
      request.log.info({ requestId: request.id }, `revocation stream ended: ${why}`);
      sse.close();
    };
    const unfollow = feed.follow((event) => {
      if (sse === undefined || sse.closed) return;
      if (endsReader(event.change, reader)) return end('its credential was revoked');
      if (live) void sse.send(eventFrame(feed.epoch, event));
      // A client reading the snapshot slower than changes arrive is sent away, to resume or start again.
      else if (queued.push(event) > 10_000) end('too far behind');
    });
    const frames = resumed ? resumed.map((event) => eventFrame(feed.epoch, event)) : snapshotAt(position);

    sse = openSseStream(request, reply, { heartbeatMs, drainTimeoutMs });
    const current = sse;
    slot.close = current.close;
    let checking = false;
    const recheck = setInterval(() => {
      if (checking || current.closed) return;
      checking = true;
      // A check that never settles ends the stream rather than leaving it unchecked.
      const timeout = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), Math.max(recheckMs * 2, 5000)).unref());
      Promise.race([stillAllowed(request, reader).catch(() => true), timeout]).then((allowed) => {
        checking = false;
        if (!allowed) end('the subscriber is no longer authorised');
      });
    }, recheckMs);
    recheck.unref();
    current.onClose(() => {
      unfollow();
      clearInterval(recheck);
      open.delete(slot);
    });
    // A revocation of the subscriber applied while it was being authorised came before the subscription.
    if ((reader.apiKeyId !== undefined && revocations.isApiKeyRevoked(reader.apiKeyId)) || revocations.isUserDisabled(reader.userId)) {
      return end('its credential was revoked');
    }

    await current.send(`retry: 2000\n\n`);
    for (const frame of frames) {
      if (current.closed) return;
      await current.send(frame);
    }
    const ready = { heartbeat_ms: heartbeatMs, at: Date.now(), snapshot: resumed === undefined };
    await current.send(`id: ${formatFeedId(feed.epoch, position)}\nevent: ready\ndata: ${JSON.stringify(ready)}\n\n`);
    while (queued.length > 0 && !current.closed) await current.send(eventFrame(feed.epoch, queued.shift()!));
    live = true;
  }

  app.withTypeProvider<TypeBoxTypeProvider>().get(
    endpoint,
    { schema: { querystring: Query, response: { 200: Poll, ...errorResponses } } },
    async (request, reply) => {
      const reader = await authoriseTokenReader(request, readers, endpoint);
      const accept = request.headers.accept;
      if (typeof accept === 'string' && /(^|,)\s*text\/event-stream\s*(;|,|$)/i.test(accept)) {
        if (request.query.since !== undefined) throw new AuthError('invalid_request', { description: 'since is for polling; a stream resumes with Last-Event-ID.' });
        await serveStream(request, reply, reader, positionOf(request.headers['last-event-id'], 'Last-Event-ID'));
        return reply;
      }
      const from = positionOf(request.query.since, 'since');
      const position = feed.position();
      const resumed = from ? feed.since(from) : undefined;
      void reply.header('cache-control', 'no-store');
      if (resumed) {
        return { snapshot: false, events: resumed.map((event) => changeView(event.change)), last_event_id: formatFeedId(feed.epoch, position) };
      }
      return { snapshot: true, entries: [...feed.snapshot()].map(entryView), last_event_id: formatFeedId(feed.epoch, position), heartbeat_ms: heartbeatMs };
    },
  );
}
