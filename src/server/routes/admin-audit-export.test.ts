import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { AuditRecord } from '../../audit/record.js';
import type { AuditStore } from '../../audit/store.js';
import { AuthError } from '../../errors/auth-error.js';
import { createUser, login, signIn, startTestApp, type TestApp } from '../../test-support/app.js';
import { testBackends, type TestDatabase } from '../../test-support/databases.js';
import { assertApiError, get, type Json } from '../../test-support/tokens.js';

/* GET /admin/audit/export (SPEC §3, §5): formats, hostile values, streaming and disconnects. */

const columns = ['id', 'seq', 'at', 'type', 'outcome', 'user_id', 'session_id', 'ip', 'user_agent', 'request_id', 'severity', 'details', 'prev_hash', 'hash'];
const formulaStart = /^[=+\-@\t\r]/;

/** User agents an attacker sends to get a formula into an admin's spreadsheet, or garbage into a terminal. */
const hostileAgents = [
  '=HYPERLINK("http://x")',
  '+cmd|\' /C calc\'!A0',
  '-1+1',
  '@SUM(1+1)*cmd|\' /C calc\'!A0',
  '=1,2;"quoted"',
  'bell\u0007 escape\u001b[31m red',
  '\u0009tab first',
  `long ${'A'.repeat(5000)}`,
];

