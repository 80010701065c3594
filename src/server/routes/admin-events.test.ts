import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createUser, login, signIn, startTestApp, strongPassword, type TestApp } from '../../test-support/app.js';
import { testBackends } from '../../test-support/databases.js';
import { EventStreamClient, openStream } from '../../test-support/event-stream.js';

/*
 * GET /admin/events (SPEC §3 Administration): Server-Sent Events of security events as they are
 * recorded, admin only, with heartbeats, Last-Event-ID resume from the audit log, and a slow
 * client dropped rather than buffered. Over a real socket: inject cannot stream.
 */

async function bodyOf(response: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of response) text += String(chunk);
  return text;
}

for (const backend of testBackends()) {
  describe(`GET /admin/events (${backend.name})`, () => {
    let t: TestApp;
    let port: number;
    let admin: string;

    before(async () => {
      t = await startTestApp(backend, { app: { eventStream: { heartbeatMs: 200, pollMs: 100, drainTimeoutMs: 300, maxStreams: 4, recheckMs: 100 } } });
      await t.app.listen({ host: '127.0.0.1', port: 0 });
      port = (t.app.server.address() as AddressInfo).port;
      await createUser(t, 'stream-admin', { roles: ['admin'] });
      admin = (await signIn(t, 'stream-admin')).access_token;
    });
    after(() => t.close());

    it('streams security events as they happen, with heartbeats', async () => {
      const stream = await openStream(port, { authorization: `Bearer ${admin}` });
      assert.ok(stream instanceof EventStreamClient);
      assert.match(String(stream.response.headers['content-type']), /^text\/event-stream/);
      assert.equal(stream.response.headers['cache-control'], 'no-store');
      try {
        await createUser(t, 'watched');
        assert.equal((await login(t, { username: 'watched', password: 'not the password' })).statusCode, 401);
        const good = await login(t, { username: 'watched', password: strongPassword });
        assert.equal(good.statusCode, 200);
        await stream.until(() => stream.events.some((e) => e.event === 'login.succeeded'), 'login.succeeded');
        const types = stream.events.map((e) => e.event);
        assert.deepEqual(
          types.filter((type) => ['user.created', 'login.failed', 'session.created', 'login.succeeded'].includes(type)),
          ['user.created', 'login.failed', 'session.created', 'login.succeeded'],
        );
        // Ids are the audit sequence, strictly increasing; data is the audit record.
        const seqs = stream.events.map((e) => Number(e.id));
        assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
        assert.equal(new Set(seqs).size, seqs.length);
        const failed = stream.events.find((e) => e.event === 'login.failed')!;
        assert.equal(failed.data.details.reason, 'wrong_password');
        assert.ok(!JSON.stringify(stream.events).includes('not the password'), 'no password in any event');
        await stream.until(() => stream.comments.includes('heartbeat'), 'a heartbeat');
      } finally {
        stream.close();
      }
    });

    it('resumes after Last-Event-ID from the audit log, without gaps or repeats', async () => {
      const first = await openStream(port, { authorization: `Bearer ${admin}` });
      assert.ok(first instanceof EventStreamClient);
      await createUser(t, 'resumer');
      await first.until(() => first.events.some((e) => e.event === 'user.created'), 'user.created');
      const lastId = first.events.at(-1)!.id;
      first.close();

      // Events recorded while nobody listens.
      const missed = [];
      for (let i = 0; i < 3; i += 1) {
        const response = await login(t, { username: 'resumer', password: `wrong ${i}` });
        assert.equal(response.statusCode, 401);
        missed.push(i);
      }
      const resumed = await openStream(port, { authorization: `Bearer ${admin}`, 'last-event-id': lastId });
      assert.ok(resumed instanceof EventStreamClient);
      try {
        await resumed.until(() => resumed.events.filter((e) => e.event === 'login.failed').length === missed.length, 'the missed events');
        assert.ok(resumed.events.every((e) => Number(e.id) > Number(lastId)), 'nothing before Last-Event-ID');
        const rows = await t.stores.audit.listAfter(Number(lastId), 100);
        assert.deepEqual(
          resumed.events.map((e) => Number(e.id)),
          rows.map((row) => row.seq).slice(0, resumed.events.length),
          'the same records, in the same order, as the audit log',
        );
      } finally {
        resumed.close();
      }
    });

    it('is for admins only, and refuses a malformed Last-Event-ID', async () => {
      const none = await openStream(port, {});
      assert.ok(!(none instanceof EventStreamClient));
      assert.equal(none.statusCode, 401);
      await bodyOf(none);
      await createUser(t, 'not-admin');
      const user = (await signIn(t, 'not-admin')).access_token;
      const forbidden = await openStream(port, { authorization: `Bearer ${user}` });
      assert.ok(!(forbidden instanceof EventStreamClient));
      assert.equal(forbidden.statusCode, 403);
      assert.equal((JSON.parse(await bodyOf(forbidden)) as { error: string }).error, 'forbidden');
      for (const bad of ['abc', '-1', '1e5', '9'.repeat(40)]) {
        const response = await openStream(port, { authorization: `Bearer ${admin}`, 'last-event-id': bad });
        assert.ok(!(response instanceof EventStreamClient), bad);
        assert.equal(response.statusCode, 400, bad);
        await bodyOf(response);
      }
    });

    it('drops a client that stops reading instead of buffering for it', async () => {
      // A raw socket that sends the request and never reads: the kernel buffers fill, then ours.
      const socket = connect({ host: '127.0.0.1', port });
      await new Promise<void>((resolve) => socket.once('connect', resolve));
      socket.write(`GET /admin/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${admin}\r\n\r\n`);
      // The stream has started (it begins after the newest record at that moment); stop reading.
      const head = await new Promise<Buffer>((resolve) => socket.once('data', resolve));
      assert.match(head.toString(), /^HTTP\/1\.1 200/);
      socket.pause();
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      // Large records, straight into the audit log: tens of megabytes of events.
      const blob = 'x'.repeat(60_000);
      for (let i = 0; i < 400; i += 1) {
        await t.stores.audit.append({
          id: randomUUID(),
          at: new Date(t.clock.now()),
          type: 'rate_limited',
          outcome: 'failure',
          userId: null,
          sessionId: null,
          ip: '192.0.2.1',
          userAgent: null,
          requestId: null,
          severity: 'low',
          details: { limiter: 'ip', padding: blob },
        });
      }
      // Give the server its drain timeout (300 ms here) several times over, then read: a dropped
      // stream ends once its buffered bytes are read; one still served never ends.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      socket.resume();
      socket.on('data', () => undefined);
      const outcome = await Promise.race([closed.then(() => 'dropped'), new Promise((resolve) => setTimeout(() => resolve('still open'), 10_000).unref())]);
      assert.equal(outcome, 'dropped');
      socket.destroy();
    });

    it('caps the number of open streams, also against concurrent openings', async () => {
      const results = await Promise.all(Array.from({ length: 10 }, () => openStream(port, { authorization: `Bearer ${admin}` })));
      const streams = results.filter((r): r is EventStreamClient => r instanceof EventStreamClient);
      try {
        assert.equal(streams.length, 4);
        for (const refused of results.filter((r): r is IncomingMessage => !(r instanceof EventStreamClient))) {
          assert.equal(refused.statusCode, 503);
          await bodyOf(refused);
        }
      } finally {
        for (const stream of streams) stream.close();
      }
    });

    it('ends the stream once the admin signs out everywhere, or loses the role', async () => {
      await createUser(t, 'leaving-admin', { roles: ['admin'] });
      const first = await signIn(t, 'leaving-admin');
      const stream = await openStream(port, { authorization: `Bearer ${first.access_token}` });
      assert.ok(stream instanceof EventStreamClient);
      const logoutAll = await t.app.inject({ method: 'POST', url: '/auth/logout-all', headers: { authorization: `Bearer ${first.access_token}` } });
      assert.equal(logoutAll.statusCode, 204);
      await stream.until(() => stream.ended, 'the stream to end after logout-all');

      const second = await signIn(t, 'leaving-admin');
      const again = await openStream(port, { authorization: `Bearer ${second.access_token}` });
      assert.ok(again instanceof EventStreamClient);
      await t.db.query(`UPDATE users SET roles = '{}' WHERE username = 'leaving-admin'`);
      await again.until(() => again.ended, 'the stream to end after the role is removed');
    });
  });
}

describe('GET /admin/events at shutdown', () => {
  it('ends open streams when the server closes, so close completes while a client still listens', async () => {
    const [backend] = testBackends();
    const t = await startTestApp(backend!, { app: { eventStream: { heartbeatMs: 200, pollMs: 100 } } });
    try {
      await t.app.listen({ host: '127.0.0.1', port: 0 });
      const port = (t.app.server.address() as AddressInfo).port;
      await createUser(t, 'closing-admin', { roles: ['admin'] });
      const admin = (await signIn(t, 'closing-admin')).access_token;
      const stream = await openStream(port, { authorization: `Bearer ${admin}` });
      assert.ok(stream instanceof EventStreamClient);
      const ended = new Promise<void>((resolve) => stream.response.once('close', () => resolve()));
      // The client keeps reading: only the server can end the stream.
      let timer: NodeJS.Timeout | undefined;
      const closed = await Promise.race([
        t.app.close().then(() => 'closed' as const),
        new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), 5000))),
      ]);
      clearTimeout(timer);
      assert.equal(closed, 'closed', 'app.close() waits for no open event stream');
      await ended;
    } finally {
      await t.close();
    }
  });
});
