import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createUser, signIn, startTestApp, strongPassword, type TestApp } from '../../test-support/app.js';
import { testBackends } from '../../test-support/databases.js';
import { EventStreamClient, openStream } from '../../test-support/event-stream.js';
import { counter, parseExposition } from '../../test-support/metrics.js';
import { assertApiError, del, get, postJson, type Json } from '../../test-support/tokens.js';

const verifications = async (t: TestApp) => counter(parseExposition(await t.tessera.metrics.expose()), 'tessera_api_key_verifications_total', { outcome: 'valid' });

/*
 * GET /auth/revocations (SPEC §3, docs/api.md): the revocation state for verifiers, as Server-Sent
 * Events (snapshot, ready, every change with an id, Last-Event-ID resume) and as JSON polling
 * (`?since=`). An API key holding tokens:introspect or an admin token; a stream ends when its
 * credential does. Over a real socket: inject cannot stream.
 */

interface Entry {
  kind: string;
  subject: string;
  expires_at: number;
  at?: number;
}

const stream = (port: number, headers: Record<string, string>) => openStream(port, { accept: 'text/event-stream', ...headers }, '/auth/revocations');

function entriesOf(client: EventStreamClient): Entry[] {
  return client.events.flatMap((event) => ((event.data as unknown as { entries?: Entry[] }).entries ?? []));
}

async function statusOf(response: EventStreamClient | IncomingMessage): Promise<number> {
  assert.ok(!(response instanceof EventStreamClient), 'the stream was refused');
  response.resume();
  return response.statusCode ?? 0;
}

