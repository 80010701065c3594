import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, it } from 'node:test';
import { ManualClock } from '../../clock.js';
import { createRevocationSubscription, type RevocationSubscription, type RevocationSubscriptionOptions } from './revocation.js';
import { VerifyError } from './errors.js';

/*
 * The subscription against small loopback servers speaking GET /auth/revocations, one script step
 * per request, some of them hostile.
 */

const epoch = '5f1c9a2be0d3';
const apiKey = 'tsk_00000000-0000-4000-8000-000000000000_secretsecret';
const start = Date.UTC(2030, 0, 1);
const later = start + 3_600_000;

type Step = (res: ServerResponse, headers: IncomingHttpHeaders) => void;

interface Scripted {
  url: string;
  requests: IncomingHttpHeaders[];
  close(): Promise<void>;
}

const servers: Scripted[] = [];
const subscriptions: RevocationSubscription[] = [];

async function scripted(steps: Step[], fallback: Step = (res) => res.writeHead(503).end()): Promise<Scripted> {
  const requests: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    requests.push(req.headers);
    (steps[requests.length - 1] ?? fallback)(res, req.headers);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const scriptedServer: Scripted = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/auth/revocations`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  servers.push(scriptedServer);
  return scriptedServer;
}

const sseHead = (res: ServerResponse) => res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
const frame = (type: string, data: unknown, id?: string) =>
  `${id === undefined ? '' : `id: ${id}\n`}event: ${type}\ndata: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
const idOf = (seq: number) => `${epoch}-${seq}`;
const ready = (seq: number, heartbeatMs = 15_000) => frame('ready', { heartbeat_ms: heartbeatMs, at: start }, idOf(seq));
const entry = (kind: string, subject: string, extra: Record<string, unknown> = {}) => ({ kind, subject, expires_at: later, ...extra });
const revoked = (seq: number, ...entries: unknown[]) => frame('revoked', { entries }, idOf(seq));

/** A step answering the head and the frames, then holding the stream open (kept in `into`). */
function stream(text: string, into?: ServerResponse[]): Step {
  return (res) => {
    sseHead(res);
    res.write(text);
    into?.push(res);
  };
}

function subscribe(url: string, more: Partial<RevocationSubscriptionOptions> = {}) {
  const clock = new ManualClock(start);
  const errors: string[] = [];
  const subscription = createRevocationSubscription({
    issuer: 'https://auth.example',
    url,
    apiKey,
    clock,
    reconnect: { minDelayMs: 10, maxDelayMs: 40 },
    onError: (error) => errors.push(error instanceof VerifyError ? `${error.code}: ${error.message}` : String(error)),
    ...more,
  });
  subscriptions.push(subscription);
  return { subscription, clock, errors };
}

async function until(predicate: () => boolean, label: string, withinMs = 1000): Promise<void> {
  const started = Date.now();
  while (!predicate()) {
    if (Date.now() - started > withinMs) assert.fail(`${label}: not within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const token = (over: Partial<{ jti: string; sid: string; sub: string; iat: number }> = {}) => ({ jti: 'j-ok', sid: 's-ok', sub: 'u-ok', iat: start / 1000, ...over });

afterEach(async () => {
  for (const subscription of subscriptions.splice(0)) subscription.close();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

describe('the revocation subscription', () => {
  it('applies a snapshot, then refuses by jti, sid, user (iat rule), disabled and API key', async () => {
    const server = await scripted([
      stream(
        'retry: 2000\n\nid:\n' +
          frame('snapshot', { entries: [entry('jti', 'j1'), entry('sid', 's1'), entry('user', 'u1', { at: start + 10_500 }), entry('disabled', 'u2')] }) +
          frame('snapshot', { entries: [entry('api_key', 'k1'), { kind: 'future_kind', anything: [1] }] }) +
          ready(41),
      ),
    ]);
    const { subscription, errors } = subscribe(server.url);
    assert.equal(subscription.staleness(), 0);
    await subscription.ready;
    assert.equal(server.requests[0]!.accept, 'text/event-stream');
    assert.equal(server.requests[0]!['x-api-key'], apiKey);
    assert.equal(server.requests[0]!['last-event-id'], undefined);
    assert.equal(subscription.check(token()), undefined);
    assert.equal(subscription.check(token({ jti: 'j1' })), 'token_revoked');
    assert.equal(subscription.check(token({ sid: 's1' })), 'session_revoked');
    assert.equal(subscription.check(token({ sub: 'u2' })), 'user_disabled');
    assert.equal(subscription.check(token({ sub: 'u1', iat: start / 1000 + 9 })), 'user_tokens_revoked');
    assert.equal(subscription.check(token({ sub: 'u1', iat: start / 1000 + 10 })), undefined, 'issued in the second of the revoke-all');
    assert.equal(subscription.apiKeyRevoked('k1'), true);
    assert.equal(subscription.apiKeyRevoked('k2'), false);
    assert.equal(subscription.size, 5, 'the unknown kind is not held');
    assert.equal(subscription.staleness(), 0);
    assert.deepEqual(errors, []);
  });

  it('applies a revoked event after ready at once, and enabled lifts a disable but not the revoke-all', async () => {
    const open: ServerResponse[] = [];
    const server = await scripted([stream(frame('snapshot', { entries: [entry('user', 'u1', { at: start + 10_000 })] }) + ready(1), open)]);
    const { subscription } = subscribe(server.url);
    await subscription.ready;
    open[0]!.write(revoked(2, entry('jti', 'j9'), entry('disabled', 'u1')));
    await until(() => subscription.check(token({ jti: 'j9' })) === 'token_revoked', 'revoked event applied');
    assert.equal(subscription.check(token({ sub: 'u1', iat: start / 1000 + 20 })), 'user_disabled');
    open[0]!.write(frame('enabled', { user: 'u1' }, idOf(3)));
    await until(() => subscription.check(token({ sub: 'u1', iat: start / 1000 + 20 })) === undefined, 'enabled applied');
    assert.equal(subscription.check(token({ sub: 'u1', iat: start / 1000 })), 'user_tokens_revoked');
    assert.equal(server.requests.length, 1);
  });

  it('reconnects with Last-Event-ID, applies the resumed changes, and does not resume from inside a snapshot', async () => {
    let headerCalls = 0;
    const server = await scripted([
      (res) => {
        sseHead(res);
        res.end(ready(1) + revoked(2, entry('jti', 'j2')));
      },
      (res, headers) => {
        assert.equal(headers['last-event-id'], idOf(2));
        sseHead(res);
        res.end(revoked(3, entry('jti', 'j3')) + ready(3) + revoked(4, entry('jti', 'j4')));
      },
      (res, headers) => {
        assert.equal(headers['last-event-id'], idOf(4));
        // Cannot resume: a snapshot, cut before its ready.
        sseHead(res);
        res.end('id:\n' + frame('snapshot', { entries: [entry('sid', 's5')] }));
      },
      stream(frame('snapshot', { entries: [entry('jti', 'j3')] }) + ready(9)),
    ]);
    const { subscription, errors } = subscribe(server.url, { apiKey: undefined, headers: () => ({ authorization: `Bearer admin-${(headerCalls += 1)}` }) });
    await until(() => server.requests.length === 4 && subscription.staleness() === 0 && subscription.check(token({ jti: 'j2' })) === undefined, 'fourth connection live, its snapshot swapped in');
    assert.deepEqual(
      server.requests.map((headers) => [headers.authorization, headers['last-event-id']]),
      [
        ['Bearer admin-1', undefined],
        ['Bearer admin-2', idOf(2)],
        ['Bearer admin-3', idOf(4)],
        ['Bearer admin-4', undefined],
      ],
    );
    // The full snapshot of the fourth connection replaced the state: what it holds, and nothing
    // of the cut-off one (s5) nor of what it no longer lists (j2, j4).
    assert.equal(subscription.check(token({ jti: 'j3' })), 'token_revoked');
    for (const jti of ['j2', 'j4']) assert.equal(subscription.check(token({ jti })), undefined, jti);
    assert.equal(subscription.check(token({ sid: 's5' })), undefined, 'a snapshot cut before its ready is never applied');
    assert.ok(errors.every((error) => !error.includes('admin-')));
  });

  it('swaps a full snapshot in at ready, so a user enabled while away is not kept refused; a resume merges', async () => {
    const open: ServerResponse[] = [];
    const server = await scripted([
      (res) => {
        sseHead(res);
        res.end('id:\n' + frame('snapshot', { entries: [entry('disabled', 'u7'), entry('jti', 'old')] }) + ready(1));
      },
      (res) => {
        sseHead(res);
        // Resumed (snapshot: false): merged into what is held.
        res.end(revoked(2, entry('jti', 'new')) + frame('ready', { heartbeat_ms: 15_000, at: start, snapshot: false }, idOf(2)));
      },
      stream('id:\n' + frame('snapshot', { entries: [entry('jti', 'new')] }) + frame('ready', { heartbeat_ms: 15_000, at: start, snapshot: true }, `${'f'.repeat(12)}-1`), open),
    ]);
    const { subscription } = subscribe(server.url);
    await until(() => server.requests.length === 3 && subscription.staleness() === 0 && subscription.check(token({ jti: 'old' })) === undefined, 'the third snapshot swapped in');
    assert.equal(subscription.check(token({ sub: 'u7' })), undefined, 'enabled meanwhile: no longer in the snapshot');
    assert.equal(subscription.check(token({ jti: 'new' })), 'token_revoked');
    assert.equal(subscription.size, 1);
  });

  it('ignores replayed changes of the same epoch: an old enabled does not undo a later disable', async () => {
    const open: ServerResponse[] = [];
    const server = await scripted([stream(ready(1) + revoked(3, entry('disabled', 'u1')) + frame('enabled', { user: 'u1' }, idOf(2)), open)]);
    const { subscription } = subscribe(server.url);
    await subscription.ready;
    // An event without its own id carries the last one (3): a replay too.
    open[0]!.write('event: enabled\ndata: {"user":"u1"}\n\n' + revoked(3, entry('jti', 'replayed')) + revoked(4, entry('jti', 'j4')));
    await until(() => subscription.check(token({ jti: 'j4' })) !== undefined, 'j4 applied');
    assert.equal(subscription.check(token({ sub: 'u1' })), 'user_disabled');
    assert.equal(subscription.check(token({ jti: 'replayed' })), undefined);
    // A later id of the same epoch, or any id of another epoch, applies.
    open[0]!.write(frame('revoked', { entries: [entry('jti', 'other-epoch')] }, 'aaaaaaaaaaaa-1') + frame('enabled', { user: 'u1' }, 'aaaaaaaaaaaa-2'));
    await until(() => subscription.check(token({ sub: 'u1' })) === undefined, 'enabled of a later id applied');
    assert.equal(subscription.check(token({ jti: 'other-epoch' })), 'token_revoked');
  });

  describe('a hostile or broken stream: the bad event is not applied, the connection is dropped, what came before stays', () => {
    const invalidUtf8 = Buffer.concat([Buffer.from('id: 5f1c9a2be0d3-3\nevent: revoked\ndata: {"entries":[{"kind":"jti","subject":"bad'), Buffer.from([0xc3, 0x28]), Buffer.from(`","expires_at":${later}}]}\n\n`)]);
    const cases: [string, string | Buffer][] = [
      ['garbage bytes', Buffer.from([0xff, 0xfe, 0x00, 0x9c, 0x0a, 0x0a, 0xc0])],
      ['invalid UTF-8 in an event', invalidUtf8],
      ['a 2 MiB line', `data: ${'x'.repeat(2 * 1024 * 1024)}\n\n`],
      ['data that is not JSON', frame('revoked', '{"entries":[', idOf(3))],
      ['JSON of another shape', frame('revoked', [1, 2], idOf(3))],
      ['one bad entry among good ones', revoked(3, entry('jti', 'bad'), { kind: 'jti', subject: 5, expires_at: later })],
      ['a revoke-all without at', revoked(3, entry('jti', 'bad'), entry('user', 'u1'))],
      ['an enabled without a user', frame('enabled', { user: 7 }, idOf(3))],
      ['a change without an id', 'id:\n' + frame('revoked', { entries: [entry('jti', 'bad')] })],
      ['a ready of another shape', frame('ready', { heartbeat_ms: 'soon' }, idOf(3))],
    ];
    for (const [name, bad] of cases) {
      it(name, async () => {
        const server = await scripted([
          (res) => {
            sseHead(res);
            res.write(ready(1) + revoked(2, entry('jti', 'good')));
            res.write(bad);
          },
          stream(ready(9)),
        ]);
        const { subscription, errors } = subscribe(server.url);
        await until(() => server.requests.length === 2, 'reconnected');
        await until(() => subscription.staleness() === 0, 'live again');
        assert.equal(subscription.check(token({ jti: 'good' })), 'token_revoked');
        assert.equal(subscription.check(token({ jti: 'bad' })), undefined);
        assert.equal(subscription.check(token({ sub: 'u1' })), undefined);
        assert.equal(errors.length, 1);
        assert.match(errors[0]!, /^revocation_unavailable: .*a broken stream/);
      });
    }

    it('unknown event types and unknown kinds are ignored, not a reason to reconnect', async () => {
      const server = await scripted([
        stream(ready(1) + frame('future', { anything: true }, idOf(1)) + 'data: a message\n\n' + revoked(2, { kind: 'future_kind', x: 1 }, entry('jti', 'j2')) + revoked(3, entry('jti', 'j3'))),
      ]);
      const { subscription, errors } = subscribe(server.url);
      await until(() => subscription.check(token({ jti: 'j3' })) !== undefined, 'j3 applied');
      assert.equal(subscription.check(token({ jti: 'j2' })), 'token_revoked');
      assert.equal(server.requests.length, 1);
      assert.deepEqual(errors, []);
    });
  });

  it('detects a stall (no bytes for 2 × heartbeat + grace) and reconnects; heartbeats keep a stream alive', async () => {
    const times: number[] = [];
    const open: ServerResponse[] = [];
    const server = await scripted([
      // ready with a 100 ms heartbeat, then comments every 50 ms for 600 ms, then silence.
      (res) => {
        times.push(Date.now());
        sseHead(res);
        res.write(ready(1, 100));
        const beat = setInterval(() => res.write(': heartbeat\n\n'), 50);
        setTimeout(() => clearInterval(beat), 600);
        open.push(res);
      },
      // The head, then nothing at all.
      (res) => {
        times.push(Date.now());
        sseHead(res);
        res.flushHeaders();
        open.push(res);
      },
      stream(ready(2, 100)),
    ]);
    const { errors } = subscribe(server.url, { timing: { stallGraceMs: 100 } });
    await until(() => server.requests.length === 3, 'two stalls ended', 3000);
    times.push(Date.now());
    // Stall timeout 2 × 100 + 100 = 300 ms after the last byte: the first stream lived ~600 + 300 ms.
    assert.ok(times[1]! - times[0]! >= 800, `first stream ended after ${times[1]! - times[0]!} ms, during its heartbeats`);
    assert.ok(times[2]! - times[1]! >= 250, `second stream ended after ${times[2]! - times[1]!} ms`);
    assert.equal(errors.length, 1, 'one cause, reported once');
    assert.match(errors[0]!, /stalled/);
  });

  it('staleness grows while the server is down (injected clock) and failingClosed flips after failClosedAfter', async () => {
    const open: ServerResponse[] = [];
    let up = true;
    const server = await scripted([], (res) => (up ? stream(ready(1), open)(res, {}) : res.writeHead(503).end()));
    const { subscription, clock, errors } = subscribe(server.url, { failClosedAfter: 30_000 });
    clock.advance(1000);
    await subscription.ready;
    clock.advance(10_000);
    open[0]!.write(': heartbeat\n\n');
    await until(() => subscription.staleness() === 0, 'heard');
    up = false;
    open[0]!.end();
    await until(() => server.requests.length >= 3, 'retrying');
    assert.equal(subscription.staleness(), 0, 'fresh as of the last byte, and the clock has not moved');
    clock.advance(30_000);
    assert.equal(subscription.staleness(), 30_000);
    assert.equal(subscription.failingClosed(), false);
    clock.advance(1);
    assert.equal(subscription.failingClosed(), true);
    up = true;
    await until(() => !subscription.failingClosed(), 'live again');
    assert.equal(subscription.staleness(), 0);
    assert.deepEqual(errors.map((error) => error.replace(/^.*: /, '')), ['answered 503']);
  });

  it('before the first ready, staleness counts from creation', async () => {
    const server = await scripted([]);
    const { subscription, clock } = subscribe(server.url, { failClosedAfter: 5000 });
    clock.advance(5000);
    assert.equal(subscription.staleness(), 5000);
    assert.equal(subscription.failingClosed(), false);
    clock.advance(1);
    assert.equal(subscription.failingClosed(), true);
  });

  it('401 and 403: backs off (no tight loop), reported once per change of cause, never with the key', async () => {
    let status = 401;
    const server = await scripted([], (res) => res.writeHead(status, { 'www-authenticate': 'Bearer', 'content-type': 'application/json' }).end('{"error":"invalid_token"}'));
    const { errors } = subscribe(server.url, { reconnect: { minDelayMs: 50, maxDelayMs: 200 } });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const inOneSecond = server.requests.length;
    assert.ok(inOneSecond >= 3 && inOneSecond <= 20, `${inOneSecond} requests in 1 s`);
    status = 403;
    await until(() => errors.length === 2, 'the 403 reported');
    assert.match(errors[0]!, /answered 401$/);
    assert.match(errors[1]!, /answered 403$/);
    assert.ok(errors.every((error) => !error.includes(apiKey) && !error.includes('secret')));
  });

  it('a redirect is not followed (the key is not sent elsewhere)', async () => {
    const elsewhere = await scripted([], stream(ready(1)));
    const server = await scripted([], (res) => res.writeHead(302, { location: elsewhere.url }).end());
    const { subscription, errors } = subscribe(server.url);
    await until(() => server.requests.length >= 2, 'retried');
    assert.equal(elsewhere.requests.length, 0);
    assert.ok(subscription.staleness() >= 0 && errors.length === 1);
    assert.match(errors[0]!, /redirect/);
  });

  it('a response that is not an event stream is a failure', async () => {
    const server = await scripted([(res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'), stream(ready(1))]);
    const { subscription, errors } = subscribe(server.url);
    await subscription.ready;
    assert.match(errors[0]!, /other than an event stream/);
  });

  it('entries expire with the clock, and are pruned', async () => {
    const server = await scripted([stream(frame('snapshot', { entries: [entry('jti', 'j1', { expires_at: start + 1000 }), entry('sid', 's1')] }) + ready(1))]);
    const { subscription, clock } = subscribe(server.url, { timing: { pruneIntervalMs: 20 } });
    await subscription.ready;
    assert.equal(subscription.check(token({ jti: 'j1' })), 'token_revoked');
    assert.equal(subscription.size, 2);
    clock.advance(1000);
    assert.equal(subscription.check(token({ jti: 'j1' })), undefined);
    await until(() => subscription.size === 1, 'pruned');
    assert.equal(subscription.check(token({ sid: 's1' })), 'session_revoked');
  });

  it('close() ends the connection and every timer: the process exits', async () => {
    const script = `
      import { createServer } from 'node:http';
      import { createRevocationSubscription } from ${JSON.stringify(fileURLToPath(new URL('./revocation.ts', import.meta.url)))};
      let requests = 0;
      const server = createServer((req, res) => {
        requests += 1;
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(${JSON.stringify(ready(1))});
      });
      server.listen(0, '127.0.0.1', async () => {
        const url = 'http://127.0.0.1:' + server.address().port + '/auth/revocations';
        const subscription = createRevocationSubscription({ issuer: 'https://a.example', url, reconnect: { minDelayMs: 10, maxDelayMs: 20 } });
        await subscription.ready;
        subscription.close();
        subscription.close();
        // No closeAllConnections: a socket the subscription kept open would keep the server, and the process, alive.
        server.close(() => console.log('closed after ' + requests + ' request(s)'));
      });
    `;
    const output = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { timeout: 8000 }, (error, stdout) => (error ? reject(error) : resolve(stdout)));
    });
    assert.equal(output.trim(), 'closed after 1 request(s)');
  });

  it('refuses unusable URLs at creation', () => {
    for (const url of ['http://auth.example/auth/revocations', 'https://user:pass@auth.example/auth/revocations', 'not a url']) {
      assert.throws(() => createRevocationSubscription({ issuer: 'https://auth.example', url }), (error: unknown) => error instanceof VerifyError && error.code === 'invalid_options', url);
    }
  });

  it('defaults the URL to the issuer’s /auth/revocations', async () => {
    const server = await scripted([stream(ready(1))]);
    const issuer = server.url.replace('/auth/revocations', '/');
    const subscription = createRevocationSubscription({ issuer, fetch: (input, init) => fetch(input, init) });
    subscriptions.push(subscription);
    await subscription.ready;
    assert.equal(server.requests.length, 1);
  });
});
