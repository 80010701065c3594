import { randomUUID } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { AuditQueue } from '../audit/store.js';
import type { Clock } from '../clock.js';
import { AuthError, isAuthError } from '../errors/auth-error.js';
import type { EventBus, EventContext } from '../events/bus.js';
import type { ImportingPasswordHasher } from '../passwords/hasher.js';
import { hashHead, parseImportedHash, type ImportedHash } from '../passwords/legacy-hashes.js';
import type { Transactional, UnitOfWork } from '../store/unit-of-work.js';
import { assertNames, assertTenant } from './service.js';
import type { UserStore } from './store.js';
import type { NewUser } from './user.js';
import { canonicalEmail, canonicalUsername, isValidEmail, isValidUsername } from './username.js';

/*
 * Users moved from another system with their existing password hashes (docs/operations.md
 * "Moving users from another system", docs/adr/011). One JSON object per line; a broken line
 * is reported and the good ones are imported; a re-run of the same file creates nothing.
 */

export const importLimits = {
  /** Bytes of one line (UTF-8). */
  lineBytes: 16 * 1024,
  /** Lines of one file, `tessera users import`. */
  cliLines: 100_000,
  /** Lines of one request, POST /admin/users/import. */
  httpLines: 10_000,
  /** Users written per transaction. */
  batch: 500,
} as const;

/** Why a line was skipped or refused (docs/api.md). */
export type ImportReason =
  | 'exists'
  | 'duplicate_in_file'
  | 'email_taken'
  | 'line_too_long'
  | 'invalid_json'
  | 'not_an_object'
  | 'unknown_field'
  | 'plaintext_password'
  | 'missing_username'
  | 'invalid_username'
  | 'missing_password_hash'
  | 'unsupported_hash'
  | 'invalid_email'
  | 'invalid_roles'
  | 'invalid_permissions'
  | 'invalid_tenant'
  | 'invalid_disabled'
  | 'invalid_created_at';

export interface ImportLineReport {
  /** 1-based line number in the file. */
  line: number;
  /** The canonical username, when the line named a valid one. */
  username?: string;
  outcome: 'skipped' | 'refused';
  reason: ImportReason;
}

/** Created lines are only counted; skipped and refused lines are listed, in file order. Never a hash. */
export interface ImportReport {
  created: number;
  skipped: number;
  refused: number;
  lines: ImportLineReport[];
}

export interface ImportRun {
  /** Who imports: the admin's id, or `cli`; recorded with each `user.created`. */
  by: string;
  /** Validates and looks up as a real run does, writes nothing. */
  dryRun?: boolean;
  /** More non-blank lines than this: 400 `invalid_request` before anything is written. */
  maxLines: number;
  context?: EventContext;
  /** Wraps in flight at once, for this run (the CLI, with no sign-ins to leave room for, uses every core). */
  concurrency?: number;
}

export interface UserImport {
  /** Imports the JSON Lines `text` (see `ImportRun`); throws only for a file it cannot take at all. */
  run(text: string, run: ImportRun): Promise<ImportReport>;
}

interface ImportStores {
  users: UserStore;
  audit: AuditQueue;
}

export interface UserImportOptions {
  stores: Transactional<ImportStores>;
  hasher: Pick<ImportingPasswordHasher, 'wrap' | 'noteStoredHashes'>;
  events: EventBus;
  clock: Clock;
  /**
   * Wraps in flight at once. Each is an argon2id hash on the hasher's gate: the server keeps
   * this at 1, so an import never holds more than one of the slots sign-ins need.
   */
  concurrency?: number;
}

const knownFields = new Set(['username', 'email', 'password_hash', 'roles', 'permissions', 'tenant', 'disabled', 'created_at']);
const isoTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;
const controlCharacters = /[\u0000-\u001f\u007f-\u009f]/;

/** A line that passed validation: the user to create and its imported hash. */
interface Candidate {
  line: number;
  user: Omit<NewUser, 'passwordHash' | 'id'>;
  hash: ImportedHash;
  disabled: boolean;
}

class LineRefused extends Error {
  constructor(
    readonly reason: ImportReason,
    readonly username?: string,
  ) {
    super(reason);
  }
}

function names(value: unknown, reason: ImportReason, username: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.length > 100) throw new LineRefused(reason, username);
  try {
    assertNames(value as string[]);
  } catch {
    throw new LineRefused(reason, username);
  }
  return [...new Set(value as string[])];
}

