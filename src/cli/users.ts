import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import type { OpenedTessera } from '../app/create-tessera.js';
import { isAuthError, type AuthError } from '../errors/auth-error.js';
import { maxPasswordBytes } from '../passwords/rules.js';
import type { AdminUser, UserPatch } from '../users/admin.js';
import { canonicalUsername } from '../users/username.js';
import { UsageError } from './help.js';

/*
 * `tessera users create|list|update|unlock|disable|enable|delete` (SPEC §7): the admin API's user
 * service (users/admin.ts) against the database, as a server would open it, each change recorded
 * with `by: "cli"`. Passwords come from stdin or a no-echo prompt, never from argv, where the
 * process list and the shell history would keep them.
 */

const verbs = ['create', 'list', 'update', 'unlock', 'disable', 'enable', 'delete'] as const;
type Verb = (typeof verbs)[number];
const isVerb = (word: string | undefined): word is Verb => (verbs as readonly string[]).includes(word ?? '');

/** A Tessera opened for one command, and how to find a user by id or username. */
interface Context {
  opened: OpenedTessera;
  find(idOrUsername: string): Promise<AdminUser>;
}

/** `tessera users <verb> …`; `import` is users-import.ts. Exit codes as in help.ts. */
export async function usersCommand(args: string[]): Promise<number> {
  const [verb, ...rest] = args;
  if (verb === 'import') return (await import('./users-import.js')).usersImportCommand(rest);
  if (!isVerb(verb)) throw new UsageError(verb === undefined ? 'a command is required' : `unknown command "users ${verb}"`, ['users']);
  const words = ['users', verb];
  for (const arg of rest) {
    if (arg === '--password' || arg.startsWith('--password=')) {
      throw new UsageError(
        'passwords are never taken from the command line, where the process list and the shell history keep them: pipe it with --password-stdin, or run on a terminal to be prompted',
        words,
      );
    }
  }
  switch (verb) {
    case 'create':
      return create(rest, words);
    case 'list':
      return list(rest, words);
    case 'update':
      return update(rest, words);
    case 'delete':
      return remove(rest, words);
    default:
      return simpleChange(verb, rest, words);
  }
}

/**
 * Opens Tessera as a server does (the database once), runs `work`, then chains the audit records
 * written and closes. Loaded here, not above: a usage error answers without the whole server.
 */
async function withTessera(work: (context: Context) => Promise<number>): Promise<number> {
  const [{ loadConfig }, { openDatabase }, { openTessera }, { refuseOtherAlgorithm }] = await Promise.all([
    import('../config/load.js'),
    import('../app/storage.js'),
    import('../app/create-tessera.js'),
    import('./keys.js'),
  ]);
  const config = loadConfig();
  const db = await openDatabase(config);
  try {
    await refuseOtherAlgorithm(config, db);
  } catch (error) {
    await db.close();
    throw error;
  }
  const opened = await openTessera(config, { db });
  const { tessera, stores } = opened;
  const context: Context = {
    opened,
    async find(idOrUsername) {
      const user = (await stores.users.findById(idOrUsername)) ?? (await stores.users.findByUsername(canonicalUsername(idOrUsername)));
      // JSON quoting: whatever was typed comes back without control characters.
      if (!user) throw new Error(`no such user ${JSON.stringify(idOrUsername)}`);
      return tessera.userAdmin.get(user.id);
    },
  };
  try {
    return await work(context);
  } catch (error) {
    if (isAuthError(error) && error.code !== 'service_unavailable') return refused(error);
    throw error;
  } finally {
    try {
      await tessera.auditChain.flush();
    } finally {
      await tessera.close();
    }
  }
}

/** A refusal of the user service, as one line (and a weak password's reasons, one a line); exit 1. */
function refused(error: AuthError): number {
  process.stderr.write(`tessera: ${error.description}\n`);
  const reasons = error.extra.reasons;
  if (Array.isArray(reasons)) for (const reason of reasons) process.stderr.write(`  ${String(reason)}\n`);
  return 1;
}

function onePositional(positionals: string[], words: string[], what: string): string {
  if (positionals.length === 0) throw new UsageError(`${what} is required`, words);
  if (positionals.length > 1) throw new UsageError(`unknown argument "${positionals[1]}"`, words);
  return positionals[0]!;
}

