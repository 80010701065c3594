import { ConfigError } from '../config/config.js';
import { isAuthError } from '../errors/auth-error.js';
import { KeyDecryptionError } from '../keys/key-ring.js';
import { auditCommand } from './audit.js';
import { migrateCommand } from './migrate.js';
import { serveCommand } from './serve.js';

const usage = `Usage: tessera <command>

Commands:
  serve      start the HTTP server (migrates the database first)
  migrate    apply database migrations and exit
  audit verify   check the audit log's keyed chain; names the first broken record
                 (--expect-head SEQ:HASH or a logged signed head's token: fail unless it is still there);
                 reads only: it never re-keys nor chains queued records
  audit accept-break SEQ --reason TEXT   accept the chain's first break, at SEQ, after investigating it
                 (a signed record in the chain; verify keeps naming it)
  audit rekey --i-understand   re-anchor the chain as it is now: older records then prove only SHA-256
  audit export   write the audit log to stdout as JSON Lines or CSV (--format, --since, --until, --type)

Configuration is read from the environment and an optional .env file; see README.md.
`;

type Command = (args: string[]) => Promise<number>;

const commands: Record<string, Command> = {
  serve: serveCommand,
  migrate: migrateCommand,
  audit: auditCommand,
};

/** Runs a CLI command and returns its exit code. Expected failures print one line, no stack. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage);
    return name === undefined ? 1 : 0;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`tessera: unknown command "${name}"\n\n${usage}`);
    return 1;
  }
  try {
    return await command(args);
  } catch (error) {
    process.stderr.write(`tessera: ${describe(error)}\n`);
    return 1;
  }
}

function describe(error: unknown): string {
  if (error instanceof ConfigError || error instanceof KeyDecryptionError) return error.message;
  if (isAuthError(error) && error.code === 'service_unavailable') return describe(error.cause);
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'ETIMEDOUT', '28P01', '28000', '3D000'].includes(code ?? '')) {
    return `cannot connect to the database (${code}); check DATABASE_URL`;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}
