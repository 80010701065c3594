import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { auditRecordView } from '../../audit/export.js';
import type { ChainedAuditRecord } from '../../audit/record.js';
import type { AuditReader } from '../../audit/reader.js';
import { AuthError } from '../../errors/auth-error.js';
import type { EventBus } from '../../events/bus.js';
import type { Authenticate } from '../../flows/authenticate.js';
import { adminOf, requireAuth } from '../plugins/auth-context.js';
import { openSseStream } from '../plugins/sse.js';

export interface EventStreamOptions {
  /** A comment line this often keeps proxies from closing an idle stream (default 15 s). */
  heartbeatMs?: number;
  /** How often the audit log is read for records of other instances (default 1 s). */
  pollMs?: number;
  /** A client that has not drained its backlog in this time is dropped (default 10 s). */
  drainTimeoutMs?: number;
  /** Streams one instance serves at once (default 32); more get 503. */
  maxStreams?: number;
  /** How often the admin's token, user and role are checked again while streaming (default 5 s). */
  recheckMs?: number;
}

function frame(record: ChainedAuditRecord): string {
  // JSON.stringify escapes line breaks, so one data line holds the whole record.
  return `id: ${record.seq}\nevent: ${record.type}\ndata: ${JSON.stringify(auditRecordView(record))}\n\n`;
}

export interface AdminEventRouteOptions {
  audit: Pick<AuditReader, 'headSeq' | 'tail'>;
  /** Recorded events wake the tail early. */
  events: Pick<EventBus, 'subscribe'>;
  /** Checks the admin again while the stream is open. */
  authenticate: Authenticate;
  stream?: EventStreamOptions;
}

/** Where a stream starts: after Last-Event-ID (a resume), else after the newest record now. */
async function startingSeq(request: FastifyRequest, audit: Pick<AuditReader, 'headSeq'>): Promise<number> {
  const header = request.headers['last-event-id'];
  if (header === undefined) return audit.headSeq();
  if (typeof header !== 'string' || !/^\d{1,15}$/.test(header)) {
    throw new AuthError('invalid_request', { description: 'Last-Event-ID must be the id of an event of this stream.' });
  }
  return Number(header);
}

/**
 * GET /admin/events: Server-Sent Events of security events as they are recorded. The stream is a
 * tail of the audit log (ids are audit sequence numbers), so `Last-Event-ID` resumes without a
 * gap and every instance's events appear, whichever instance the admin is connected to. One
 * reader serves every open stream (one flush and one query per tick, not per stream), woken
 * early only by events that were recorded: a flood of sampled-out events (forged tokens) costs
 * the streams nothing. A client that stops reading is dropped once its backlog passes the
 * socket's buffer for `drainTimeoutMs`: memory per stream stays at one batch.
 */
export async function adminEventRoutes(app: FastifyInstance, { audit, events, authenticate, stream = {} }: AdminEventRouteOptions): Promise<void> {
  const heartbeatMs = stream.heartbeatMs ?? 15_000;
  const drainTimeoutMs = stream.drainTimeoutMs ?? 10_000;
  const maxStreams = stream.maxStreams ?? 32;
  const recheckMs = stream.recheckMs ?? 5000;
  /** Each open (or opening) stream's close function. */
  const open = new Set<{ close: () => void }>();
  const tail = audit.tail({
    pollMs: stream.pollMs ?? 1000,
    onError: (error) => app.log.warn({ err: error }, 'reading the audit log for event streams failed'),
  });
  const unsubscribe = events.subscribe((_event, recorded) => {
    if (recorded) tail.wake();
  });

  // preClose, not onClose: Fastify waits for in-flight requests before onClose, and a stream is
  // one that never ends by itself, so shutdown would wait for every listening client.
  app.addHook('preClose', async () => {
    unsubscribe();
    tail.stop();
    for (const stream of open) stream.close();
  });

  app.get('/events', async (request: FastifyRequest, reply: FastifyReply) => {
    const admin = adminOf(request);
    // The slot is taken before the next await, so concurrent requests cannot all pass the check.
    if (open.size >= maxStreams) throw new AuthError('service_unavailable', { description: 'Too many event streams are open.' });
    const slot = { close: () => undefined as void };
    open.add(slot);
    let startSeq: number;
    try {
      startSeq = await startingSeq(request, audit);
    } catch (error) {
      open.delete(slot);
      throw error;
    }

    const stream = openSseStream(request, reply, { heartbeatMs, drainTimeoutMs });
    let unfollow: (() => void) | undefined;
    slot.close = stream.close;
    const close = stream.close;

    // The stream lives longer than one check: the token expiring or being revoked, the user
    // disabled or no longer an admin, ends it (ASVS V3.3: logout and revocation apply).
    let checking = false;
    const recheck = setInterval(() => {
      if (checking) return;
      checking = true;
      requireAuth(request, authenticate)
        .then((auth) => auth.user.id === admin.user.id && auth.user.roles.includes('admin'), () => false)
        .then((allowed) => {
          checking = false;
          if (allowed || stream.closed) return;
          request.log.info({ requestId: request.id }, 'event stream ended: the admin is no longer authorised');
          close();
        }, close);
    }, recheckMs);
    recheck.unref();
    stream.onClose(() => {
      unfollow?.();
      clearInterval(recheck);
      open.delete(slot);
    });

    await stream.send(`retry: 2000\n: tessera security events\n\n`);
    if (stream.closed) return;
    unfollow = tail.follow(startSeq, async (records) => {
      for (const record of records) {
        if (stream.closed) return;
        await stream.send(frame(record));
      }
    });
  });
}
