import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError } from './config.js';
import { formatDuration, parseDuration } from './duration.js';
import { loadConfig, parseConfig } from './load.js';

const secret = 'a'.repeat(32);

function issuesOf(env: Record<string, string>): { variable: string; message: string }[] {
  try {
    parseConfig({ TESSERA_SECRET: secret, ...env });
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return [...error.issues];
  }
  assert.fail('expected a ConfigError');
}

describe('durations', () => {
  const cases: [string, number | undefined][] = [
    ['500ms', 500],
    ['10s', 10_000],
    ['15m', 900_000],
    ['12h', 43_200_000],
    ['7d', 604_800_000],
    ['2w', 1_209_600_000],
    ['30', 30_000],
    [' 15m ', 900_000],
    ['', undefined],
    ['15', 15_000],
    ['-5m', undefined],
    ['1.5h', undefined],
    ['15 m', undefined],
    ['15M', undefined],
    ['1y', undefined],
    ['m', undefined],
    ['9999999999d', undefined],
  ];
  for (const [text, expected] of cases) {
    it(`parses ${JSON.stringify(text)}`, () => assert.equal(parseDuration(text), expected));
  }
  it('formats back to the largest exact unit', () => {
    assert.equal(formatDuration(900_000), '15m');
    assert.equal(formatDuration(604_800_000), '1w');
    assert.equal(formatDuration(90_000), '90s');
    assert.equal(formatDuration(1500), '1500ms');
  });
});

