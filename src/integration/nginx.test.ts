import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createUser, startTestApp, strongPassword, type SignedIn, type TestApp } from '../test-support/app.js';
import { testBackends } from '../test-support/databases.js';
import { freePort, repoRoot } from '../test-support/process.js';

/*
 * examples/nginx/nginx.conf, run by a real nginx between a client and an upstream API, with a
 * real Tessera (listening on a socket) answering its auth_request subrequests. The file is used
 * as it is, with only its documented placeholders filled in.
 */

const exampleConf = join(repoRoot, 'examples/nginx/nginx.conf');

/** The example's placeholders, and nothing else, replaced by this run's addresses. */
function render(template: string, values: Record<'NGINX_LISTEN' | 'TESSERA_ADDRESS' | 'API_ADDRESS', string>): string {
  let conf = template;
  for (const [name, value] of Object.entries(values)) {
    assert.ok(conf.includes(`\${${name}}`), `the example uses \${${name}}`);
    conf = conf.replaceAll(`\${${name}}`, value);
  }
  // A placeholder this test does not know would reach nginx as a variable of the same name.
  assert.doesNotMatch(conf.replace(/#.*$/gm, ''), /\$\{/, 'every placeholder of the example is filled in');
  return conf;
}

/**
 * The nginx binary: on PATH, or in /usr/sbin, where Debian puts it and which is often not on a
 * non-root user's PATH. Without one the suite fails, never skips: CI installs nginx (.ci/run).
 */
function findNginx(): string {
  for (const candidate of ['nginx', '/usr/sbin/nginx']) {
    if (spawnSync(candidate, ['-v']).status === 0) return candidate;
  }
  throw new Error('The nginx example test needs nginx, which is neither on PATH nor in /usr/sbin: apt-get install nginx');
}

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** The protected API: answers every request with what it received, and keeps a copy. */
async function startEchoApi(): Promise<{ server: Server; address: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const entry = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      seen.push(entry);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(entry));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, address: `127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

interface Nginx {
  /** What nginx wrote to stderr and its error log, for failure messages. */
  logs(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Runs nginx (`$@`) under sh, tied to a pipe from this process: when the pipe closes, because
 * stop() closed it or because this process died in any way (a runner's timeout kills test files
 * with a signal, after hooks or not), sh stops nginx: SIGTERM, and SIGKILL 5 s later. The shell
 * exits with nginx's status, so a bad configuration still shows as an early exit.
 */
const supervisor = `
exec 3<&0
"$@" </dev/null &
nginx=$!
{ read -r _ <&3; kill -TERM "$nginx" 2>/dev/null; sleep 5; kill -KILL "$nginx" 2>/dev/null; } &
watchdog=$!
wait "$nginx"
status=$?
kill "$watchdog" 2>/dev/null
exit "$status"
`;

async function startNginx(binary: string, prefix: string, conf: string, port: number): Promise<Nginx> {
  await mkdir(join(prefix, 'logs'), { recursive: true });
  await mkdir(join(prefix, 'tmp'), { recursive: true });
  const confPath = join(prefix, 'nginx.conf');
  await writeFile(confPath, conf);
  const child = spawn('sh', ['-c', supervisor, 'sh', binary, '-p', `${prefix}/`, '-c', confPath, '-g', 'daemon off;'], {
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const nginx: Nginx = {
    async logs() {
      const errorLog = await readFile(join(prefix, 'logs/error.log'), 'utf8').catch(() => '');
      return `${stderr}${errorLog}`;
    },
    async stop() {
      child.stdin!.end();
      await exited;
    },
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}:\n${await nginx.logs()}`);
    try {
      await fetch(`http://127.0.0.1:${port}/`);
      return nginx;
    } catch {
      if (Date.now() > deadline) {
        await nginx.stop();
        throw new Error(`nginx did not listen on ${port} within 10 s:\n${await nginx.logs()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A request to nginx from `127.0.0.2` (the client), so that the address Tessera resolves differs
 * from nginx's own `127.0.0.1`. node:http rather than fetch: fetch can neither pick the source
 * address nor send some of the headers a forger would.
 */
function send(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, localAddress: '127.0.0.2', method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer from nginx to ${method} ${path} within 10 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** What a client might send to pass itself off as someone else. */
const spoofed = {
  'x-user-id': 'spoofed-user',
  'x-username': 'spoofed',
  'x-roles': 'admin',
  'x-permissions': 'orders:read',
  'x-session-id': 'spoofed-session',
  'x-tenant-id': 'spoofed-tenant',
  'x-auth-method': 'api_key',
  'x-forwarded-for': '203.0.113.7',
};

/** The token with its payload changed (another subject) and the original signature kept. */
function forged(token: string): string {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
  return [header, Buffer.from(JSON.stringify({ ...claims, sub: 'someone-else' })).toString('base64url'), signature].join('.');
}

for (const backend of testBackends()) {
  describe(`examples/nginx/nginx.conf with a real nginx (${backend.name})`, () => {
    let prefix: string | undefined;
    let t: TestApp | undefined;
    let api: Awaited<ReturnType<typeof startEchoApi>> | undefined;
    let nginx: Nginx | undefined;
    let port = 0;
    let aliceId = '';
    let adminId = '';

    const signIn = async (username: string, headers: Record<string, string> = {}): Promise<SignedIn> => {
      const body = JSON.stringify({ username, password: strongPassword });
      const response = await send(port, 'POST', '/auth/login', { 'content-type': 'application/json', ...headers }, body);
      assert.equal(response.status, 200, response.body);
      return JSON.parse(response.body) as SignedIn;
    };
    const seenBy = (answer: Answer) => JSON.parse(answer.body) as Seen;

    before(async () => {
      const binary = findNginx();
      prefix = await mkdtemp(join(tmpdir(), 'tessera-nginx-'));
      // Started as root, nginx runs its workers as nobody, and they write request bodies under
      // tmp/: mkdtemp's 0700 would keep them out.
      await chmod(prefix, 0o755);
      // nginx is the only proxy in front of Tessera, at 127.0.0.1.
      t = await startTestApp(backend, { env: { TESSERA_TRUST_PROXY: '127.0.0.1' } });
      const tessera = new URL(await t.app.listen({ port: 0, host: '127.0.0.1' })).host;
      aliceId = await createUser(t, 'alice');
      adminId = await createUser(t, 'root', { roles: ['support', 'admin'] });
      await createUser(t, 'carol', { roles: ['administrator', 'viewer'] });
      api = await startEchoApi();
      port = await freePort();
      const conf = render(await readFile(exampleConf, 'utf8'), {
        NGINX_LISTEN: `127.0.0.1:${port}`,
        TESSERA_ADDRESS: tessera,
        API_ADDRESS: api.address,
      });
      nginx = await startNginx(binary, prefix, conf, port);
    });

    // Every resource is released even when start-up failed half way; nginx above all.
    after(async () => {
      try {
        await nginx?.stop();
      } finally {
        if (api) await new Promise((resolve) => api!.server.close(resolve));
        await t?.close();
        if (prefix) await rm(prefix, { recursive: true, force: true });
      }
    });

    it('answers 401 with Tessera’s WWW-Authenticate and a JSON error when there is no token; the API is not reached', async () => {
      const before = api!.seen.length;
      const response = await send(port, 'GET', '/api/orders');
      assert.equal(response.status, 401, response.body);
      assert.equal(response.headers['www-authenticate'], 'Bearer realm="tessera"');
      assert.match(String(response.headers['content-type']), /^application\/json/);
      assert.equal((JSON.parse(response.body) as { error: string }).error, 'invalid_token');
      assert.equal(api!.seen.length, before);
    });

    it('answers 401 to a forged token, and Tessera records the forger’s address, not nginx’s', async () => {
      const s = await signIn('alice');
      const before = api!.seen.length;
      const rejected: string[] = [];
      const unsubscribe = t!.tessera.events.subscribe((event) => {
        if (event.type === 'token.rejected') rejected.push(event.context.ip ?? '');
      });
      try {
        const response = await send(port, 'GET', '/api/orders', { ...bearer(forged(s.access_token)), 'x-forwarded-for': '203.0.113.7' });
        assert.equal(response.status, 401, response.body);
        assert.match(String(response.headers['www-authenticate']), /^Bearer realm="tessera", error="invalid_token"/);
      } finally {
        unsubscribe();
      }
      assert.equal(api!.seen.length, before);
      // Forged tokens feed detection, which blocks their source: were it nginx's address, a forger
      // would lock every client out.
      assert.deepEqual(rejected, ['127.0.0.2']);
    });

    it('forwards a valid token’s identity to the API and none that the client sent', async () => {
      const s = await signIn('alice');
      const response = await send(port, 'GET', '/api/orders?page=2', { ...bearer(s.access_token), ...spoofed });
      assert.equal(response.status, 200, response.body);
      const seen = seenBy(response);
      assert.equal(seen.url, '/api/orders?page=2');
      assert.equal(seen.headers['x-user-id'], aliceId);
      assert.equal(seen.headers['x-username'], 'alice');
      assert.equal(seen.headers['x-session-id'], s.session_id);
      // alice has no roles, permissions or tenant: Tessera's values are empty, so nginx sends
      // none of these headers, and the client's copies are dropped as well.
      for (const name of ['x-roles', 'x-permissions', 'x-tenant-id', 'x-auth-method']) assert.equal(seen.headers[name], undefined, name);
      assert.equal(seen.headers['x-forwarded-for'], '127.0.0.2', 'the client address, not what the client claimed');
    });

    it('passes a request body to the API, and neither the body nor its length to Tessera', async () => {
      const s = await signIn('alice');
      const atTessera: IncomingHttpHeaders[] = [];
      const listener = (request: IncomingMessage) => atTessera.push(request.headers);
      t!.app.server.prependListener('request', listener);
      // Larger than nginx's in-memory buffer, so it goes through nginx's temporary files.
      const body = JSON.stringify({ items: 'tea,'.repeat(50_000) });
      try {
        const response = await send(port, 'POST', '/api/orders', { ...bearer(s.access_token), 'content-type': 'application/json' }, body);
        assert.equal(response.status, 200, `${response.body}\n${await nginx!.logs()}`);
        assert.equal(seenBy(response).method, 'POST');
        assert.equal(seenBy(response).body, body);
      } finally {
        t!.app.server.removeListener('request', listener);
      }
      // A Content-Length without its body would leave Tessera waiting for bytes that never come,
      // on a connection nginx keeps for the next requests.
      assert.equal(atTessera.length, 1);
      assert.equal(atTessera[0]!['content-length'], undefined);
      assert.equal(atTessera[0]!['transfer-encoding'], undefined);
    });

    it('answers 403 on the admin-only location to users without the admin role, even claiming it', async () => {
      const before = api!.seen.length;
      for (const username of ['alice', 'carol']) {
        const s = await signIn(username);
        for (const path of ['/api/admin/reports', '/api/admin', '/api//admin/reports', '/api/%61dmin/reports', '/api/ADMIN/reports', '/api/Admin', '/api/%5Cadmin/reports', '/api/%5cADMIN']) {
          const response = await send(port, 'GET', path, { ...bearer(s.access_token), 'x-roles': 'admin' });
          assert.equal(response.status, 403, `${username} ${path}: ${response.body}`);
          assert.deepEqual(JSON.parse(response.body), { error: 'forbidden', error_description: 'You are not allowed to do this.' });
        }
      }
      assert.equal(api!.seen.length, before);
      assert.equal((await send(port, 'GET', '/api/admin/reports')).status, 401, 'no token is still 401 there');
    });

    it('lets an admin through the admin-only location, with the roles forwarded', async () => {
      const s = await signIn('root');
      const response = await send(port, 'GET', '/api/admin/reports', bearer(s.access_token));
      assert.equal(response.status, 200, response.body);
      assert.equal(seenBy(response).url, '/api/admin/reports');
      assert.equal(seenBy(response).headers['x-user-id'], adminId);
      assert.deepEqual(String(seenBy(response).headers['x-roles']).split(',').sort(), ['admin', 'support']);
    });

    it("forwards an API key's identity with X-Auth-Method: api_key and no roles, so an admin's key never opens the admin-only location", async () => {
      const { key } = await t!.tessera.apiKeys.create(adminId, { name: 'reports job', permissions: [] });
      const response = await send(port, 'GET', '/api/orders', { 'x-api-key': key, ...spoofed });
      assert.equal(response.status, 200, response.body);
      const seen = seenBy(response);
      assert.equal(seen.headers['x-user-id'], adminId);
      assert.equal(seen.headers['x-auth-method'], 'api_key');
      assert.equal(seen.headers['x-roles'], undefined, 'a key carries no roles');
      const before = api!.seen.length;
      const admin = await send(port, 'GET', '/api/admin/reports', { 'x-api-key': key });
      assert.equal(admin.status, 403, admin.body);
      assert.equal(api!.seen.length, before);
    });

    it('answers 401 to a token whose session was signed out', async () => {
      const s = await signIn('alice');
      assert.equal((await send(port, 'GET', '/api/orders', bearer(s.access_token))).status, 200);
      assert.equal((await send(port, 'POST', '/auth/logout', bearer(s.access_token))).status, 204);
      const response = await send(port, 'GET', '/api/orders', bearer(s.access_token));
      assert.equal(response.status, 401, response.body);
      assert.match(String(response.headers['www-authenticate']), /error="invalid_token"/);
    });

    it('lets Tessera see the client’s address through X-Forwarded-For (TESSERA_TRUST_PROXY)', async () => {
      const s = await signIn('alice', { 'x-forwarded-for': '203.0.113.7' });
      const response = await send(port, 'GET', '/auth/sessions', bearer(s.access_token));
      assert.equal(response.status, 200, response.body);
      const sessions = JSON.parse(response.body) as { sessions: { id: string; ip: string | null }[] };
      assert.equal(sessions.sessions.find((session) => session.id === s.session_id)?.ip, '127.0.0.2');
    });

    it('answers 404 in the same JSON shape for paths it does not serve', async () => {
      const response = await send(port, 'GET', '/elsewhere');
      assert.equal(response.status, 404);
      assert.equal((JSON.parse(response.body) as { error: string }).error, 'not_found');
      assert.equal((await send(port, 'GET', '/_tessera/verify', bearer('x'))).status, 404, 'the subrequest location is internal');
    });
  });
}
