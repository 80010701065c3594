import { readFile, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { openTessera } from '../app/create-tessera.js';
import { loadConfig } from '../config/load.js';
import { isAuthError } from '../errors/auth-error.js';
import { importLimits, type ImportReport } from '../users/import.js';
import { UsageError } from './help.js';
import { refuseOtherAlgorithm } from './keys.js';

/** Larger files than this are split first: 100 000 lines of a few hundred bytes fit well under it. */
const maxFileBytes = 256 * 1024 * 1024;

function printReport(report: ImportReport, dryRun: boolean): void {
  const lines = report.lines.map((entry) => [`line ${entry.line}`, entry.outcome, entry.reason, ...(entry.username === undefined ? [] : [entry.username])].join('\t'));
  const summary = `${dryRun ? 'dry run: would create' : 'created'} ${report.created}, skipped ${report.skipped}, refused ${report.refused}`;
  process.stdout.write([...lines, summary].map((text) => `${text}\n`).join(''));
}

/**
 * `tessera users import FILE [--dry-run]`: JSON Lines of users with their existing password
 * hashes (docs/operations.md), into the database as a server would open it; each user recorded
 * as `user.created` (`via: import`, `by: cli`). Prints the skipped and refused lines with their
 * reasons, then the counts. Exit 0 when no line was refused, 3 when some were, 1 on errors.
 */
export async function usersImportCommand(args: string[]): Promise<number> {
  const words = ['users', 'import'];
  const { values, positionals } = parseArgs({ args, options: { 'dry-run': { type: 'boolean' } }, allowPositionals: true, strict: true });
  if (positionals.length === 0) throw new UsageError('a FILE is required', words);
  if (positionals.length > 1) throw new UsageError(`unknown argument "${positionals[1]}"`, words);
  const file = positionals[0]!;
  const size = await stat(file).then(
    (stats) => stats.size,
    () => 0,
  );
  if (size > maxFileBytes) throw new Error(`${file} is larger than ${maxFileBytes / 1024 / 1024} MiB; split it`);
  const dryRun = values['dry-run'] === true;
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new Error(`cannot read ${file} (${error.code ?? error.message})`);
  });

  const config = loadConfig();
  await refuseOtherAlgorithm(config);
  const { tessera } = await openTessera(config);
  try {
    const report = await tessera.userImport
      .run(text, { by: 'cli', dryRun, maxLines: importLimits.cliLines, concurrency: availableParallelism() })
      .catch((error: unknown) => {
        // A file it cannot take at all (empty, too many lines): the description says why.
        if (isAuthError(error) && error.code === 'invalid_request') throw new Error(`${file}: ${error.description}`);
        throw error;
      });
    await tessera.auditChain.flush();
    printReport(report, dryRun);
    return report.refused > 0 ? 3 : 0;
  } finally {
    await tessera.close();
  }
}