const summary = (user: AdminUser) => `${user.username} (${user.id})`;

async function create(args: string[], words: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      email: { type: 'string' },
      role: { type: 'string', multiple: true },
      permission: { type: 'string', multiple: true },
      tenant: { type: 'string' },
      'password-stdin': { type: 'boolean' },
    },
  });
  const username = onePositional(positionals, words, 'a USERNAME');
  const password = values['password-stdin'] ? await passwordFromStdin(words) : await promptedPassword(words);
  return withTessera(async ({ opened }) => {
    const user = await opened.tessera.userAdmin.create(
      { username, password, email: values.email, roles: values.role ?? [], permissions: values.permission ?? [], tenant: values.tenant },
      'cli',
    );
    process.stdout.write(`created user ${summary(user)}\n`);
    return 0;
  });
}

/** One line from a pipe or a file: the trailing newline stripped, nothing else changed. */
async function passwordFromStdin(words: string[]): Promise<string> {
  if (process.stdin.isTTY) throw new UsageError('--password-stdin reads a pipe or a file; on a terminal leave it out to be prompted', words);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    // A password is at most maxPasswordBytes: reading on past that would only fill memory.
    if (size > maxPasswordBytes + 2) throw new UsageError(`--password-stdin reads one line of at most ${maxPasswordBytes} bytes`, words);
    chunks.push(chunk);
  }
  let text = Buffer.concat(chunks).toString('utf8');
  if (text.endsWith('\n')) text = text.slice(0, text.endsWith('\r\n') ? -2 : -1);
  if (/[\r\n]/.test(text)) throw new UsageError('--password-stdin reads one line: stdin holds more', words);
  return text;
}

/** Asked twice on the terminal, never echoed. */
async function promptedPassword(words: string[]): Promise<string> {
  if (!process.stdin.isTTY) throw new UsageError('no password: pipe it with --password-stdin, or run on a terminal to be prompted', words);
  const first = await readHidden('Password: ');
  const second = await readHidden('Password (again): ');
  if (first !== second) throw new Error('the passwords do not match');
  return first;
}

function readHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  // No echo before the prompt shows: whatever is typed once it is there stays unseen.
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  process.stderr.write(prompt);
  return new Promise<string>((resolve, reject) => {
    let value = '';
    const finish = (outcome: () => void) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      outcome();
    };
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === '\r' || char === '\n') return finish(() => resolve(value));
        // Ctrl-C, or Ctrl-D on an empty line: raw mode turned them into characters.
        if (char === '\u0003' || (char === '\u0004' && value === '')) return finish(() => reject(new Error('cancelled')));
        if (char === '\u007f' || char === '\b') value = [...value].slice(0, -1).join('');
        else if (char >= ' ') value += char;
      }
    };
    stdin.on('data', onData);
  });
}

const dash = (value: string | null | undefined) => (value ? value : '-');
const header = ['ID', 'USERNAME', 'EMAIL', 'ROLES', 'DISABLED', 'LOCKED', 'CREATED'].join('\t');

function row(user: AdminUser): string {
  const locked = user.lockedUntil ? `until ${user.lockedUntil.toISOString()}` : 'no';
  return [user.id, user.username, dash(user.email), dash(user.roles.join(',')), user.disabled ? 'yes' : 'no', locked, user.createdAt.toISOString()].join('\t');
}

async function list(args: string[], words: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      q: { type: 'string' },
      role: { type: 'string' },
      disabled: { type: 'boolean' },
      enabled: { type: 'boolean' },
      locked: { type: 'boolean' },
      tenant: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  if (values.disabled && values.enabled) throw new UsageError('--disabled and --enabled exclude each other', words);
  if (values.limit !== undefined && !/^[1-9][0-9]{0,8}$/.test(values.limit)) throw new UsageError(`--limit must be a positive integer, not "${values.limit}"`, words);
  const total = values.limit === undefined ? Infinity : Number(values.limit);
  const disabled = values.disabled ? true : values.enabled ? false : undefined;
  return withTessera(async ({ opened }) => {
    const [{ maxPageSize }, { adminUserView }] = await Promise.all([import('../users/admin.js'), import('../server/routes/admin-users.js')]);
    if (!values.json) process.stdout.write(`${header}\n`);
    let cursor: string | undefined;
    let printed = 0;
    do {
      // A `locked` page may be short, even empty, and still go on: the cursor decides, not its size.
      const page = await opened.tessera.userAdmin.list({
        q: values.q,
        role: values.role,
        disabled,
        locked: values.locked ? true : undefined,
        tenant: values.tenant,
        cursor,
        limit: Math.min(maxPageSize, total - printed),
      });
      for (const user of page.users) process.stdout.write(`${values.json ? JSON.stringify(adminUserView(user)) : row(user)}\n`);
      printed += page.users.length;
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined && printed < total);
    return 0;
  });
}

