import { canonicalJson, type ChainedAuditRecord } from './record.js';
import type { AuditFilter, AuditStore } from './store.js';

/** A record as the admin API and exports show it: snake_case, the time in ISO-8601. */
export interface AuditRecordView {
  id: string;
  seq: number;
  at: string;
  type: string;
  outcome: string;
  user_id: string | null;
  session_id: string | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  severity: string;
  details: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

export function auditRecordView(record: ChainedAuditRecord): AuditRecordView {
  return {
    id: record.id,
    seq: record.seq,
    at: record.at.toISOString(),
    type: record.type,
    outcome: record.outcome,
    user_id: record.userId,
    session_id: record.sessionId,
    ip: record.ip,
    user_agent: record.userAgent,
    request_id: record.requestId,
    severity: record.severity,
    details: record.details,
    prev_hash: record.prevHash,
    hash: record.hash,
  };
}

export type AuditExportFormat = 'jsonl' | 'csv';

export const auditExportFormats: readonly AuditExportFormat[] = ['jsonl', 'csv'];

export const auditExportMediaTypes: Record<AuditExportFormat, string> = {
  jsonl: 'application/x-ndjson; charset=utf-8',
  csv: 'text/csv; charset=utf-8; header=present',
};

/** The CSV columns, in order: the fields of the view; `details` as canonical JSON. */
export const csvColumns = [
  'id',
  'seq',
  'at',
  'type',
  'outcome',
  'user_id',
  'session_id',
  'ip',
  'user_agent',
  'request_id',
  'severity',
  'details',
  'prev_hash',
  'hash',
] as const satisfies readonly (keyof AuditRecordView)[];

/**
 * One CSV cell. A spreadsheet runs a cell starting with `=`, `+`, `-` or `@` (or TAB or CR,
 * which some strip first) as a formula: such a cell gets a leading `'` (OWASP, CSV injection).
 * Then RFC 4180 §2: a cell holding `"`, `,`, CR or LF is quoted, its quotes doubled; so is one
 * holding `;` or TAB, which some locales read as the separator (a later part could start a formula).
 */
export function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",;\t\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** One CSV line, CRLF-terminated (RFC 4180 §2). */
export function csvLine(cells: readonly string[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}

export function csvRecord(record: ChainedAuditRecord): string {
  const view = auditRecordView(record);
  return csvLine(
    csvColumns.map((column) => {
      const value = view[column];
      if (value === null) return '';
      if (column === 'details') return canonicalJson(value);
      return String(value);
    }),
  );
}

/** One JSON Lines record: `JSON.stringify` escapes every control character, so one record is one line. */
export function jsonlRecord(record: ChainedAuditRecord): string {
  return `${JSON.stringify(auditRecordView(record))}\n`;
}

export interface AuditExportOptions {
  format: AuditExportFormat;
  filter: AuditFilter;
  /** Records per query; default 1000. Memory stays at about one batch, whatever the total. */
  batchSize?: number;
}

/**
 * The export as text chunks (one per batch), oldest record first. It covers the records up to
 * the head at the start, so a busy log cannot keep it running. The first batch is read before
 * anything is produced: a database failure then fails the request instead of a half-sent file.
 * Pull-based: a consumer that stops pulling (a closed connection) stops the queries.
 */
export async function* exportAuditRecords(store: Pick<AuditStore, 'head' | 'scan'>, options: AuditExportOptions): AsyncGenerator<string, void, undefined> {
  const batchSize = options.batchSize ?? 1000;
  const encode = options.format === 'csv' ? csvRecord : jsonlRecord;
  const head = await store.head();
  if (!head) {
    if (options.format === 'csv') yield csvLine(csvColumns);
    return;
  }
  let batch = await store.scan(options.filter, { afterSeq: 0, throughSeq: head.seq, limit: batchSize });
  let chunk = options.format === 'csv' ? csvLine(csvColumns) : '';
  for (;;) {
    for (const record of batch) chunk += encode(record);
    if (chunk.length > 0) yield chunk;
    const last = batch.at(-1);
    if (!last || batch.length < batchSize) return;
    batch = await store.scan(options.filter, { afterSeq: last.seq, throughSeq: head.seq, limit: batchSize });
    chunk = '';
  }
}
