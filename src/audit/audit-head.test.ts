import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { describe, it, mock } from 'node:test';
import { ManualClock } from '../clock.js';
import { createLogger } from '../server/logger.js';
import { createTessera } from '../app/create-tessera.js';
import { sqlAuditStore } from '../store/sql/audit-store.js';
import { testConfig, testSecret } from '../test-support/config.js';
import { testBackends } from '../test-support/databases.js';
import { openTestHotState } from '../test-support/hot-state.js';
import { checkExpectedHead, currentSignedHead, parseExpectedHead, signHead, signedHeadValid } from './head.js';
import { startAuditHeadPublisher } from './head-publisher.js';
import { auditKeys } from './keys.js';
import type { AuditRecord } from './record.js';
import { AuditChainBrokenError, type AuditStore, type ChainVerification } from './store.js';

/* Issue 10, finding 2: the signed head, published to the log, and `--expect-head`. */

const keys = auditKeys(testSecret);
const hash = (c: string) => c.repeat(64);

function record(i: number): AuditRecord {
  return { id: randomUUID(), at: new Date(Date.UTC(2030, 0, 1) + i * 1000), type: 'login.succeeded', outcome: 'success', userId: null, sessionId: null, ip: '192.0.2.4', userAgent: null, requestId: null, severity: 'info', details: { i } };
}

function verified(head: { seq: number; hash: string } | undefined, pruned?: { seq: number; hash: string }): ChainVerification {
  return { records: 5, broken: undefined, head, prunedThrough: pruned?.seq, prunedThroughHash: pruned?.hash, legacyThrough: undefined };
}

