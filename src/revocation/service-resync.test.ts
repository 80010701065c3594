import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../clock.js';
import type { EventBus } from '../events/bus.js';
import type { Revocation, RevocationChange, RevocationFanOut, RevocationSubscriber } from './revocation.js';
import { createRevocationService } from './service.js';

/*
 * A resync (after the fan-out was interrupted) repairs what a lost message left wrong, in both
 * directions, and streams the repair to the feed: a lost `enabled` no longer keeps a user refused
 * until the entry expires, and a `disabled` row read just before an enable is not applied again.
 */

const minute = 60_000;

function harness(rows: Revocation[]) {
  const clock = new ManualClock(Date.UTC(2030, 0, 1));
  let subscriber: RevocationSubscriber | undefined;
  let listActive: () => Promise<Revocation[]> = async () => rows.filter((row) => row.expiresAt > clock.now());
  const fanOut: RevocationFanOut = {
    publish: async () => undefined, // every message lost
    subscribe(s) {
      subscriber = s;
      return () => undefined;
    },
  };
  const service = createRevocationService({
    stores: { revocations: { listActive: () => listActive(), prune: async () => 0 } } as never,
    hotState: fanOut,
    events: {} as EventBus,
    clock,
    accessTtlMs: 15 * minute,
    leewayMs: 30_000,
  });
  const changes: RevocationChange[] = [];
  service.onChange((change) => changes.push(change));
  return {
    clock,
    service,
    changes,
    setListActive: (fn: () => Promise<Revocation[]>) => (listActive = fn),
    async resync() {
      subscriber!.resync();
      // The resync reads, then applies: let its promise chain run.
      for (let i = 0; i < 10; i += 1) await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

describe('revocation service: resync repairs', () => {
  it('lifts a disable whose enabled message was lost, and streams it', async () => {
    const at = Date.UTC(2030, 0, 1);
    const rows: Revocation[] = [
      { kind: 'disabled', subject: 'u1', at, expiresAt: at + 16 * minute },
      { kind: 'user', subject: 'u1', at, expiresAt: at + 16 * minute },
    ];
    const h = harness(rows);
    await h.service.start();
    try {
      assert.equal(h.service.isUserDisabled('u1'), true);
      h.changes.length = 0;
      // Enabled on another instance: its row is gone, its message never came.
      rows.splice(0, 1);
      await h.resync();
      assert.equal(h.service.isUserDisabled('u1'), false);
      assert.deepEqual(h.changes, [{ type: 'enabled', userId: 'u1' }]);
      assert.equal(h.service.check({ jti: 'j', sid: 's', sub: 'u1', iat: Math.floor(at / 1000) - 1 }), 'user_tokens_revoked', 'tokens from before stay refused');
    } finally {
      h.service.stop();
    }
  });

  it('does not apply again a disabled row read before an enable that came meanwhile', async () => {
    const at = Date.UTC(2030, 0, 1);
    const stale: Revocation = { kind: 'disabled', subject: 'u2', at, expiresAt: at + 16 * minute };
    const h = harness([stale]);
    await h.service.start();
    try {
      assert.equal(h.service.isUserDisabled('u2'), true);
      let release!: (rows: Revocation[]) => void;
      h.setListActive(() => new Promise((resolve) => (release = resolve)));
      const resyncing = h.resync();
      await new Promise((resolve) => setImmediate(resolve));
      // The enable lands (this instance) while the resync's read is in flight, then the read answers the old row.
      await h.service.announceEnabled('u2');
      h.changes.length = 0;
      release([stale]);
      await resyncing;
      assert.equal(h.service.isUserDisabled('u2'), false, 'the enable holds');
      assert.deepEqual(h.changes, [], 'nothing streamed: no disable again');
      // A real disable later is applied as always.
      await h.service.announce([{ ...stale, at: at + minute, expiresAt: at + 17 * minute }]);
      assert.equal(h.service.isUserDisabled('u2'), true);
    } finally {
      h.service.stop();
    }
  });
});
