import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { createUser, startTestApp, strongPassword, type TestApp } from '../test-support/app.js';
import { testBackends } from '../test-support/databases.js';
import { parseExposition, type Sample } from '../test-support/metrics.js';

/*
 * Issue 10 findings 5 and 6: nothing a client can see — statuses, bodies, Retry-After, or the
 * open /metrics text — differs between an identifier that names an account and one that does not.
 */

const minute = 60_000;
const wrong = 'not the right password at all';
/** The SPEC defaults, which the other suites relax. */
const realLimits = {
  TESSERA_RATE_LIMIT_LOGIN_IP: '20/1m',
  TESSERA_RATE_LIMIT_LOGIN_ACCOUNT: '5/1m',
  TESSERA_LOCKOUT_THRESHOLD: '5',
};

/** One attempt of a sequence: by which identifier, from a fresh address or the run's own one, after a pause. */
interface Step {
  by: 'username' | 'email' | 'EMAIL';
  from: 'fresh' | 'same';
  waitMs?: number;
}

const steps = (spec: string, from: Step['from'] = 'fresh'): Step[] =>
  [...spec].map((c) => ({ by: c === 'u' ? 'username' : c === 'e' ? 'email' : 'EMAIL', from }));

/** Sequences of wrong passwords mixing the two identifiers of one account (E: the e-mail in capitals). */
const sequences: [string, Step[]][] = [
  ['username then e-mail, many addresses', steps('uuueeueeuuee')],
  ['alternating, many addresses', steps('ueueueueueue')],
  ['one address (the per-name-and-address limit)', steps('uuueeeuuuEEE', 'same')],
  ['e-mail in any case, then the username', steps('eEeEeuuuuuu')],
  [
    'locks, waits them out, locks again',
    [...steps('uuuuuu'), { by: 'email', from: 'fresh', waitMs: 15 * minute }, ...steps('eeeeeuu'), { by: 'username', from: 'fresh', waitMs: 15 * minute }, ...steps('uuuuue')],
  ],
];

for (const backend of testBackends()) {
  describe(`known and unknown identifiers answer alike (${backend.name})`, () => {
    let t: TestApp;
    let address = 0;
    before(async () => {
      t = await startTestApp(backend, { env: realLimits });
    });
    after(() => t.close());

    const nextIp = () => `198.18.${Math.floor((address += 1) / 250)}.${address % 250}`;
    const attempt = (body: Record<string, unknown>, ip: string): Promise<LightMyRequestResponse> =>
      t.app.inject({ method: 'POST', url: '/auth/login', payload: body, remoteAddress: ip });
    const seen = (r: LightMyRequestResponse) => `${r.statusCode} ${r.body} ${r.headers['retry-after'] ?? '-'}`;

    async function run(sequence: Step[], username: string, email: string): Promise<string[]> {
      const own = nextIp();
      const outcomes: string[] = [];
      for (const step of sequence) {
        if (step.waitMs) t.clock.advance(step.waitMs);
        const identifier = step.by === 'username' ? { username } : { email: step.by === 'EMAIL' ? email.toUpperCase() : email };
        outcomes.push(seen(await attempt({ ...identifier, password: wrong }, step.from === 'same' ? own : nextIp())));
      }
      return outcomes;
    }

    sequences.forEach(([name, sequence], i) => {
      it(`same statuses, bodies and Retry-After for a real account and unknown names: ${name}`, async () => {
        await createUser(t, `enum-${i}-real`, { email: `enum-${i}-real@example.com` });
        const real = await run(sequence, `enum-${i}-real`, `enum-${i}-real@example.com`);
        const unknown = await run(sequence, `enum-${i}-ghost`, `enum-${i}-ghost@example.com`);
        assert.deepEqual(unknown, real);
        assert.ok(real.some((outcome) => outcome.startsWith('429')), 'the sequence reaches a limit');
      });
    });

    it('an admin unlock clears every identifier of the account', async () => {
      const id = await createUser(t, 'enum-unlocked', { email: 'enum-unlocked@example.com' });
      for (const identifier of [{ username: 'enum-unlocked' }, { email: 'enum-unlocked@example.com' }]) {
        for (let i = 0; i < 5; i += 1) await attempt({ ...identifier, password: wrong }, nextIp());
        assert.equal((await attempt({ ...identifier, password: strongPassword }, nextIp())).statusCode, 429);
      }
      await t.tessera.protection.unlock(id);
      for (const identifier of [{ username: 'enum-unlocked' }, { email: 'ENUM-unlocked@example.com' }]) {
        assert.equal((await attempt({ ...identifier, password: strongPassword }, nextIp())).statusCode, 200, JSON.stringify(identifier));
      }
    });

    /** The samples a client could compare: counters and histogram counts, not timings or process gauges. */
    async function scrape(): Promise<Map<string, number>> {
      const response = await t.app.inject({ url: '/metrics' });
      assert.equal(response.statusCode, 200);
      const series = new Map<string, number>();
      for (const sample of parseExposition(response.body) as Sample[]) {
        if (/_(bucket|sum)$/.test(sample.name) || !sample.name.startsWith('tessera_') || sample.name.startsWith('tessera_process')) continue;
        if (['tessera_signing_key_age_seconds', 'tessera_store_up'].includes(sample.name)) continue;
        series.set(`${sample.name}${JSON.stringify(sample.labels)}`, sample.value);
      }
      return series;
    }

    /** What grew in /metrics while `act` ran. */
    async function growth(act: () => Promise<void>): Promise<Record<string, number>> {
      const before = await scrape();
      await act();
      await t.tessera.detection.settled();
      const after = await scrape();
      const grown: Record<string, number> = {};
      for (const [key, value] of after) if (value !== (before.get(key) ?? 0)) grown[key] = value - (before.get(key) ?? 0);
      return grown;
    }

    it('/metrics grows the same for a wrong password, an unknown name and a disabled account, locks included', async () => {
      await createUser(t, 'metrics-real', { email: 'metrics-real@example.com' });
      const disabled = await createUser(t, 'metrics-disabled');
      await t.stores.users.setDisabled(disabled, true, new Date(t.clock.now()));
      const cases: [string, Record<string, string>, string][] = [
        ['wrong password', { username: 'metrics-real' }, wrong],
        ['unknown name', { username: 'metrics-ghost' }, wrong],
        ['disabled account', { username: 'metrics-disabled' }, strongPassword],
        ['wrong password by e-mail', { email: 'metrics-real@example.com' }, wrong],
        ['unknown e-mail', { email: 'metrics-ghost@example.com' }, wrong],
      ];
      const grown: Record<string, number>[] = [];
      for (const [, identifier, password] of cases) {
        grown.push(await growth(async () => {
          // Five failures, the lock, and one refused attempt while locked.
          for (let i = 0; i < 6; i += 1) await attempt({ ...identifier, password }, nextIp());
        }));
      }
      assert.ok(Object.keys(grown[0]!).some((key) => key.startsWith('tessera_logins_total')), JSON.stringify(grown[0]));
      cases.forEach(([name], i) => assert.deepEqual(grown[i], grown[0], `${name} vs ${cases[0]![0]}`));
    });
  });
}