describe('signed audit head', () => {
  it('verifies as signed and refuses every alteration and another key', () => {
    const signed = signHead(keys, { seq: 42, hash: hash('a') }, Date.UTC(2030, 0, 1));
    const parsed = parseExpectedHead(signed.token);
    assert.ok(parsed && signedHeadValid(keys, parsed));
    assert.equal(signed.at, '2030-01-01T00:00:00.000Z');
    const [seq, h, ms, mac] = signed.token.split(':') as [string, string, string, string];
    const forgeries = {
      'another seq': `43:${h}:${ms}:${mac}`,
      'another hash': `${seq}:${hash('b')}:${ms}:${mac}`,
      'another time': `${seq}:${h}:${Number(ms) + 1}:${mac}`,
      'another mac': `${seq}:${h}:${ms}:${mac.slice(0, -1)}${mac.endsWith('A') ? 'B' : 'A'}`,
      'signed under another key': signHead(auditKeys(`${testSecret}-x`), { seq: 42, hash: hash('a') }, Date.UTC(2030, 0, 1)).token,
    };
    for (const [name, token] of Object.entries(forgeries)) {
      const forged = parseExpectedHead(token);
      assert.ok(forged, name);
      assert.equal(signedHeadValid(keys, forged), false, name);
    }
    assert.equal(signedHeadValid(keys, parseExpectedHead(`42:${hash('a')}`)!), false, 'an unsigned head is not a signed one');
  });

  it('parses seq:hash and the signed token, and nothing else', () => {
    assert.deepEqual(parseExpectedHead(`7:${hash('c')}`), { seq: 7, hash: hash('c') });
    for (const bad of ['', '7', `7:${hash('C')}`, `x:${hash('c')}`, `7:${hash('c')}:`, `7:${hash('c')}:1`, `-1:${hash('c')}`, `7:${hash('c').slice(1)}`, `7:${hash('c')}:1:short`, ` 7:${hash('c')}`]) {
      assert.equal(parseExpectedHead(bad), undefined, JSON.stringify(bad));
    }
  });

  it('checks an expected head against a verified chain: true head, truncated, rewritten, removed by retention', () => {
    const expected = { seq: 10, hash: hash('a') };
    const cases: Array<{ name: string; verification: ChainVerification; found?: { seq: number; hash: string }; ok: boolean; says: RegExp }> = [
      { name: 'the head itself', verification: verified({ seq: 10, hash: hash('a') }), found: expected, ok: true, says: /is in the chain/ },
      { name: 'an older record', verification: verified({ seq: 30, hash: hash('f') }), found: expected, ok: true, says: /is in the chain/ },
      { name: 'the newest records removed', verification: verified({ seq: 8, hash: hash('e') }), ok: false, says: /chain ends at #8.*newest records were removed/ },
      { name: 'an empty log', verification: verified(undefined), ok: false, says: /empty log/ },
      { name: 'another hash', verification: verified({ seq: 30, hash: hash('f') }), found: { seq: 10, hash: hash('b') }, ok: false, says: /rewritten/ },
      { name: 'pruned, the anchor names it', verification: verified({ seq: 30, hash: hash('f') }, { seq: 10, hash: hash('a') }), ok: true, says: /removed by retention; the signed anchor names it/ },
      { name: 'pruned, the anchor names another hash', verification: verified({ seq: 30, hash: hash('f') }, { seq: 10, hash: hash('b') }), ok: false, says: /cannot be checked/ },
      { name: 'pruned past it', verification: verified({ seq: 30, hash: hash('f') }, { seq: 20, hash: hash('b') }), ok: false, says: /cannot be checked/ },
      { name: 'missing, not pruned', verification: verified({ seq: 30, hash: hash('f') }), ok: false, says: /missing/ },
    ];
    for (const { name, verification, found, ok, says } of cases) {
      const check = checkExpectedHead(expected, verification, found);
      assert.equal(check.ok, ok, name);
      assert.match(check.message, says, name);
    }
  });

  it('publishes every interval on the instance that claims the turn, until stopped', async () => {
    mock.timers.enable({ apis: ['setInterval'] });
    try {
      const published: string[] = [];
      let turn = 0;
      const head = { seq: 3, hash: hash('d'), prevHash: hash('c') };
      const audit = { list: async () => [{ ...record(3), ...head }] } as unknown as AuditStore;
      const publisher = startAuditHeadPublisher({
        audit,
        keys,
        clock: new ManualClock(Date.UTC(2030, 0, 1)),
        intervalMs: 60_000,
        claim: async () => (turn += 1) % 2 === 1,
        publish: (signed) => published.push(signed.token),
        onError: (error) => published.push(`error: ${(error as Error).name}`),
      });
      for (let i = 0; i < 4; i += 1) {
        mock.timers.tick(60_000);
        for (let j = 0; j < 10; j += 1) await Promise.resolve();
      }
      await publisher.stop();
      mock.timers.tick(600_000);
      // The head record's MAC does not verify (a made-up record): never signed, reported.
      assert.deepEqual(published, ['error: AuditChainBrokenError', 'error: AuditChainBrokenError']);
    } finally {
      mock.timers.reset();
    }
  });
});

for (const backend of testBackends()) {
  describe(`published audit head (${backend.name})`, () => {
    it('logs the signed head of the chain; refuses to sign a head record that was edited', async () => {
      const { db, cleanup } = await backend.open();
      const hot = await openTestHotState(backend.name === 'postgres' ? 'redis' : 'memory');
      const lines: Array<Record<string, unknown>> = [];
      // The production logger, redaction included: the token must reach the log as it is.
      const logger = createLogger('info', new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>), done()) }));
      const clock = new ManualClock(Date.UTC(2031, 0, 1));
      const tessera = await createTessera(testConfig({ TESSERA_AUDIT_HEAD_INTERVAL: '10m' }), { db, clock, hotState: hot.hotState, logger });
      try {
        const audit = sqlAuditStore(db, db, { keys });
        for (let i = 0; i < 3; i += 1) await audit.append(record(i));
        const signed = await tessera.auditHead.publishOnce();
        assert.ok(signed);
        const head = await audit.head();
        assert.deepEqual({ seq: signed.seq, hash: signed.hash }, head);
        const line = lines.find((entry) => entry.msg === 'audit head');
        assert.deepEqual(line && { level: line.level, seq: line.seq, hash: line.hash, at: line.at, mac: line.mac, head_token: line.head_token }, { level: 30, seq: head!.seq, hash: head!.hash, at: '2031-01-01T00:00:00.000Z', mac: signed.mac, head_token: signed.token });
        assert.ok(!JSON.stringify(lines).includes('[redacted]'), 'nothing of the head redacted');
        assert.ok(signedHeadValid(keys, parseExpectedHead(signed.token)!));
        assert.equal(await tessera.auditHead.publishOnce(), undefined, 'not this instance\'s turn again within the interval');

        await db.query(`UPDATE audit_log SET ip = '192.0.2.99' WHERE seq = $1`, [head!.seq]);
        await assert.rejects(currentSignedHead(audit, keys, clock.now()), AuditChainBrokenError);
      } finally {
        await tessera.close();
        await hot.cleanup();
        await cleanup();
      }
    });
  });
}
