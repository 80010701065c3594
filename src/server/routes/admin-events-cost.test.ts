import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createUser, signIn, startTestApp, type TestApp } from '../../test-support/app.js';
import { testBackends } from '../../test-support/databases.js';
import { EventStreamClient, openStream } from '../../test-support/event-stream.js';
import { verifyGet } from '../../test-support/tokens.js';

/*
 * Issue 10 finding 11: open /admin/events streams must not multiply the cost of unauthenticated
 * requests. Events that are not recorded (forged tokens past the audit sample) wake no stream;
 * a recorded one costs one flush and one query for all streams together, and reaches each once.
 */

const streams = 4;
/** Forged-token records kept per address and window before sampling drops them (app/create-tessera.ts). */
const sampledRecords = 10;

for (const backend of testBackends()) {
  describe(`GET /admin/events under a flood of unrecorded events (${backend.name})`, () => {
    let t: TestApp;
    let port: number;
    let admin: string;

    before(async () => {
      // No polling and no heartbeats in the measured window: only wakes can cause reads.
      const idle = 3_600_000;
      t = await startTestApp(backend, { app: { eventStream: { heartbeatMs: idle, pollMs: idle, recheckMs: idle, maxStreams: streams } } });
      await t.app.listen({ host: '127.0.0.1', port: 0 });
      port = (t.app.server.address() as AddressInfo).port;
      await createUser(t, 'cost-admin', { roles: ['admin'] });
      admin = (await signIn(t, 'cost-admin')).access_token;
    });
    after(() => t?.close());

    it('wakes no stream for a forged-token flood, and reads once for all streams per recorded event', async () => {
      await t.tessera.auditChain.flush();
      const startSeq = (await t.stores.audit.head())?.seq ?? 0;
      const opened = await Promise.all(Array.from({ length: streams }, () => openStream(port, { authorization: `Bearer ${admin}` })));
      const clients = opened.filter((stream): stream is EventStreamClient => stream instanceof EventStreamClient);
      assert.equal(clients.length, streams);
      const audit = t.stores.audit;
      const chain = t.tessera.auditChain;
      const { listAfter } = audit;
      const { flush } = chain;
      try {
        const [header, payload, signature] = admin.split('.');
        const forged = `${header}.${payload}.${signature!.startsWith('A') ? 'B' : 'A'}${signature!.slice(1)}`;
        const headSeq = async () => {
          await chain.flush();
          return (await audit.head())?.seq ?? 0;
        };
        const caughtUp = async (seq: number, label: string) => {
          for (const client of clients) await client.until(() => Number(client.events.at(-1)?.id ?? startSeq) >= seq, label);
        };

        // The first forged tokens from an address are recorded (and reach the streams); the rest are not.
        for (let i = 0; i < sampledRecords; i += 1) assert.equal((await verifyGet(t, forged)).statusCode, 401);
        // Detection opens an incident along the way: wait until the log stops growing.
        let sampledSeq = 0;
        do {
          await t.tessera.detection.settled();
          sampledSeq = await headSeq();
          await caughtUp(sampledSeq, 'the sampled forged-token records');
        } while ((await headSeq()) !== sampledSeq);

        let queries = 0;
        let fruitful = 0;
        let flushes = 0;
        audit.listAfter = async (...args) => {
          queries += 1;
          const records = await listAfter.apply(audit, args);
          if (records.length > 0) fruitful += 1;
          return records;
        };
        chain.flush = () => {
          flushes += 1;
          return flush.apply(chain);
        };
        const burst = await Promise.all(Array.from({ length: 50 }, () => verifyGet(t, forged)));
        assert.deepEqual(new Set(burst.map((response) => response.statusCode)), new Set([401]));
        await t.tessera.detection.settled();
        // One recorded event after the flood: once every stream has it, every read the flood
        // could have caused has happened.
        await createUser(t, 'cost-recorded');
        await caughtUp(sampledSeq + 1, 'the recorded event');
        assert.equal(fruitful, 1, 'one query brought the recorded event to every stream');
        // A read already under way when counting began (a stream that had been busy catching up
        // reads once more, and finds nothing) may add one of each; per stream it would be 4+.
        assert.ok(queries <= 2 && flushes <= 2, `one flush and one query per read, shared by all streams: ${queries} queries, ${flushes} flushes`);

        audit.listAfter = listAfter;
        chain.flush = flush;
        assert.equal(await headSeq(), sampledSeq + 1, 'the flood was not recorded');
        const seqs = (await audit.listAfter(startSeq, 1000)).map((record) => String(record.seq));
        for (const [index, client] of clients.entries()) {
          assert.deepEqual(client.events.map((event) => event.id), seqs, `stream ${index}: every record once, in order, no gaps`);
          assert.equal(client.events.at(-1)?.event, 'user.created');
        }
      } finally {
        audit.listAfter = listAfter;
        chain.flush = flush;
        for (const client of clients) client.close();
      }
    });
  });
}
