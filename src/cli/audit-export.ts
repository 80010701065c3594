import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { auditKeys } from '../audit/keys.js';
import { auditExportFormats, exportAuditRecords, type AuditExportFormat } from '../audit/export.js';
import { parseAuditFilter } from '../audit/query.js';
import { loadConfig } from '../config/load.js';
import { openDatabase } from '../app/storage.js';
import { sqlAuditStore } from '../store/sql/audit-store.js';
import { upgradeDatabase } from '../store/sql/upgrade.js';
import { isAuthError } from '../errors/auth-error.js';
import { UsageError } from './help.js';

/** Writes every chunk, waiting for `drain` when the pipe is full; stops when the reader goes away. */
async function writeAll(out: NodeJS.WritableStream, chunks: AsyncIterable<string>): Promise<void> {
  let failure: Error | undefined;
  const onError = (error: Error) => {
    failure = error;
  };
  out.on('error', onError);
  try {
    for await (const chunk of chunks) {
      if (failure) break;
      if (!out.write(chunk)) await Promise.race([once(out, 'drain'), once(out, 'error')]).catch(() => undefined);
      if (failure) break;
    }
  } finally {
    out.off('error', onError);
  }
  // A reader that closed early (`| head`) is not an error of the export.
  if (failure && (failure as NodeJS.ErrnoException).code !== 'EPIPE') throw failure;
}

/** The filter options, checked as the HTTP export checks them; a bad one is a usage error. */
function filterOf(values: Parameters<typeof parseAuditFilter>[0]): ReturnType<typeof parseAuditFilter> {
  try {
    return parseAuditFilter(values, (parameter) => `--${parameter}`);
  } catch (error) {
    if (isAuthError(error) && error.code === 'invalid_request') throw new UsageError(error.description, ['audit', 'export']);
    throw error;
  }
}

/** `tessera audit export`: the audit log, oldest first, streamed to stdout as JSON Lines or CSV. */
export async function auditExportCommand(args: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      format: { type: 'string', default: 'jsonl' },
      since: { type: 'string' },
      until: { type: 'string' },
      type: { type: 'string' },
      user: { type: 'string' },
      ip: { type: 'string' },
      outcome: { type: 'string' },
    },
  });
  if (!(auditExportFormats as readonly string[]).includes(values.format)) throw new UsageError('--format must be jsonl or csv', ['audit', 'export']);
  const filter = filterOf(values);
  const config = loadConfig();
  const db = await openDatabase(config);
  try {
    await upgradeDatabase(db, auditKeys(config.secret), new Date());
    await writeAll(out, exportAuditRecords(sqlAuditStore(db), { format: values.format as AuditExportFormat, filter }));
    return 0;
  } finally {
    await db.close();
  }
}