describe('parseConfig', () => {
  it('applies the SPEC defaults', () => {
    const config = parseConfig({ TESSERA_SECRET: secret });
    assert.equal(config.port, 8080);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.issuer, 'http://127.0.0.1:8080');
    assert.equal(config.signingAlg, 'RS256');
    assert.equal(config.accessTtlMs, 15 * 60_000);
    assert.equal(config.refreshTtlMs, 7 * 86_400_000);
    assert.equal(config.sessionMaxAgeMs, 30 * 86_400_000);
    assert.equal(config.refreshReuseGraceMs, 10_000);
    assert.equal(config.keyRotationMs, 90 * 86_400_000);
    assert.equal(config.maxSessionsPerUser, 10);
    assert.equal(config.signup, 'closed');
    assert.equal(config.trustProxy, false);
    assert.deepEqual(config.corsOrigins, []);
    assert.equal(config.databaseUrl, undefined);
    assert.equal(config.dataDir, './.tessera');
    assert.ok(Object.isFrozen(config));
  });

  it('warns about development defaults, and not in a production-like setup', () => {
    const dev = parseConfig({}, { fallbackSecret: secret });
    assert.equal(dev.secretSource, 'data-dir');
    assert.equal(dev.warnings.length, 4);
    assert.match(dev.warnings.join('\n'), /password-reset links are written to the log/);
    assert.match(dev.warnings.join('\n'), /TESSERA_SECRET/);
    assert.match(dev.warnings.join('\n'), /DATABASE_URL/);
    assert.match(dev.warnings.join('\n'), /plain HTTP/);
    const prod = parseConfig({
      TESSERA_SECRET: secret,
      DATABASE_URL: 'postgres://db.internal/tessera',
      TESSERA_ISSUER: 'https://auth.example.com/',
      TESSERA_SMTP_URL: 'smtp://mail.internal:587',
    });
    assert.deepEqual(prod.warnings, []);
    assert.equal(prod.issuer, 'https://auth.example.com');
  });

  it('parses trusted proxies, CORS origins and the bootstrap admin', () => {
    const config = parseConfig({
      TESSERA_SECRET: secret,
      TESSERA_TRUST_PROXY: '127.0.0.1, 10.0.0.0/8,::1',
      TESSERA_CORS_ORIGINS: 'https://app.example.com,http://localhost:3000',
      TESSERA_BOOTSTRAP_ADMIN: 'admin:pass:with:colons',
    });
    assert.deepEqual(config.trustProxy, ['127.0.0.1', '10.0.0.0/8', '::1']);
    assert.deepEqual(config.corsOrigins, ['https://app.example.com', 'http://localhost:3000']);
    assert.deepEqual(config.bootstrapAdmin, { username: 'admin', password: 'pass:with:colons' });
    assert.equal(parseConfig({ TESSERA_SECRET: secret, TESSERA_TRUST_PROXY: '2' }).trustProxy, 2);
  });

  const invalid: [string, string, RegExp][] = [
    ['PORT', 'eighty', /whole number/],
    ['PORT', '70000', /between/],
    ['TESSERA_ACCESS_TTL', '15 minutes', /duration/],
    ['TESSERA_ACCESS_TTL', '1s', /between/],
    ['TESSERA_REFRESH_TTL', 'forever', /duration/],
    ['TESSERA_SIGNING_ALG', 'HS256', /RS256/],
    ['TESSERA_SIGNING_ALG', 'none', /one of/],
    ['TESSERA_SIGNUP', 'yes', /one of/],
    ['TESSERA_SESSION_BINDING', 'loose', /one of/],
    ['TESSERA_SECRET', 'short', /at least 32/],
    ['TESSERA_ISSUER', 'not a url', /URL/],
    ['TESSERA_ISSUER', 'ftp://auth.example.com', /http/],
    ['TESSERA_ISSUER', 'https://auth.example.com/?q=1', /query/],
    ['TESSERA_TRUST_PROXY', '10.0.0.0/33', /IP/],
    ['TESSERA_TRUST_PROXY', 'proxy.example.com', /IP/],
    ['TESSERA_CORS_ORIGINS', '*', /origins/],
    ['TESSERA_CORS_ORIGINS', 'https://app.example.com/path', /origins/],
    ['TESSERA_BOOTSTRAP_ADMIN', 'adminonly', /name:password/],
    ['TESSERA_MAX_SESSIONS_PER_USER', '0', /between/],
    ['DATABASE_URL', 'mysql://localhost/db', /postgres/],
    ['REDIS_URL', 'http://localhost', /redis/],
    // Reset tokens travel in these: plain HTTP only to this host (issue 10, finding 13).
    ['TESSERA_WEBHOOK_URL', 'http://hooks.example.com/tessera', /https:\/\/.*loopback/],
    ['TESSERA_WEBHOOK_URL', 'http://127.0.0.1.nip.io/hook', /https:\/\//],
    ['TESSERA_WEBHOOK_URL', 'http://localhost.example.com/hook', /https:\/\//],
    ['TESSERA_WEBHOOK_URL', 'http://10.0.0.5/hook', /https:\/\//],
    ['TESSERA_WEBHOOK_URL', 'ftp://hooks.example.com/', /https:\/\//],
    ['TESSERA_RESET_URL', 'http://app.example.com/reset', /https:\/\/.*loopback/],
    ['TESSERA_RESET_URL', 'http://[::ffff:7f00:1]/reset', /https:\/\//],
    ['TESSERA_RESET_URL', 'not a url', /https:\/\//],
  ];
  for (const [variable, value, message] of invalid) {
    it(`refuses ${variable}=${JSON.stringify(value)}, naming the variable`, () => {
      const issues = issuesOf({ [variable]: value });
      const issue = issues.find((candidate) => candidate.variable === variable);
      assert.ok(issue, `an issue names ${variable}: ${JSON.stringify(issues)}`);
      assert.match(issue.message, message);
    });
  }

  describe('TESSERA_TRUST_PROXY', () => {
    const accepted: [string, false | number | string[]][] = [
      ['false', false],
      ['0', false],
      ['1', 1],
      ['16', 16],
      [' 2 ', 2],
      ['127.0.0.1', ['127.0.0.1']],
      ['10.0.0.0/8, 192.168.0.0/16,', ['10.0.0.0/8', '192.168.0.0/16']],
      ['2001:DB8:0::/32,::1,::ffff:10.1.2.3', ['2001:db8::/32', '::1', '10.1.2.3']],
      ['::ffff:10.0.0.0/104', ['10.0.0.0/8']],
      ['10.1.2.3/32', ['10.1.2.3']],
    ];
    for (const [value, expected] of accepted) {
      it(`accepts ${JSON.stringify(value)}`, () => {
        assert.deepEqual(parseConfig({ TESSERA_SECRET: secret, TESSERA_TRUST_PROXY: value }).trustProxy, expected);
      });
    }

    // Everything not implemented stops start-up, naming the variable and never echoing the value.
    const refused: [string, RegExp][] = [
      ['true', /hop count from 0 to 16/],
      ['loopback', /entry 1 is not an IP/],
      ['loopback, 10.0.0.0/8', /entry 1 is not an IP/],
      ['uniquelocal', /entry 1 is not an IP/],
      ['proxy.example.com', /entry 1 is not an IP/],
      ['10.0.0.0/33', /entry 1 has a prefix length that is not 0 to 32/],
      ['2001:db8::/129', /prefix length that is not 0 to 128/],
      ['10.0.0.0/8/8', /prefix length/],
      ['10.0.0.1/8', /bits set beyond its prefix/],
      ['0.0.0.0/0', /trusts every address/],
      ['::/0', /trusts every address/],
      ['-1', /not an IP/],
      ['17', /hop count is above 16/],
      ['99999999999999999999', /hop count is above 16/],
      ['1.5', /not an IP/],
      ['1,10.0.0.1', /entry 1 is not an IP/],
      ['10.0.0.0/8,<script>', /entry 2 is not an IP/],
      ['127.0.0.1:80', /not an IP/],
      ['[::1]', /not an IP/],
      ['fe80::1%eth0', /not an IP/],
      [',', /must be false, a hop count/],
    ];
    for (const [value, message] of refused) {
      it(`refuses ${JSON.stringify(value)}`, () => {
        const issue = issuesOf({ TESSERA_TRUST_PROXY: value }).find((candidate) => candidate.variable === 'TESSERA_TRUST_PROXY');
        assert.ok(issue, 'an issue names TESSERA_TRUST_PROXY');
        assert.match(issue.message, message);
        if (value.length > 2) assert.ok(!issue.message.includes(value), `the message does not echo ${value}`);
      });
    }
  });

  describe('TESSERA_DETECTION_EXEMPT', () => {
    const accepted: [string | undefined, string[]][] = [
      [undefined, []],
      ['', []],
      ['127.0.0.0/8, ::1', ['127.0.0.0/8', '::1']],
      ['10.0.0.0/8,2001:DB8::/32,', ['10.0.0.0/8', '2001:db8::/32']],
      ['::ffff:192.168.0.0/112', ['192.168.0.0/16']],
    ];
    for (const [value, expected] of accepted) {
      it(`accepts ${JSON.stringify(value)}`, () => {
        assert.deepEqual(parseConfig({ TESSERA_SECRET: secret, TESSERA_DETECTION_EXEMPT: value }).detectionExempt, expected);
      });
    }
    const refused: [string, RegExp][] = [
      ['localhost', /entry 1 is not an IP/],
      ['10.0.0.0/8, office.example.com', /entry 2 is not an IP/],
      ['10.0.0.0/33', /prefix length that is not 0 to 32/],
      ['10.0.0.1/8', /bits set beyond its prefix/],
      ['127.0.0.1:80', /not an IP/],
    ];
    for (const [value, message] of refused) {
      it(`refuses ${JSON.stringify(value)}`, () => {
        const issue = issuesOf({ TESSERA_DETECTION_EXEMPT: value }).find((candidate) => candidate.variable === 'TESSERA_DETECTION_EXEMPT');
        assert.ok(issue, 'an issue names TESSERA_DETECTION_EXEMPT');
        assert.match(issue.message, message);
        assert.ok(!issue.message.includes(value), `the message does not echo ${value}`);
      });
    }
  });

  it('never echoes a secret value in its messages', () => {
    for (const env of [{ TESSERA_SECRET: 'hunter2-short' }, { TESSERA_BOOTSTRAP_ADMIN: 'hunter2-no-colon' }]) {
      try {
        parseConfig(env);
        assert.fail('expected a ConfigError');
      } catch (error) {
        assert.ok(error instanceof ConfigError);
        assert.doesNotMatch(error.message, /hunter2/);
      }
    }
  });

  it('allows plain-HTTP webhook and reset URLs on loopback hosts only, with a start-up warning', () => {
    const loopback = ['http://127.0.0.1:9000/hook', 'http://127.8.9.10/hook', 'http://[::1]:8080/hook', 'http://localhost:3000/hook', 'http://LOCALHOST/hook'];
    for (const url of loopback) {
      for (const variable of ['TESSERA_WEBHOOK_URL', 'TESSERA_RESET_URL']) {
        const config = parseConfig({ TESSERA_SECRET: secret, TESSERA_WEBHOOK_SECRET: 'webhook-secret-0123456', [variable]: url });
        const warnings = config.warnings.filter((warning) => warning.includes(variable));
        assert.equal(warnings.length, 1, `${variable}=${url}: ${JSON.stringify(config.warnings)}`);
        assert.match(warnings[0]!, /plain HTTP/);
      }
    }
    const secure = parseConfig({
      TESSERA_SECRET: secret,
      TESSERA_WEBHOOK_URL: 'https://hooks.example.com/tessera',
      TESSERA_WEBHOOK_SECRET: 'webhook-secret-0123456',
      TESSERA_RESET_URL: 'https://app.example.com/reset',
    });
    assert.deepEqual(secure.warnings.filter((warning) => /WEBHOOK_URL|RESET_URL/.test(warning)), []);
    assert.equal(secure.outbox.webhookUrl, 'https://hooks.example.com/tessera');
  });

  it('requires STARTTLS for smtp:// except on loopback hosts, which start-up warns about', () => {
    // Issue 10 review L5: nodemailer upgrades smtp:// only if the server offers STARTTLS.
    const accepted: [url: string, requireStartTls: boolean, warned: boolean][] = [
      ['smtp://mail.example.com:587', true, false],
      ['smtp://user:pass@192.0.2.25:587', true, false],
      ['smtps://mail.example.com:465', false, false],
      ['smtp://127.0.0.1:2525', false, true],
      ['smtp://[::1]:25', false, true],
      ['smtp://LOCALHOST:25', false, true],
      ['smtp://mail.example.com:587?name=tessera.example.com', true, false],
    ];
    for (const [url, requireStartTls, warned] of accepted) {
      const config = parseConfig({ TESSERA_SECRET: secret, TESSERA_SMTP_URL: url });
      assert.equal(config.outbox.smtpRequireStartTls, requireStartTls, url);
      const warnings = config.warnings.filter((warning) => warning.includes('TESSERA_SMTP_URL'));
      assert.equal(warnings.length, warned ? 1 : 0, `${url}: ${JSON.stringify(config.warnings)}`);
      if (warned) assert.match(warnings[0]!, /STARTTLS is not required/);
      assert.ok(!config.warnings.join('\n').includes('pass@'), 'credentials are never repeated');
    }
    const weakened = [
      'smtp://mail.example.com:587?ignoreTLS=true',
      'smtp://mail.example.com:587?requireTLS=false',
      'smtp://mail.example.com:587?opportunisticTLS=true',
      'smtps://mail.example.com:465?secure=false',
      'smtps://mail.example.com:465?tls.rejectUnauthorized=false',
      'http://mail.example.com',
    ];
    for (const url of weakened) assert.equal(issuesOf({ TESSERA_SMTP_URL: url })[0]?.variable, 'TESSERA_SMTP_URL', url);
  });

  it('refuses every TESSERA_SMTP_URL query option but a few harmless ones, without echoing the URL', () => {
    // Issue 10 review, finding 9: nodemailer reads options from the query, and some choose where
    // it connects (`service` replaces host, port and TLS), around the loopback rule for STARTTLS.
    const refused = [
      'smtp://localhost?service=Outlook365',
      'smtp://127.0.0.1:25?service=gmail',
      'smtp://[::1]:25?host=mail.example.com',
      'smtp://localhost?port=587',
      'smtp://user:hunter2@localhost:25?proxy=socks5://relay.example.com:1080',
      'smtp://localhost:25?sendmail=true',
      'smtp://localhost:25?logger=true&debug=true',
      'smtp://localhost:25?tls.minVersion=TLSv1',
      'smtp://localhost:25?Service=gmail',
      // The host as nodemailer's parser reads it differs from the WHATWG one: never guess which.
      'smtp://localhost\\@mail.example.com:25',
    ];
    for (const url of refused) {
      const issues = issuesOf({ TESSERA_SMTP_URL: url });
      assert.equal(issues[0]?.variable, 'TESSERA_SMTP_URL', url);
      const said = JSON.stringify(issues);
      for (const part of ['Outlook365', 'hunter2', 'relay.example.com', 'mail.example.com']) assert.ok(!said.includes(part), `${url}: ${said}`);
    }
    const allowed = 'smtp://localhost:25?name=tessera.example.com&connectionTimeout=5000&greetingTimeout=5000&socketTimeout=30000';
    assert.equal(parseConfig({ TESSERA_SECRET: secret, TESSERA_SMTP_URL: allowed }).outbox.smtpRequireStartTls, false);
  });

  it('requires a signing secret with a webhook', () => {
    assert.equal(issuesOf({ TESSERA_WEBHOOK_URL: 'https://hooks.example.com/tessera' })[0]?.variable, 'TESSERA_WEBHOOK_SECRET');
  });

  it('refuses a session max age shorter than the refresh TTL', () => {
    const issues = issuesOf({ TESSERA_REFRESH_TTL: '30d', TESSERA_SESSION_MAX_AGE: '7d' });
    assert.equal(issues[0]?.variable, 'TESSERA_SESSION_MAX_AGE');
  });

  it('requires a secret when no fallback is given', () => {
    assert.throws(() => parseConfig({}), (error: unknown) => error instanceof ConfigError && /TESSERA_SECRET/.test(error.message));
  });
});

describe('loadConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads .env under the real environment and keeps a generated development secret', () => {
    writeFileSync(join(dir, '.env'), 'PORT=9090\nTESSERA_ACCESS_TTL=5m\nTESSERA_DATA_DIR=./data\n');
    const first = loadConfig({ cwd: dir, env: { PORT: '9191' } });
    assert.equal(first.port, 9191, 'the environment wins over .env');
    assert.equal(first.accessTtlMs, 300_000, '.env is read');
    assert.equal(first.secretSource, 'data-dir');
    const secretFile = join(dir, 'data', 'secret');
    assert.equal(readFileSync(secretFile, 'utf8').trim(), first.secret);
    assert.equal(statSync(secretFile).mode & 0o777, 0o600);
    assert.ok(first.secret.length >= 32);
    const second = loadConfig({ cwd: dir, env: {} });
    assert.equal(second.secret, first.secret, 'the development secret survives restarts');
  });

  it('uses TESSERA_SECRET when set and writes no file', () => {
    const other = mkdtempSync(join(tmpdir(), 'tessera-config-'));
    try {
      const config = loadConfig({ cwd: other, env: { TESSERA_SECRET: secret } });
      assert.equal(config.secret, secret);
      assert.equal(config.secretSource, 'env');
      assert.throws(() => statSync(join(other, '.tessera', 'secret')));
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});