/** An RFC 4180 parser that refuses anything the RFC does not allow (bare quotes, bare CR or LF). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let i = 0;
  while (i < text.length) {
    if (text[i] === '"' && cell === '') {
      i += 1;
      for (;;) {
        const c = text[i];
        if (c === undefined) throw new Error('unterminated quoted cell');
        if (c === '"' && text[i + 1] === '"') {
          cell += '"';
          i += 2;
        } else if (c === '"') {
          i += 1;
          break;
        } else {
          cell += c;
          i += 1;
        }
      }
      if (text[i] !== ',' && text[i] !== '\r') throw new Error(`text after a closing quote at ${i}`);
      continue;
    }
    const c = text[i]!;
    if (c === ',') {
      row.push(cell);
      cell = '';
      i += 1;
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i += 2;
    } else if (c === '"' || c === '\r' || c === '\n') {
      throw new Error(`bare ${JSON.stringify(c)} at ${i}`);
    } else {
      cell += c;
      i += 1;
    }
  }
  if (cell !== '' || row.length > 0) throw new Error('the last line has no CRLF');
  return rows;
}

function rawRecord(userAgent: string, requestId: string): AuditRecord {
  return {
    id: randomUUID(),
    at: new Date(),
    type: 'test.raw',
    outcome: 'info',
    userId: null,
    sessionId: null,
    ip: '192.0.2.77',
    userAgent,
    requestId,
    severity: 'info',
    details: { note: '=cmd', nested: { b: '\r\n', a: '"' } },
  };
}

for (const backend of testBackends()) {
  describe(`GET /admin/audit/export (${backend.name})`, () => {
    let t: TestApp;
    let database: TestDatabase;
    let admin: string;
    const raw = ['\t=1+1', '\r\n@x', 'a,b"c\r\nd', '-', '=', 'plain'];
    /** The user agent recorded for each hostile sign-in, by request id, as the database holds it. */
    const stored = new Map<string, string>();

    before(async () => {
      database = await backend.open();
      t = await startTestApp(backend, { db: database.db });
      await createUser(t, 'root', { roles: ['admin'] });
      await createUser(t, 'alice');
      admin = (await signIn(t, 'root')).access_token;
      for (const [i, agent] of hostileAgents.entries()) {
        const response = await login(t, { username: 'alice', password: 'not the password at all' }, { 'user-agent': agent, 'x-request-id': `ua-${i}` });
        assert.equal(response.statusCode, 401);
      }
      await t.tessera.auditChain.flush();
      const rows = await database.db.query<{ request_id: string; user_agent: string }>(
        `SELECT request_id, user_agent FROM audit_log WHERE request_id LIKE 'ua-%'`,
      );
      for (const row of rows) stored.set(row.request_id, row.user_agent);
      assert.equal(stored.size, hostileAgents.length);
      // Formulas arrive as sent; control characters are dropped by the HTTP layer; length is capped.
      for (let i = 0; i < 5; i += 1) assert.equal(stored.get(`ua-${i}`), hostileAgents[i]);
      assert.equal(stored.get('ua-5'), 'bell escape[31m red');
      assert.equal(stored.get('ua-6'), 'tab first');
      assert.ok(stored.get('ua-7')!.length <= 512);
      // Values the recorder would clean, appended as they are: the encoders must hold on their own.
      for (const [i, agent] of raw.entries()) await t.stores.audit.append(rawRecord(agent, `raw-${i}`));
    });
    after(async () => {
      await t?.close();
      await database?.cleanup();
    });

    async function exported(query: string): Promise<{ body: string; headers: Record<string, unknown> }> {
      const response = await get(t, `/admin/audit/export${query}`, { token: admin });
      assert.equal(response.statusCode, 200, response.body);
      return { body: response.body, headers: response.headers };
    }

    it('exports JSON Lines, oldest first, with every value exactly as stored and JSON-escaped', async () => {
      const { body, headers } = await exported('');
      assert.match(String(headers['content-type']), /^application\/x-ndjson\b/);
      assert.match(String(headers['content-disposition']), /^attachment; filename="tessera-audit-[0-9TZ-]+\.jsonl"$/);
      assert.equal(headers['cache-control'], 'no-store');
      assert.ok(body.endsWith('\n'));
      assert.doesNotMatch(body, /[\u0000-\u0009\u000b-\u001f\u007f]/, 'no raw control character: one record per line');
      const lines = body.slice(0, -1).split('\n');
      const records = lines.map((line) => JSON.parse(line) as Json & { seq: number; request_id: string | null; user_agent: string | null });
      const count = await database.db.query<{ n: string }>('SELECT count(*)::text AS n FROM audit_log');
      assert.equal(records.length, Number(count[0]!.n));
      assert.deepEqual(records.map((r) => r.seq), records.map((r) => r.seq).sort((a, b) => a - b), 'oldest first');
      assert.deepEqual(Object.keys(records[0]!), columns);

      const byRequest = new Map(records.map((r) => [r.request_id, r]));
      for (const [requestId, value] of stored) {
        assert.equal(byRequest.get(requestId)?.user_agent, value, requestId);
        assert.ok(lines.some((line) => line.includes(JSON.stringify(value))), `${requestId}: JSON-escaped in the line`);
      }
      for (const [i, agent] of raw.entries()) assert.equal(byRequest.get(`raw-${i}`)?.user_agent, agent);
      assert.ok(body.includes(JSON.stringify('a,b"c\r\nd')));
    });

    it('exports RFC 4180 CSV in which no cell can start a formula', async () => {
      const { body, headers } = await exported('?format=csv');
      assert.match(String(headers['content-type']), /^text\/csv\b/);
      assert.match(String(headers['content-disposition']), /^attachment; filename="tessera-audit-[0-9TZ-]+\.csv"$/);
      const rows = parseCsv(body);
      assert.deepEqual(rows[0], columns);
      const data = rows.slice(1);
      for (const row of data) {
        assert.equal(row.length, columns.length);
        for (const cell of row) assert.doesNotMatch(cell, formulaStart, `cell ${JSON.stringify(cell.slice(0, 40))}`);
      }
      const jsonl = (await exported('')).body.slice(0, -1).split('\n').map((line) => JSON.parse(line) as Json);
      assert.equal(data.length, jsonl.length);
      const cell = (row: string[], column: string) => row[columns.indexOf(column)]!;
      const byRequest = new Map(data.map((row) => [cell(row, 'request_id'), row]));
      const neutralised = (value: string) => (formulaStart.test(value) ? `'${value}` : value);
      for (const [requestId, value] of stored) assert.equal(cell(byRequest.get(requestId)!, 'user_agent'), neutralised(value), requestId);
      assert.equal(cell(byRequest.get('ua-0')!, 'user_agent'), `'=HYPERLINK("http://x")`);
      assert.ok(body.includes(`,"'=HYPERLINK(""http://x"")",`), 'quoted, quotes doubled');
      assert.equal(cell(byRequest.get('ua-1')!, 'user_agent'), `'+cmd|' /C calc'!A0`);
      assert.equal(cell(byRequest.get('ua-2')!, 'user_agent'), `'-1+1`);
      assert.equal(cell(byRequest.get('ua-3')!, 'user_agent'), `'@SUM(1+1)*cmd|' /C calc'!A0`);
      const expectedRaw = [`'\t=1+1`, `'\r\n@x`, 'a,b"c\r\nd', `'-`, `'=`, 'plain'];
      for (const [i, expected] of expectedRaw.entries()) assert.equal(cell(byRequest.get(`raw-${i}`)!, 'user_agent'), expected);
      const rawRow = byRequest.get('raw-0')!;
      assert.equal(cell(rawRow, 'details'), '{"nested":{"a":"\\"","b":"\\r\\n"},"note":"=cmd"}', 'canonical JSON');
      assert.equal(cell(rawRow, 'user_id'), '', 'null is an empty cell');
      // Every row matches the JSON Lines export field for field.
      for (const [n, row] of data.entries()) {
        const record = jsonl[n]!;
        for (const column of columns) {
          const value = record[column];
          const text = value === null ? '' : column === 'details' ? cell(row, column) : String(value);
          assert.equal(cell(row, column), neutralised(text), `${column} of #${String(record.seq)}`);
        }
        assert.deepEqual(JSON.parse(cell(row, 'details')), record.details);
      }
    });

    it('applies the same filters as the search, and refuses bad ones and unknown formats with 400', async () => {
      const { body } = await exported('?type=test.raw&ip=192.0.2.77&format=jsonl');
      const requestIds = body.slice(0, -1).split('\n').map((line) => (JSON.parse(line) as Json).request_id);
      assert.deepEqual(requestIds, raw.map((_, i) => `raw-${i}`));
      const empty = await exported('?type=test.none&format=csv');
      assert.equal(empty.body, `${columns.join(',')}\r\n`, 'only the header row');
      assert.equal((await exported('?type=test.none')).body, '');
      for (const query of ['format=xml', 'format=', 'format=csv&format=jsonl', 'user=nope', 'since=tomorrow', 'outcome=bad', 'limit=5', 'cursor=MQ', 'ip=1.2.3']) {
        assertApiError(await get(t, `/admin/audit/export?${query}`, { token: admin }), 400, 'invalid_request', query);
      }
      const head = await t.app.inject({ method: 'HEAD', url: '/admin/audit/export', headers: { authorization: `Bearer ${admin}` } });
      assert.equal(head.statusCode, 404, 'no HEAD: it would run the whole export to discard it');
    });

    it('answers 503 in the error shape when the database fails before the first byte', async () => {
      const store = t.stores.audit;
      const original = store.head;
      store.head = async () => {
        throw new AuthError('service_unavailable', { detail: 'database unreachable' });
      };
      try {
        const response = await get(t, '/admin/audit/export?format=csv', { token: admin });
        assert.equal(response.statusCode, 503);
        assert.match(String(response.headers['content-type']), /^application\/json\b/);
        assert.equal(response.headers['content-disposition'], undefined);
        assert.deepEqual(response.json(), { error: 'service_unavailable', error_description: 'The service is temporarily unavailable.' });
      } finally {
        store.head = original;
      }
    });

    it('stops querying when the client disconnects mid-export, and keeps serving', async () => {
      const bulk = 3500;
      await database.db.query(
        `INSERT INTO audit_log (id, at, type, outcome, ip, user_agent, severity, details, prev_hash, hash, scheme)
         SELECT gen_random_uuid(), $1::timestamptz + i * interval '1 millisecond', 'test.bulk', 'info', '192.0.2.9', 'bulk ' || i, 'info',
                jsonb_build_object('i', i), repeat('0', 64), md5(i::text) || md5(i::text), 'hmac-sha256'
         FROM generate_series(1, $2::int) AS i`,
        [new Date(), bulk],
      );
      await t.app.listen({ port: 0, host: '127.0.0.1' });
      const address = t.app.server.address();
      const port = typeof address === 'object' && address ? address.port : 0;

      const store: AuditStore = t.stores.audit;
      const scan = store.scan;
      const bulkScans: number[] = [];
      let serverSocketClosed!: Promise<unknown>;
      t.app.server.once('connection', (socket) => {
        serverSocketClosed = once(socket, 'close');
      });
      store.scan = async (filter, range) => {
        if (filter.type === 'test.bulk') {
          bulkScans.push(range.afterSeq);
          // The second batch is answered only once the server has seen the connection close.
          if (bulkScans.length === 2) {
            await serverSocketClosed;
            await new Promise((resolve) => setImmediate(resolve));
          }
        }
        return scan(filter, range);
      };
      try {
        const response = await new Promise<IncomingMessage>((resolve, reject) => {
          httpGet({ host: '127.0.0.1', port, path: '/admin/audit/export?type=test.bulk', headers: { authorization: `Bearer ${admin}` } }, resolve).on(
            'error',
            reject,
          );
        });
        assert.equal(response.statusCode, 200);
        await once(response, 'data');
        response.destroy();

        // The same server exports everything afterwards; by then the abandoned export has stopped.
        const full = await fetch(`http://127.0.0.1:${port}/admin/audit/export?type=test.bulk&format=csv`, { headers: { authorization: `Bearer ${admin}` } });
        assert.equal(full.status, 200);
        const text = await full.text();
        assert.equal(parseCsv(text).length, bulk + 1);
        const health = await fetch(`http://127.0.0.1:${port}/healthz`);
        assert.equal(health.status, 200);
        const abandoned = bulkScans.length - Math.ceil(bulk / 1000);
        assert.ok(abandoned >= 1 && abandoned <= 2, `the abandoned export ran ${abandoned} batch queries, not all ${Math.ceil(bulk / 1000)}`);
      } finally {
        store.scan = scan;
      }
    });
  });
}
