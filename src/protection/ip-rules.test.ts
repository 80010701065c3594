import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../clock.js';
import { isAuthError } from '../errors/auth-error.js';
import { createEventBus, type SecurityEvent } from '../events/bus.js';
import type { IpRule, IpRuleStore } from './ip-rule-store.js';
import { createIpRules, parseRuleCidr, type IpRules } from './ip-rules.js';

/** An in-process IpRuleStore with a version counter; `versionReads` wakes a test on each poll. */
function memoryRules() {
  const rules = new Map<string, IpRule>();
  let version = 0;
  const waiters: Array<() => void> = [];
  const store: IpRuleStore = {
    async insert(rule) {
      if ([...rules.values()].some((other) => other.action === rule.action && other.cidr === rule.cidr)) return false;
      rules.set(rule.id, rule);
      version += 1;
      return true;
    },
    async delete(id) {
      const rule = rules.get(id);
      if (rule) {
        rules.delete(id);
        version += 1;
      }
      return rule;
    },
    async list() {
      return [...rules.values()];
    },
    async version() {
      waiters.splice(0).forEach((wake) => wake());
      return version;
    },
  };
  return { store, rules, nextVersionRead: () => new Promise<void>((resolve) => waiters.push(resolve)), bump: () => (version += 1) };
}

function service(options: { pollIntervalMs?: number } = {}) {
  const clock = new ManualClock(Date.UTC(2030, 0, 1));
  const memory = memoryRules();
  const events: SecurityEvent[] = [];
  const bus = createEventBus({ now: () => clock.now() });
  bus.subscribe((event) => events.push(event));
  const stores = {
    ipRules: memory.store,
    audit: { enqueue: async () => undefined },
    afterCommit: (hook: () => void) => hook(),
    transaction: <T>(fn: (tx: { ipRules: IpRuleStore; audit: { enqueue(): Promise<void> }; afterCommit(hook: () => void): void }) => Promise<T>) => {
      const hooks: Array<() => void> = [];
      return fn({ ipRules: memory.store, audit: { enqueue: async () => undefined }, afterCommit: (hook) => hooks.push(hook) }).then((result) => {
        hooks.forEach((hook) => hook());
        return result;
      });
    },
  };
  const rules: IpRules = createIpRules({
    stores,
    events: bus,
    clock,
    incidents: { list: async () => [] },
    ipBlocks: { lift: async () => false, remainingMs: async () => undefined },
    ...options,
  });
  return { rules, clock, memory, events };
}

const admin = '8d3c2a9e-5b1f-4c6d-9e7a-1f2b3c4d5e6f';
const caller = '127.0.0.1';

describe('IP rule ranges', () => {
  it('answers the canonical spelling', () => {
    const cases: Array<[string, string]> = [
      ['10.0.0.0/8', '10.0.0.0/8'],
      ['192.0.2.7', '192.0.2.7'],
      ['192.0.2.7/32', '192.0.2.7'],
      ['0.0.0.0/0', '0.0.0.0/0'],
      ['2001:DB8::/32', '2001:db8::/32'],
      ['2001:0db8:0000:0000::/64', '2001:db8::/64'],
      ['2001:db8::1', '2001:db8::1'],
      ['::/0', '::/0'],
      ['::1', '::1'],
    ];
    for (const [text, canonical] of cases) assert.equal(parseRuleCidr(text).cidr, canonical, text);
  });

  it('refuses what it would have to guess at', () => {
    for (const text of ['10.0.0.0/33', '10.0.0.1/8', '2001:db8::1/32', '::ffff:10.0.0.0/104', '::ffff:0:0/96', '::FFFF:10.1.2.3', '::ffff:a01:203', '10.0.0.0/', '/8', '10.0.0.0/8/8', 'fe80::1%lo', '1.2.3', 'x'.repeat(65)]) {
      assert.throws(() => parseRuleCidr(text), (error: unknown) => isAuthError(error) && error.code === 'invalid_request', text);
    }
  });
});

describe('IP rules in memory', () => {
  it('holds IPv4 clients in an IPv6 rule over the mapped space, and never IPv6 clients in an IPv4 rule', async () => {
    const { rules } = service();
    await rules.start();
    try {
      await rules.create({ action: 'deny', cidr: '0.0.0.0/0' }, admin, '::1');
      assert.equal(rules.isDenied('192.0.2.1'), true);
      assert.equal(rules.isDenied('2001:db8::1'), false);
      const { rules: other } = service();
      await other.start();
      await other.create({ action: 'deny', cidr: '::/0' }, admin, 'unknown');
      assert.equal(other.isDenied('2001:db8::1'), true);
      assert.equal(other.isDenied('192.0.2.1'), true, '::/0 holds every address, IPv4 ones too');
      assert.equal(other.isDenied('unknown'), false);
      other.stop();
    } finally {
      rules.stop();
    }
  });

  it('answers the checks without I/O and drops a rule at its expiry', async () => {
    const { rules, clock, events } = service();
    await rules.start();
    try {
      assert.equal(rules.hasDenyRules, false);
      assert.equal(rules.adminAllowed('198.51.100.1'), true, 'no allow list: the admin API is open to every address');
      const rule = await rules.create({ action: 'deny', cidr: '198.51.100.0/24', expiresAt: new Date(clock.now() + 1000), note: 'for a second' }, admin, caller);
      assert.equal(rules.hasDenyRules, true);
      assert.equal(rules.isDenied('198.51.100.9'), true);
      assert.equal(rules.isDenied('198.51.101.9'), false);
      assert.deepEqual(events.map((event) => [event.type, event.payload]), [['ip_rule.created', { ruleId: rule.id, action: 'deny', cidr: '198.51.100.0/24', expiresAt: clock.now() + 1000, by: admin }]]);
      clock.advance(1000);
      assert.equal(rules.isDenied('198.51.100.9'), false);
      assert.equal(rules.hasDenyRules, false);
      assert.deepEqual(await rules.list(), []);
    } finally {
      rules.stop();
    }
  });

  it('re-reads the rules on its timer when another instance changed them', async () => {
    const { rules, memory } = service({ pollIntervalMs: 5 });
    await rules.start();
    try {
      memory.rules.set('r1', { id: 'r1', action: 'deny', cidr: '203.0.113.0/24', note: null, expiresAt: null, createdAt: new Date(), createdBy: admin });
      memory.bump();
      assert.equal(rules.isDenied('203.0.113.1'), false, 'not before its poll');
      // The poll's timer is unref'd: this one keeps the process up while the test waits for it.
      const keepAlive = setInterval(() => undefined, 1000);
      try {
        // Two version reads: the second begins only after the first poll has finished.
        await memory.nextVersionRead();
        await memory.nextVersionRead();
      } finally {
        clearInterval(keepAlive);
      }
      assert.equal(rules.isDenied('203.0.113.1'), true);
    } finally {
      rules.stop();
    }
  });
});