async function update(args: string[], words: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      role: { type: 'string', multiple: true },
      'no-roles': { type: 'boolean' },
      'add-role': { type: 'string', multiple: true },
      'remove-role': { type: 'string', multiple: true },
      permission: { type: 'string', multiple: true },
      'no-permissions': { type: 'boolean' },
      email: { type: 'string' },
      'no-email': { type: 'boolean' },
    },
  });
  const who = onePositional(positionals, words, 'an ID or USERNAME');
  for (const [a, b] of [
    ['role', 'no-roles'],
    ['permission', 'no-permissions'],
    ['email', 'no-email'],
  ] as const) {
    if (values[a] !== undefined && values[b]) throw new UsageError(`--${a} and --${b} exclude each other`, words);
  }
  const changesRoles = values.role !== undefined || values['no-roles'] || values['add-role'] !== undefined || values['remove-role'] !== undefined;
  const changesPermissions = values.permission !== undefined || values['no-permissions'];
  if (!changesRoles && !changesPermissions && values.email === undefined && !values['no-email']) throw new UsageError('nothing to change', words);
  return withTessera(async ({ opened, find }) => {
    const user = await find(who);
    const patch: UserPatch = {};
    if (changesRoles) {
      const base = values['no-roles'] ? [] : (values.role ?? user.roles);
      const removed = new Set(values['remove-role'] ?? []);
      patch.roles = [...new Set([...base, ...(values['add-role'] ?? [])])].filter((role) => !removed.has(role));
    }
    if (changesPermissions) patch.permissions = values['no-permissions'] ? [] : values.permission!;
    if (values.email !== undefined) patch.email = values.email;
    if (values['no-email']) patch.email = null;
    const updated = await opened.tessera.userAdmin.update(user.id, patch, 'cli');
    process.stdout.write(
      `updated user ${summary(updated)}: roles ${dash(updated.roles.join(','))}, permissions ${dash(updated.permissions.join(','))}, email ${dash(updated.email)}\n`,
    );
    return 0;
  });
}

async function simpleChange(verb: 'unlock' | 'disable' | 'enable', args: string[], words: string[]): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  const who = onePositional(positionals, words, 'an ID or USERNAME');
  const patches: Record<typeof verb, [UserPatch, string]> = {
    unlock: [{ unlock: true }, 'unlocked user %s: every lock lifted'],
    disable: [{ disabled: true }, 'disabled user %s: every session and token revoked'],
    enable: [{ disabled: false }, 'enabled user %s'],
  };
  const [patch, done] = patches[verb];
  return withTessera(async ({ opened, find }) => {
    const user = await opened.tessera.userAdmin.update((await find(who)).id, patch, 'cli');
    process.stdout.write(`${done.replace('%s', summary(user))}\n`);
    return 0;
  });
}

async function remove(args: string[], words: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { yes: { type: 'boolean' } } });
  const who = onePositional(positionals, words, 'an ID or USERNAME');
  if (!values.yes && !process.stdin.isTTY) throw new UsageError('deleting needs --yes when not run on a terminal', words);
  return withTessera(async ({ opened, find }) => {
    const user = await find(who);
    if (!values.yes && !(await confirm(`Delete user ${summary(user)}, ending every session and token? [y/N] `))) {
      process.stderr.write('tessera: not deleted\n');
      return 1;
    }
    await opened.tessera.userAdmin.delete(user.id, 'cli');
    process.stdout.write(`deleted user ${summary(user)}\n`);
    return 0;
  });
}

async function confirm(question: string): Promise<boolean> {
  const terminal = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await terminal.question(question)).trim());
  } finally {
    terminal.close();
  }
}
