import { ConfigError } from '../config/config.js';
import { isAuthError } from '../errors/auth-error.js';
import { helpFor, packageVersion, UsageError } from './help.js';

type Command = (args: string[]) => Promise<number>;

// Each command's module (and the server, database and crypto code behind it) is loaded only when
// that command runs: help, --version and usage errors answer in a fraction of the start-up time.
const commands: Record<string, () => Promise<Command>> = {
  serve: async () => (await import('./serve.js')).serveCommand,
  migrate: async () => (await import('./migrate.js')).migrateCommand,
  audit: async () => (await import('./audit.js')).auditCommand,
  keys: async () => (await import('./keys.js')).keysCommand,
  users: async () => (await import('./users.js')).usersCommand,
};

const auditCommands = ['verify', 'accept-break', 'rekey', 'export'];

/** The words naming the command of `argv` (e.g. ['audit', 'verify']), as far as they exist. */
function commandWords(argv: readonly string[]): string[] {
  const [name, sub] = argv;
  if (name === 'audit' && sub !== undefined && auditCommands.includes(sub)) return [name, sub];
  if (name === 'keys' && (sub === 'list' || sub === 'rotate')) return [name, sub];
  // Each `users` subcommand that has a help text of its own.
  if (name === 'users' && sub !== undefined && !sub.startsWith('-') && helpFor([name, sub]) !== undefined) return [name, sub];
  return name === undefined ? [] : [name];
}

function usageError(message: string, words: readonly string[]): number {
  process.stderr.write(`tessera: ${message}\n\n${helpFor(words) ?? helpFor([])}`);
  return 2;
}

/**
 * Runs a CLI command and returns its exit code. Help and --version never act: they are answered
 * before any configuration is read or any database opened. Expected failures print one line, no
 * stack; see help.ts for the exit codes.
 */
export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === '--version' || name === '-V') {
    process.stdout.write(`tessera ${packageVersion()}\n`);
    return 0;
  }
  if (name === '--help' || name === '-h' || (name === 'help' && args.length === 0)) {
    process.stdout.write(helpFor([])!);
    return 0;
  }
  if (name === 'help') {
    const help = helpFor(args);
    if (help === undefined) return usageError(`no such command "${args.join(' ')}"`, []);
    process.stdout.write(help);
    return 0;
  }
  if (name === undefined) return usageError('a command is required', []);
  const command = commands[name];
  if (!command) return usageError(name.startsWith('-') ? `unknown option "${name}"` : `unknown command "${name}"`, []);
  const words = commandWords(argv);
  // `--help` anywhere, even where a value is expected: asking for help never runs the command.
  if (args.includes('--help') || args.includes('-h')) {
    if (name === 'audit' && words.length === 1 && args[0] !== undefined && !args[0].startsWith('-')) {
      return usageError(`unknown command "audit ${args[0]}"`, words);
    }
    process.stdout.write(helpFor(words)!);
    return 0;
  }
  try {
    return await (await command())(args);
  } catch (error) {
    if (error instanceof UsageError) return usageError(error.message, error.command);
    // node:util parseArgs: an unknown option or a missing value.
    if ((error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) return usageError((error as Error).message, words);
    process.stderr.write(`tessera: ${describe(error)}\n`);
    return 1;
  }
}

function describe(error: unknown): string {
  // KeyDecryptionError by name: importing the key ring here would load it for `--help` too.
  if (error instanceof ConfigError || (error instanceof Error && error.name === 'KeyDecryptionError')) return error.message;
  if (isAuthError(error) && error.code === 'service_unavailable') return describe(error.cause);
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'ETIMEDOUT', '28P01', '28000', '3D000'].includes(code ?? '')) {
    return `cannot connect to the database (${code}); check DATABASE_URL`;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}