/** One line checked as POST /admin/users checks its body; throws LineRefused. */
function validate(record: Record<string, unknown>, line: number, now: number): Candidate {
  // Before the unknown-field check: a plaintext password deserves its own answer.
  if ('password' in record) throw new LineRefused('plaintext_password');
  if (Object.keys(record).some((key) => !knownFields.has(key))) throw new LineRefused('unknown_field');
  if (record.username === undefined || record.username === null) throw new LineRefused('missing_username');
  if (typeof record.username !== 'string' || record.username.length > 256) throw new LineRefused('invalid_username');
  const username = canonicalUsername(record.username);
  if (!isValidUsername(username)) throw new LineRefused('invalid_username');
  if (record.password_hash === undefined || record.password_hash === null || record.password_hash === '') throw new LineRefused('missing_password_hash', username);
  const hash = typeof record.password_hash === 'string' ? parseImportedHash(record.password_hash) : undefined;
  if (!hash) throw new LineRefused('unsupported_hash', username);
  let email: string | null = null;
  // Django keeps an absent e-mail as "": no e-mail.
  if (record.email !== undefined && record.email !== null && record.email !== '') {
    if (typeof record.email !== 'string' || record.email.length > 320 || controlCharacters.test(record.email)) throw new LineRefused('invalid_email', username);
    email = canonicalEmail(record.email);
    if (!isValidEmail(email)) throw new LineRefused('invalid_email', username);
  }
  const roles = names(record.roles, 'invalid_roles', username);
  const permissions = names(record.permissions, 'invalid_permissions', username);
  let tenant: string | null = null;
  if (record.tenant !== undefined && record.tenant !== null) {
    if (typeof record.tenant !== 'string') throw new LineRefused('invalid_tenant', username);
    try {
      assertTenant(record.tenant);
    } catch {
      throw new LineRefused('invalid_tenant', username);
    }
    tenant = record.tenant;
  }
  if (record.disabled !== undefined && typeof record.disabled !== 'boolean') throw new LineRefused('invalid_disabled', username);
  let createdAt = new Date(now);
  if (record.created_at !== undefined && record.created_at !== null) {
    const at = typeof record.created_at === 'string' && isoTime.test(record.created_at) ? Date.parse(record.created_at) : Number.NaN;
    // Not in the future: the listing's order and the audit's story would be wrong.
    if (!Number.isFinite(at) || at > now || at < Date.UTC(1970, 0, 1)) throw new LineRefused('invalid_created_at', username);
    createdAt = new Date(at);
  }
  return { line, user: { username, email, roles, permissions, tenant, createdAt }, hash, disabled: record.disabled === true };
}