for (const backend of testBackends()) {
  describe(`GET /auth/revocations (${backend.name})`, () => {
    let t: TestApp;
    let port: number;
    let admin: string;
    let readerKey: string;
    let readerKeyId: string;

    before(async () => {
      t = await startTestApp(backend, { app: { revocationStream: { heartbeatMs: 150, recheckMs: 100, maxStreams: 4, maxStreamsPerReader: 2 } } });
      await t.app.listen({ host: '127.0.0.1', port: 0 });
      port = (t.app.server.address() as AddressInfo).port;
      await createUser(t, 'revocations-admin', { roles: ['admin'] });
      admin = (await signIn(t, 'revocations-admin')).access_token;
      await createUser(t, 'gateway', { permissions: ['tokens:introspect', 'docs:read'] });
      const owner = await signIn(t, 'gateway');
      const created = await postJson(t, '/auth/api-keys', { name: 'revocation stream', permissions: ['tokens:introspect'], current_password: strongPassword }, { token: owner.access_token });
      assert.equal(created.statusCode, 201, created.body);
      ({ api_key: readerKey, id: readerKeyId } = created.json() as { api_key: string; id: string });
    });
    after(() => t.close());

    it('is only for an API key holding tokens:introspect or an admin', async () => {
      await createUser(t, 'plain-user', { permissions: ['docs:read'] });
      const plain = await signIn(t, 'plain-user');
      const weakKey = (
        await postJson(t, '/auth/api-keys', { name: 'weak', permissions: ['docs:read'], current_password: strongPassword }, { token: plain.access_token })
      ).json() as { api_key: string };
      assertApiError(await get(t, '/auth/revocations'), 401, 'invalid_token', 'no credential');
      assertApiError(await get(t, '/auth/revocations', { token: plain.access_token }), 403, 'forbidden', 'a user who is no admin');
      assertApiError(await get(t, '/auth/revocations', { headers: { 'x-api-key': weakKey.api_key } }), 403, 'insufficient_permissions', 'a key without tokens:introspect');
      assertApiError(await get(t, '/auth/revocations', { headers: { 'x-api-key': `${readerKey.slice(0, -1)}${readerKey.endsWith('A') ? 'E' : 'A'}` } }), 401, 'invalid_token', 'a wrong secret');
      assert.equal(await statusOf(await stream(port, {})), 401, 'a stream without a credential');
      assert.equal(await statusOf(await stream(port, { 'x-api-key': weakKey.api_key })), 403);
      assert.equal((await get(t, '/auth/revocations', { headers: { 'x-api-key': readerKey } })).statusCode, 200);
      assert.equal((await get(t, '/auth/revocations', { token: admin })).statusCode, 200);
    });

    it('polls: a snapshot, then only what changed since an id; bad ids are 400', async () => {
      await createUser(t, 'poll-user');
      const first = await get(t, '/auth/revocations', { headers: { 'x-api-key': readerKey } });
      assert.equal(first.headers['cache-control'], 'no-store');
      const snapshot = first.json() as { snapshot: boolean; entries: Entry[]; last_event_id: string; heartbeat_ms: number };
      assert.equal(snapshot.snapshot, true);
      assert.match(snapshot.last_event_id, /^[0-9a-f]{12}-\d+$/);
      assert.equal(snapshot.heartbeat_ms, 150);

      const signedIn = await signIn(t, 'poll-user');
      assert.equal((await postJson(t, '/auth/logout', undefined, { token: signedIn.access_token })).statusCode, 204);
      const delta = (await get(t, `/auth/revocations?since=${snapshot.last_event_id}`, { headers: { 'x-api-key': readerKey } })).json() as {
        snapshot: boolean;
        events: { type: string; entries: Entry[] }[];
        last_event_id: string;
      };
      assert.equal(delta.snapshot, false);
      assert.deepEqual(
        delta.events.flatMap((event) => event.entries.map((entry) => [event.type, entry.kind, entry.subject])),
        [['revoked', 'sid', signedIn.session_id]],
      );
      const again = (await get(t, `/auth/revocations?since=${delta.last_event_id}`, { headers: { 'x-api-key': readerKey } })).json() as Json;
      assert.deepEqual(again.events, [], 'nothing new');
      // Now in the snapshot too.
      const later = (await get(t, '/auth/revocations', { token: admin })).json() as { entries: Entry[] };
      assert.ok(later.entries.some((entry) => entry.kind === 'sid' && entry.subject === signedIn.session_id && entry.at === undefined));

      // Another epoch (another instance, a restart) or a future position: a snapshot, not a guess.
      for (const since of ['000000000000-1', `${snapshot.last_event_id.split('-')[0]}-999999`]) {
        assert.equal(((await get(t, `/auth/revocations?since=${since}`, { token: admin })).json() as Json).snapshot, true, since);
      }
      for (const since of ['', 'abc', '12-x', `${'a'.repeat(12)}-1-2`, '%00', 'a'.repeat(65)]) {
        const response = await get(t, `/auth/revocations?since=${encodeURIComponent(since)}`, { token: admin });
        assert.equal(response.statusCode, 400, `${since}: ${response.body}`);
      }
      assertApiError(await get(t, '/auth/revocations?other=1', { token: admin }), 400, 'invalid_request', 'an unknown parameter');
    });

    it('streams a snapshot, ready, then each change with an id; heartbeats while idle', async () => {
      const victimId = await createUser(t, 'stream-victim');
      const before = await signIn(t, 'stream-victim');
      assert.equal((await postJson(t, '/auth/logout', undefined, { token: before.access_token })).statusCode, 204);
      const client = await stream(port, { 'x-api-key': readerKey });
      assert.ok(client instanceof EventStreamClient);
      try {
        assert.match(String(client.response.headers['content-type']), /^text\/event-stream/);
        assert.equal(client.response.headers['cache-control'], 'no-store');
        await client.until(() => client.events.some((event) => event.event === 'ready'), 'ready');
        const ready = client.events.find((event) => event.event === 'ready')!;
        assert.match(ready.id, /^[0-9a-f]{12}-\d+$/);
        assert.equal((ready.data as unknown as Json).heartbeat_ms, 150);
        assert.equal((ready.data as unknown as Json).snapshot, true);
        assert.ok(entriesOf(client).some((entry) => entry.kind === 'sid' && entry.subject === before.session_id), 'the snapshot holds the ended session');
        assert.ok(client.events.slice(0, -1).every((event) => event.event === 'snapshot' && event.id === ''), 'snapshot events carry no id');
        const verifiedBefore = await verifications(t);

        // Changes: logout-all (sessions + revoke-all), admin disable (+ disabled), enable.
        const session = await signIn(t, 'stream-victim');
        assert.equal((await postJson(t, '/auth/logout-all', undefined, { token: session.access_token })).statusCode, 204);
        await client.until(() => entriesOf(client).some((entry) => entry.kind === 'user' && entry.subject === victimId), 'the revoke-all');
        const revokeAll = entriesOf(client).find((entry) => entry.kind === 'user' && entry.subject === victimId)!;
        assert.equal(typeof revokeAll.at, 'number', 'a revoke-all carries its time');
        assert.ok(entriesOf(client).some((entry) => entry.kind === 'sid' && entry.subject === session.session_id));
        const patched = await t.app.inject({ method: 'PATCH', url: `/admin/users/${victimId}`, headers: { authorization: `Bearer ${admin}` }, payload: { disabled: true } });
        assert.equal(patched.statusCode, 200, patched.body);
        await client.until(() => entriesOf(client).some((entry) => entry.kind === 'disabled' && entry.subject === victimId), 'the disable');
        const enabled = await t.app.inject({ method: 'PATCH', url: `/admin/users/${victimId}`, headers: { authorization: `Bearer ${admin}` }, payload: { disabled: false } });
        assert.equal(enabled.statusCode, 200, enabled.body);
        await client.until(() => client.events.some((event) => event.event === 'enabled' && (event.data as unknown as Json).user === victimId), 'the enable');

        const changes = client.events.filter((event) => event.event === 'revoked' || event.event === 'enabled');
        const seqs = [ready, ...changes].map((event) => Number(event.id.split('-')[1]));
        assert.deepEqual(seqs, seqs.map((_, i) => seqs[0]! + i), 'ids count up by one from ready');
        await client.until(() => client.comments.includes('heartbeat'), 'a heartbeat');
        assert.equal(await verifications(t), verifiedBefore, 'the checks of the key every 100 ms count against no limit and record no use');
      } finally {
        client.close();
      }
    });

    it('resumes after Last-Event-ID with only what was missed; a bad id is 400', async () => {
      await createUser(t, 'resume-user');
      const first = await stream(port, { authorization: `Bearer ${admin}` });
      assert.ok(first instanceof EventStreamClient);
      await first.until(() => first.events.some((event) => event.event === 'ready'), 'ready');
      const lastId = first.events.at(-1)!.id;
      first.close();

      const missed = await signIn(t, 'resume-user');
      assert.equal((await postJson(t, '/auth/logout', undefined, { token: missed.access_token })).statusCode, 204);
      const resumed = await stream(port, { authorization: `Bearer ${admin}`, 'last-event-id': lastId });
      assert.ok(resumed instanceof EventStreamClient);
      try {
        await resumed.until(() => resumed.events.some((event) => event.event === 'ready'), 'ready');
        assert.deepEqual(
          resumed.events.map((event) => event.event),
          ['revoked', 'ready'],
          'no snapshot: the one change missed, then ready',
        );
        assert.deepEqual(entriesOf(resumed).map((entry) => [entry.kind, entry.subject]), [['sid', missed.session_id]]);
        assert.equal((resumed.events.at(-1)!.data as unknown as Json).snapshot, false);
      } finally {
        resumed.close();
      }
      assert.equal(await statusOf(await stream(port, { authorization: `Bearer ${admin}`, 'last-event-id': 'not-an-id' })), 400);
      const other = await stream(port, { authorization: `Bearer ${admin}`, 'last-event-id': '000000000000-5' });
      assert.ok(other instanceof EventStreamClient);
      try {
        await other.until(() => other.events.some((event) => event.event === 'ready'), 'ready');
        assert.ok(other.events.some((event) => event.event === 'snapshot'), 'another epoch: a full snapshot');
      } finally {
        other.close();
      }
    });

    it('sends an empty snapshot as one event, so a client always sees where a snapshot starts', async () => {
      const other = await startTestApp(backend);
      try {
        await other.app.listen({ host: '127.0.0.1', port: 0 });
        await createUser(other, 'empty-admin', { roles: ['admin'] });
        const token = (await signIn(other, 'empty-admin')).access_token;
        const client = await openStream((other.app.server.address() as AddressInfo).port, { accept: 'text/event-stream', authorization: `Bearer ${token}` }, '/auth/revocations');
        assert.ok(client instanceof EventStreamClient);
        try {
          await client.until(() => client.events.some((event) => event.event === 'ready'), 'ready');
          assert.deepEqual(client.events.map((event) => [event.event, event.id]), [['snapshot', ''], ['ready', client.events[1]!.id]]);
          assert.deepEqual((client.events[0]!.data as unknown as Json).entries, []);
        } finally {
          client.close();
        }
      } finally {
        await other.close();
      }
    });

    it('ends a stream when its key is revoked, and refuses more streams than the limits', async () => {
      await createUser(t, 'short-lived', { permissions: ['tokens:introspect'] });
      const owner = await signIn(t, 'short-lived');
      const made = (
        await postJson(t, '/auth/api-keys', { name: 'to revoke', permissions: ['tokens:introspect'], current_password: strongPassword }, { token: owner.access_token })
      ).json() as { api_key: string; id: string };
      const client = await stream(port, { 'x-api-key': made.api_key });
      assert.ok(client instanceof EventStreamClient);
      await client.until(() => client.events.some((event) => event.event === 'ready'), 'ready');
      assert.equal((await del(t, `/auth/api-keys/${made.id}`, { token: owner.access_token })).statusCode, 204);
      await client.until(() => client.ended, 'the stream to end', 2000);
      // The revocation was announced as an api_key entry to the other subscribers.
      const polled = (await get(t, '/auth/revocations', { headers: { 'x-api-key': readerKey } })).json() as { entries: Entry[] };
      assert.ok(polled.entries.some((entry) => entry.kind === 'api_key' && entry.subject === made.id));
      assert.ok(!polled.entries.some((entry) => entry.subject === readerKeyId));

      const open: EventStreamClient[] = [];
      try {
        for (const headers of <Record<string, string>[]>[{ 'x-api-key': readerKey }, { 'x-api-key': readerKey }, { authorization: `Bearer ${admin}` }, { authorization: `Bearer ${admin}` }]) {
          const next = await stream(port, headers);
          assert.ok(next instanceof EventStreamClient);
          open.push(next);
        }
        // Two per credential, four in all (this suite's limits).
        const third = await stream(port, { 'x-api-key': readerKey });
        assert.equal(await statusOf(third), 503, 'the instance is full');
        open.pop()!.close();
        await new Promise((resolve) => setTimeout(resolve, 50));
        assert.equal(await statusOf(await stream(port, { 'x-api-key': readerKey })), 429, 'two streams of that key already');
      } finally {
        for (const client of open) client.close();
      }
    });

    it('ends an admin stream once the admin is demoted', async () => {
      const id = await createUser(t, 'temp-admin', { roles: ['admin'] });
      const token = (await signIn(t, 'temp-admin')).access_token;
      const client = await stream(port, { authorization: `Bearer ${token}` });
      assert.ok(client instanceof EventStreamClient);
      await client.until(() => client.events.some((event) => event.event === 'ready'), 'ready');
      const demoted = await t.app.inject({ method: 'PATCH', url: `/admin/users/${id}`, headers: { authorization: `Bearer ${admin}` }, payload: { roles: [] } });
      assert.equal(demoted.statusCode, 200, demoted.body);
      await client.until(() => client.ended, 'the stream to end', 2000);
    });
  });
}
