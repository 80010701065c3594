import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AuthError } from '../../errors/auth-error.js';
import { formatFeedId, parseFeedId, type FeedEvent, type FeedPosition, type RevocationFeed } from '../../revocation/feed.js';
import type { Revocation, RevocationChange } from '../../revocation/revocation.js';
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
}

export interface RevocationRouteOptions extends Omit<IntrospectRouteOptions, 'introspect'> {
  feed: RevocationFeed;
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

function* snapshotFrames(entries: Iterable<Revocation>): Generator<string> {
  let chunk: EntryView[] = [];
  for (const entry of entries) {
    chunk.push(entryView(entry));
    if (chunk.length === snapshotChunk) {
      yield `event: snapshot\ndata: ${JSON.stringify({ entries: chunk })}\n\n`;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield `event: snapshot\ndata: ${JSON.stringify({ entries: chunk })}\n\n`;
}

/** A position sent by the client, or undefined for none; 400 when it is not of the feed's form. */
function positionOf(value: unknown, name: string): FeedPosition | undefined {
  if (value === undefined) return undefined;
  const position = typeof value === 'string' ? parseFeedId(value) : undefined;
  if (!position) throw new AuthError('invalid_request', { description: `${name} must be an event id of this stream.` });
  return position;
}

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
export async function revocationRoutes(app: FastifyInstance, { feed, stream = {}, ...readers }: RevocationRouteOptions): Promise<void> {
  const heartbeatMs = stream.heartbeatMs ?? 15_000;
  const drainTimeoutMs = stream.drainTimeoutMs ?? 10_000;
  const maxStreams = stream.maxStreams ?? 256;
  const recheckMs = stream.recheckMs ?? 5000;
  const open = new Set<{ close: () => void }>();

  // preClose: a stream never ends by itself, and Fastify waits for in-flight requests before onClose.
  app.addHook('preClose', async () => {
    for (const slot of open) slot.close();
  });

  async function serveStream(request: FastifyRequest, reply: FastifyReply, reader: TokenReader, from: FeedPosition | undefined): Promise<void> {
    // The slot is taken before anything is written, so concurrent requests cannot all pass the check.
    if (open.size >= maxStreams) throw new AuthError('service_unavailable', { description: 'Too many revocation streams are open.' });
    const slot = { close: () => undefined as void };
    open.add(slot);

    // Synchronously: the position, the subscription and the snapshot (or the resumed changes) are
    // one reading of the state, so nothing applied in between is missed.
    const position = feed.position();
    const resumed = from ? feed.since(from) : undefined;
    const queued: FeedEvent[] = [];
    let live = false;
    let sse: ReturnType<typeof openSseStream> | undefined;
    const unfollow = feed.follow((event) => {
      if (sse === undefined || sse.closed) return;
      if (endsReader(event.change, reader)) {
        request.log.info({ requestId: request.id }, 'revocation stream ended: its credential was revoked');
        sse.close();
        return;
      }
      if (live) void sse.send(eventFrame(feed.epoch, event));
      else queued.push(event);
    });
    const frames = resumed ? resumed.map((event) => eventFrame(feed.epoch, event)) : snapshotFrames([...feed.snapshot()]);

    sse = openSseStream(request, reply, { heartbeatMs, drainTimeoutMs });
    const current = sse;
    slot.close = current.close;
    let checking = false;
    const recheck = setInterval(() => {
      if (checking || current.closed) return;
      checking = true;
      authoriseTokenReader(request, readers, endpoint)
        .then((again) => again.userId === reader.userId && again.apiKeyId === reader.apiKeyId, () => false)
        .then((allowed) => {
          checking = false;
          if (allowed || current.closed) return;
          request.log.info({ requestId: request.id }, 'revocation stream ended: the subscriber is no longer authorised');
          current.close();
        });
    }, recheckMs);
    recheck.unref();
    current.onClose(() => {
      unfollow();
      clearInterval(recheck);
      open.delete(slot);
    });

    await current.send(`retry: 2000\n\n`);
    for (const frame of frames) {
      if (current.closed) return;
      await current.send(frame);
    }
    await current.send(`id: ${formatFeedId(feed.epoch, position)}\nevent: ready\ndata: ${JSON.stringify({ heartbeat_ms: heartbeatMs, at: Date.now() })}\n\n`);
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
