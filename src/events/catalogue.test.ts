import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { anchorTypes } from '../audit/anchor.js';
import { auditRecordOf } from '../audit/recorder.js';
import type { SecurityEvent } from './bus.js';
import { eventCatalogue } from './catalogue.js';

/** Payloads that move an event's severity off the catalogue's base one, and where it moves. */
const severityVariants: Record<string, { base: Record<string, unknown>; varied: Record<string, unknown>; severity: string }> = {
  'login.failed': { base: { reason: 'wrong_password' }, varied: { reason: 'locked' }, severity: 'medium' },
  'session.context_changed': { base: { ended: false }, varied: { ended: true }, severity: 'medium' },
};

function recordOf(type: string, payload: Record<string, unknown>) {
  return auditRecordOf({ type, at: 0, payload, context: {} } as SecurityEvent);
}

describe('event catalogue', () => {
  // Anchors are appended by the audit log itself, which classifies them where it writes them.
  const emitted = Object.entries(eventCatalogue).filter(([type]) => !anchorTypes.has(type));

  it('classifies each emitted event as the audit recorder records it', () => {
    assert.ok(emitted.length > 20, 'the catalogue was read');
    for (const [type, entry] of emitted) {
      const record = recordOf(type, { severity: 'high', ...severityVariants[type]?.base });
      assert.equal(record.outcome, entry.outcome, type);
      assert.equal(record.severity, entry.severity === "the incident's" ? 'high' : entry.severity, type);
    }
  });

  it("notes every payload-dependent severity, and the note's case holds", () => {
    for (const [type, entry] of emitted) {
      const variant = severityVariants[type];
      assert.equal(entry.severityNote !== undefined, variant !== undefined, `${type}: a severity note exactly when the severity varies`);
      if (variant) assert.equal(recordOf(type, variant.varied).severity, variant.severity, type);
    }
  });

  it('describes every audit anchor', () => {
    for (const type of anchorTypes) assert.ok(type in eventCatalogue, type);
  });
});