/** Runs `work` over `items`, at most `limit` at once, results in order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

export function createUserImport(options: UserImportOptions): UserImport {
  const { stores, hasher, events, clock } = options;
  const concurrency = options.concurrency ?? 1;

  /** Parses and validates every line: the candidates, and the lines refused already. */
  async function readLines(text: string, maxLines: number): Promise<{ candidates: Candidate[]; refusals: ImportLineReport[] }> {
    const lines = text.split('\n');
    const filled = lines.reduce((count, raw) => (raw.trim() === '' ? count : count + 1), 0);
    if (filled === 0) throw new AuthError('invalid_request', { description: 'The import holds no lines.' });
    if (filled > maxLines) throw new AuthError('invalid_request', { description: `An import holds at most ${maxLines} lines; split the file.` });
    const candidates: Candidate[] = [];
    const refusals: ImportLineReport[] = [];
    const usernames = new Set<string>();
    const emails = new Set<string>();
    const now = clock.now();
    for (let index = 0; index < lines.length; index += 1) {
      // Parsing 10 MiB is tens of milliseconds: give the event loop back between slices.
      if (index > 0 && index % importLimits.batch === 0) await yieldToEventLoop();
      const raw = lines[index]!.replace(/\r$/, '');
      if (raw.trim() === '') continue;
      const line = index + 1;
      try {
        if (Buffer.byteLength(raw, 'utf8') > importLimits.lineBytes) throw new LineRefused('line_too_long');
        let parsed: unknown;
        try {
          parsed = JSON.parse(raw);
        } catch {
          throw new LineRefused('invalid_json');
        }
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new LineRefused('not_an_object');
        const candidate = validate(parsed as Record<string, unknown>, line, now);
        const { username, email } = candidate.user;
        if (usernames.has(username) || (email !== null && emails.has(email))) throw new LineRefused('duplicate_in_file', username);
        usernames.add(username);
        if (email !== null) emails.add(email);
        candidates.push(candidate);
      } catch (error) {
        if (!(error instanceof LineRefused)) throw error;
        refusals.push({ line, ...(error.username === undefined ? {} : { username: error.username }), outcome: 'refused', reason: error.reason });
      }
    }
    return { candidates, refusals };
  }

  /** What becomes of a candidate given what is stored: undefined to create it. */
  async function clash(users: UserStore, candidate: Candidate): Promise<ImportLineReport | undefined> {
    const { username, email } = candidate.user;
    // Idempotent: an account of that name is left as it is, whatever the hash in the file.
    if (await users.findByUsername(username)) return { line: candidate.line, username, outcome: 'skipped', reason: 'exists' };
    if (email !== null && (await users.findByEmail(email))) return { line: candidate.line, username, outcome: 'refused', reason: 'email_taken' };
    return undefined;
  }

  /** Writes one batch in one transaction; returns the lines it did not create. */
  async function writeBatch(batch: Candidate[], run: ImportRun): Promise<{ created: NewUser[]; reports: ImportLineReport[] }> {
    // Looked up before the expensive wrapping, so a re-run spends no hash on existing users.
    const reports: ImportLineReport[] = [];
    const fresh: Candidate[] = [];
    for (const candidate of batch) {
      const found = await clash(stores.users, candidate);
      if (found) reports.push(found);
      else fresh.push(candidate);
    }
    if (run.dryRun) return { created: fresh.map((candidate) => ({ ...candidate.user, id: '', passwordHash: '' })), reports };
    const hashes = await mapLimited(fresh, run.concurrency ?? concurrency, (candidate) =>
      candidate.hash.type === 'argon2id' ? Promise.resolve(candidate.hash.phc) : hasher.wrap(candidate.hash.legacy),
    );
    const prepared = fresh.map((candidate, index) => ({ candidate, user: { ...candidate.user, id: randomUUID(), passwordHash: hashes[index]! } }));
    // A concurrent import (or POST /admin/users) may take a name between the look-up and the
    // insert: the unique index refuses it, which ends the transaction; the retry finds it taken.
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await stores.transaction(async (tx: ImportStores & UnitOfWork) => {
          const created: NewUser[] = [];
          const late: ImportLineReport[] = [];
          for (const { candidate, user } of prepared) {
            const found = await clash(tx.users, candidate);
            if (found) {
              late.push(found);
              continue;
            }
            const stored = await tx.users.create(user);
            if (candidate.disabled) await tx.users.setDisabled(stored.id, true, user.createdAt);
            await events.emitIn(tx, 'user.created', { userId: stored.id, roles: stored.roles, via: 'import', by: run.by, ...(candidate.disabled ? { disabled: true } : {}) }, run.context);
            created.push(user);
          }
          return { created, reports: [...reports, ...late] };
        });
      } catch (error) {
        if (attempt < 3 && isAuthError(error) && (error.code === 'username_taken' || error.code === 'email_taken')) continue;
        throw error;
      }
    }
  }

  return {
    async run(text, run) {
      const { candidates, refusals } = await readLines(text, run.maxLines);
      const lines = [...refusals];
      let created = 0;
      for (let start = 0; start < candidates.length; start += importLimits.batch) {
        const batch = candidates.slice(start, start + importLimits.batch);
        const written = await writeBatch(batch, run);
        created += written.created.length;
        lines.push(...written.reports);
        // The padding covers the new kinds from the next sign-in on (docs/adr/011).
        if (!run.dryRun) await hasher.noteStoredHashes(written.created.map((user) => hashHead(user.passwordHash)).filter((head) => head !== undefined));
      }
      lines.sort((a, b) => a.line - b.line);
      const skipped = lines.filter((line) => line.outcome === 'skipped').length;
      const report = { created, skipped, refused: lines.length - skipped, lines };
      if (!run.dryRun) await events.emit('users.imported', { by: run.by, created, skipped, refused: report.refused }, run.context);
      return report;
    },
  };
}
