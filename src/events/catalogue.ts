/**
 * What each security event means, for people: how its audit record is classified, what its
 * payload holds and when it is emitted. docs/events.md's catalogue is generated from this table
 * (`npm run docs`); keyed by every event type of the bus, so adding an event without describing
 * it does not compile. catalogue.test.ts holds the outcome and severity to the audit recorder's.
 */
import type { AuditOutcome, AuditSeverity } from '../audit/record.js';
import type { SecurityEventType } from './bus.js';

/** Anchors the audit log appends itself, never sent on the bus (audit/anchor.ts). */
export type AnchorOnlyType = 'audit.break_accepted' | 'audit.pending_rejected';

export interface EventDescription {
  /** The audit record's outcome. */
  readonly outcome: AuditOutcome;
  /** The audit record's severity, or "the incident's" when it copies the payload's. */
  readonly severity: AuditSeverity | "the incident's";
  /** When the severity depends on the payload: how. */
  readonly severityNote?: string;
  /** Recorded for the first few per type and client network only (audit/recorder.ts). */
  readonly sampled?: true;
  /** The payload's members (the record's `details`), Markdown. */
  readonly payload: string;
  /** When it is emitted, Markdown. */
  readonly when: string;
}

export const eventCatalogue: { readonly [T in SecurityEventType | AnchorOnlyType]: EventDescription } = {
  'login.succeeded': {
    outcome: 'success',
    severity: 'info',
    payload: '`userId`, `sessionId`',
    when: "A password sign-in succeeded; recorded in the session's transaction, after `session.created`.",
  },
  'login.failed': {
    outcome: 'failure',
    severity: 'low',
    severityNote: '`locked`: medium',
    payload: '`reason` (`unknown_user`, `wrong_password`, `user_disabled`, `locked`), `userId` when the name is an account',
    when: 'A sign-in was refused with `invalid_credentials` or, for `locked`, `too_many_attempts`. The client never sees the reason. Schema errors (400) and rate-limited attempts raise no `login.failed`.',
  },
  'session.created': {
    outcome: 'success',
    severity: 'info',
    payload: '`userId`, `sessionId`, `deviceName`',
    when: 'A sign-in opened a session.',
  },
  'session.revoked': {
    outcome: 'success',
    severity: 'info',
    payload: '`userId`, `sessionId`, `reason`',
    when: 'A session ended before its time (reasons below), in the transaction that ended it. Not emitted for sessions that merely expire.',
  },
  'session.terminated': {
    outcome: 'success',
    severity: 'info',
    payload: '`userId`, `sessionId`, `by` (admin id)',
    when: '`DELETE /admin/sessions/:id` ended a session, after its `session.revoked` (`admin`) in the same transaction.',
  },
  'session.context_changed': {
    outcome: 'info',
    severity: 'low',
    severityNote: '`ended`: medium',
    payload: '`userId`, `sessionId`, `ipChanged`, `userAgentChanged`, `ended`',
    when: "A refresh came from another client IP or user agent than the session's last. `ended: true` with `TESSERA_SESSION_BINDING=strict`, followed by `session.revoked` (`session_binding`).",
  },
  'refresh_token.rotated': {
    outcome: 'success',
    severity: 'info',
    payload: '`userId`, `sessionId`',
    when: '`POST /auth/refresh` rotated a refresh token. A grace-window replay raises none.',
  },
  'refresh_token.reused': {
    outcome: 'failure',
    severity: 'high',
    payload: '`userId`, `sessionId`',
    when: 'A consumed refresh token was presented outside the grace window, or after its successor was used; followed by `session.revoked` (`refresh_token_reused`). Opens a `refresh_token_reuse` incident.',
  },
  'token.revoked': {
    outcome: 'success',
    severity: 'info',
    payload: '`userId`, `sessionId`, `tokenType` (`access_token`, `refresh_token`)',
    when: '`POST /auth/revoke` revoked a token (with `session.revoked` `revoked` for a refresh token). Not emitted for unknown tokens.',
  },
  'token.rejected': {
    outcome: 'failure',
    severity: 'medium',
    sampled: true,
    payload: '`reason` (`bad_signature`, `unknown_key`, `bad_header`, `api_key_invalid`), `endpoint` (route template)',
    when: 'A presented access token looks forged or tampered: a bad signature, a key Tessera never published, a refused header; or a well-formed API key that was never issued or carries a wrong secret (`api_key_invalid`). Expired, revoked and malformed ones raise none. Feeds the `forged_tokens` rule.',
  },
  'user.created': {
    outcome: 'success',
    severity: 'info',
    payload: '`userId`, `roles`, `via` (`register`, `admin`, `bootstrap`, `import`), `by` (admin id, for `admin` through `POST /admin/users` and `import` through `POST /admin/users/import`; `cli` for `tessera users import`), `disabled: true` for an account imported disabled',
    when: 'An account was created, in its transaction.',
  },
  'user.updated': {
    outcome: 'success',
    severity: 'medium',
    payload: '`userId`, `by` (admin id), `changes` (`roles`, `permissions`, `email`, `unlock`), `roles` and `previousRoles`, `permissions` and `previousPermissions` when they changed; never the e-mail',
    when: '`PATCH /admin/users/:id` changed the account, in the same transaction; an unlock is followed by `user.unlocked`.',
  },
  'user.disabled': {
    outcome: 'success',
    severity: 'medium',
    payload: '`userId`, `by` (admin id)',
    when: '`PATCH /admin/users/:id` with `disabled: true`, in the same transaction; every session and token of the user is then revoked (`session.revoked`, reason `user_disabled`).',
  },
  'user.enabled': {
    outcome: 'success',
    severity: 'medium',
    payload: '`userId`, `by` (admin id)',
    when: '`PATCH /admin/users/:id` with `disabled: false` on a disabled account; tokens issued before it was disabled stay refused.',
  },
  'user.deleted': {
    outcome: 'success',
    severity: 'medium',
    payload: '`userId`, `by` (admin id)',
    when: '`DELETE /admin/users/:id` deleted the account, in the same transaction, after its sessions and tokens were revoked.',
  },
  'user.signed_out': {
    outcome: 'success',
    severity: 'medium',
    payload: '`userId`, `by` (admin id), `sessions` (how many ended)',
    when: '`POST /admin/users/:id/revoke-all`: after its `user.tokens_revoked` (reason `admin`).',
  },
  'user.tokens_revoked': {
    outcome: 'success',
    severity: 'medium',
    payload: '`userId`, `sessions`, `reason`',
    when: 'Every session and token of a user revoked (logout-all, password reset, admin), after one `session.revoked` per session.',
  },
  'user.locked': {
    outcome: 'failure',
    severity: 'medium',
    payload: '`userId` (when the name is an account), `lockedUntil`, `locks`, `trusted` (`device` or `network` when it was the own lane of a device token or a known network)',
    when: "A failed password reached the lockout threshold for an identifier (username or e-mail as typed), a trusted device or network, or a session's password changes.",
  },
  'user.unlocked': {
    outcome: 'success',
    severity: 'info',
    payload: '`userId`',
    when: 'An unlock (a password reset unlocks the account).',
  },
  'users.imported': {
    outcome: 'success',
    severity: 'medium',
    payload: '`by` (admin id or `cli`), `created`, `skipped`, `refused` (line counts; never a hash)',
    when: 'An import of users with their existing password hashes ended (`POST /admin/users/import`, `tessera users import`), after one `user.created` (`via: import`) per account, each in its batch\'s transaction. Not emitted for a dry run.',
  },
  rate_limited: {
    outcome: 'failure',
    severity: 'low',
    sampled: true,
    payload: '`limiter` (`ip`, `login-ip`, `login-account`, `refresh`, `reset`, `signup`, `api-key`)',
    when: 'A request was refused by a rate limit.',
  },
  'access.denied': {
    outcome: 'failure',
    severity: 'low',
    sampled: true,
    payload: '`reason` (`forbidden`, `ip_blocked`, `insufficient_permissions`), `userId`, `endpoint`',
    when: 'An admin route refused a non-admin, a blocked address tried to sign in, or an API key without `tokens:introspect` called `POST /auth/introspect`.',
  },
  'password.changed': {
    outcome: 'success',
    severity: 'info',
    payload: '`userId`',
    when: '`POST /auth/password`, in the transaction that changed it (other sessions end after, each with its `session.revoked`).',
  },
  'password.reset_requested': {
    outcome: 'info',
    severity: 'info',
    payload: '`userId`',
    when: 'A reset token was queued for an enabled account (from the outbox, so its context has the IP and request id but no user agent).',
  },
  'password.reset': {
    outcome: 'success',
    severity: 'medium',
    payload: '`userId`',
    when: '`POST /auth/password-reset/confirm` changed the password; followed by `user.tokens_revoked` and `user.unlocked`.',
  },
  'incident.opened': {
    outcome: 'info',
    severity: "the incident's",
    payload: '`incidentId`, `incidentType`, `severity`, `subject`',
    when: 'A detection rule opened an incident (not when it updated an open one).',
  },
  'incident.acknowledged': {
    outcome: 'success',
    severity: 'info',
    payload: '`incidentId`, `incidentType`, `by` (admin id)',
    when: '`PATCH /admin/incidents/:id` acknowledged an incident.',
  },
  'incident.resolved': {
    outcome: 'success',
    severity: 'info',
    payload: '`incidentId`, `incidentType`, `by` (admin id)',
    when: '`PATCH /admin/incidents/:id` resolved an incident (and lifted its IP block, if any, with `ip.unblocked`).',
  },
  'ip.blocked': {
    outcome: 'info',
    severity: 'high',
    payload: '`blockedIp`, `until`, `incidentType`',
    when: 'A detection rule blocked an address for `TESSERA_IP_BLOCK_DURATION` (never one in `TESSERA_DETECTION_EXEMPT`).',
  },
  'ip.unblocked': {
    outcome: 'success',
    severity: 'medium',
    payload: '`blockedIp`, `by` (admin id), `incidentId` (when lifted by resolving it)',
    when: 'A block was lifted before its time: its incident was resolved, or an admin lifted it.',
  },
  'ip_rule.created': {
    outcome: 'success',
    severity: 'medium',
    payload: '`ruleId`, `action` (`allow` or `deny`), `cidr`, `expiresAt` (ms, or null), `by` (admin id); never the note',
    when: '`POST /admin/ip-rules` added an allow or deny rule.',
  },
  'ip_rule.deleted': {
    outcome: 'success',
    severity: 'medium',
    payload: '`ruleId`, `action`, `cidr`, `by` (admin id)',
    when: '`DELETE /admin/ip-rules/:id` removed an allow or deny rule (lifting a detection block records `ip.unblocked`).',
  },
  'api_key.created': {
    outcome: 'success',
    severity: 'medium',
    payload: '`userId`, `keyId`, `permissions`, `expiresAt` (ms, or null); never the name or the secret',
    when: '`POST /auth/api-keys` made a key, in the same transaction.',
  },
  'api_key.revoked': {
    outcome: 'success',
    severity: 'medium',
    payload: '`userId` (the owner), `keyId`, `by` (admin id, when an admin revoked it), `reason: password_reset` when a password reset did',
    when: '`DELETE /auth/api-keys/:id` or `DELETE /admin/api-keys/:id` revoked a key, or `POST /admin/users/:id/revoke-all` or a password reset revoked every key of the user; in the same transaction as the revocation.',
  },
  'api_key.used_after_revocation': {
    outcome: 'failure',
    severity: 'high',
    sampled: true,
    payload: '`userId` (the owner), `keyId`',
    when: 'A revoked key was presented with its right secret (answered 401 `invalid_token`): the key leaked or a client was not updated. An unknown key or a wrong secret raises none.',
  },
  'key.rotated': {
    outcome: 'success',
    severity: 'medium',
    payload: '`kid` (the new key), `alg`, `previousKid`, `activatesAt` (ms), `by` (admin id, `cli` or `system` for automatic rotation)',
    when: 'A rotation (`POST /admin/keys/rotate`, `tessera keys rotate` or every `TESSERA_KEY_ROTATION`) published a new signing key, in the same transaction; it signs from `activatesAt`.',
  },
  'audit.pruned': {
    outcome: 'info',
    severity: 'info',
    payload: '`throughSeq`, `throughHash`, `removed`, `before`, `mac`',
    when: 'Retention removed old records; the anchor that keeps the chain verifiable ([operations.md](operations.md#retention-and-anchors)).',
  },
  'audit.rekeyed': {
    outcome: 'info',
    // Appended by store/sql/audit-rekey.ts, classified by audit/anchor-records.ts (not the recorder).
    severity: 'high',
    severityNote: 'critical when `legacyVerified` is false or `forced`',
    payload: '`legacyHeadSeq`, `legacyHeadHash`, `legacyRecords`, `legacyVerified`, `legacyBrokenAt`, `forced`, `adoptedPending`, `mac`',
    when: "Written once after migration 009, when a chain from before the keyed chain is upgraded, or by an operator's `tessera audit rekey --i-understand` (`forced`): records before it are checked with SHA-256 only, the rest are keyed ([operations.md](operations.md#verifying-it)). Appended to the chain directly, not sent to listeners.",
  },
  'audit.break_accepted': {
    outcome: 'info',
    severity: 'high',
    payload: '`seq`, `id`, `reason`, `prevHash`, `hash`, `contentHash`, `note`, `mac`',
    when: "An operator accepted the chain's first break (`tessera audit accept-break`); verification lets exactly that record through and names it. Appended directly, not sent to listeners.",
  },
  'audit.pending_rejected': {
    outcome: 'failure',
    severity: 'critical',
    payload: '`reason` (`mac_invalid`, `anchor_type`, `duplicate`, `malformed`), `record` (the queued row as found)',
    when: 'A row in `audit_pending` that Tessera did not queue, chained marked instead of as written. Appended by the chainer, not sent to listeners.',
  },
  'audit.chain_broken': {
    outcome: 'failure',
    severity: 'critical',
    payload: '`seq`, `recordId`, `reason`, `during` (`retention`, `head`, `chaining`)',
    when: 'Retention refused to prune a broken prefix, the head publisher refused to sign (an unverifiable newest record, or `head_truncated`: the head no longer extends the last published one; `published_head_tampered`: the stored last published head is missing, unsigned or older than one this process published), or the chainer rejected a queued row (`pending_unauthenticated`); opens an `audit_chain_broken` incident ([security.md](security.md#audit-trail)).',
  },
};
