import { readFileSync } from 'node:fs';

/*
 * Every usage text of the tessera command, in one place so each lists all of its options.
 * Exit codes (README, docs/operations.md): 0 done (help and --version included), 1 failed (a bad
 * setting, a database that is unreachable or in use, a broken chain), 2 wrong invocation (an
 * unknown command or option, a malformed argument), with the usage on stderr.
 */

/** A wrong invocation: main prints the message and the command's usage to stderr, exit 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The help to print: the command's words, as in `help`, e.g. ['audit', 'verify']. */
    readonly command: readonly string[],
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

const configuration = `Configuration is read from the environment and an optional .env file in the working
directory (DATABASE_URL, REDIS_URL, PORT, HOST, TESSERA_*: see docs/operations.md). Without
DATABASE_URL the embedded store in TESSERA_DATA_DIR (default ./.tessera) is used, by one process
at a time.`;

const helpOption = '  -h, --help   show this help and exit';

const verify = `Usage: tessera audit verify [--expect-head SEQ:HASH | --expect-head SIGNED_HEAD_TOKEN]

Checks the audit log's keyed chain and names the first broken record; prints the record count and
the head (seq and hash) to keep outside the database. Reads only: it never re-keys nor chains
queued records. While the server runs, GET /admin/audit/verify does the same.

Options:
  --expect-head SEQ:HASH | TOKEN   fail unless this head (or a logged signed head's head_token)
                                   is still in the chain
${helpOption}

Exit status: 0 verified, 1 broken, never keyed or the expected head is missing, 2 usage.
`;

const acceptBreak = `Usage: tessera audit accept-break SEQ --reason TEXT

Accepts the chain's first break, which must be at record SEQ, after investigating it: appends a
signed record naming it; verify keeps naming it.

Options:
  --reason TEXT   why it is accepted (required; recorded in the chain)
${helpOption}
`;

const rekey = `Usage: tessera audit rekey --i-understand

Re-anchors the chain as it is now: older records then prove only plain SHA-256.

Options:
  --i-understand   required
${helpOption}
`;

const exportHelp = `Usage: tessera audit export [--format jsonl|csv] [--since ISO] [--until ISO] [--type T] [--user ID] [--ip IP] [--outcome O]

Writes the audit log to stdout, oldest record first, as JSON Lines (default) or CSV.

Options:
  --format jsonl|csv   output format (default jsonl)
  --since ISO          records at or after this time (ISO-8601)
  --until ISO          records before this time (ISO-8601)
  --type T             only this event type
  --user ID            only this user id
  --ip IP              only this client address
  --outcome O          only this outcome (success, failure, info)
${helpOption}
`;

const audit = `Usage: tessera audit <verify|accept-break|rekey|export> [options]

Commands:
  verify [--expect-head SEQ:HASH|TOKEN]   check the keyed chain; names the first broken record
  accept-break SEQ --reason TEXT          accept the chain's first break, at SEQ
  rekey --i-understand                    re-anchor the chain as it is now
  export [--format jsonl|csv] [filters]   write the log to stdout

Run \`tessera audit <command> --help\` for its options.
`;

const serve = `Usage: tessera serve

Starts the HTTP server on HOST:PORT (default 127.0.0.1:8080), migrating the database first; stops
on SIGTERM or SIGINT, letting requests in flight finish (up to 10 s).

Options:
${helpOption}

${configuration}
`;

const migrate = `Usage: tessera migrate

Applies the database migrations and exits (the server also does it when it starts); keys a chain
written before the audit chain was keyed, once.

Options:
${helpOption}

${configuration}
`;

const keysList = `Usage: tessera keys list

Lists the signing keys, newest first: kid, algorithm, state (next, active, retired), when each was
created, signs from, stops signing and leaves JWKS. Never any private material.

Options:
${helpOption}

${configuration}
`;

const keysRotate = `Usage: tessera keys rotate

Publishes a new signing key at once; it signs only after the JWKS max-age and one key reload have
passed (about 6 min), and the current key stays published until every token it signed has expired.
Running servers pick it up by themselves. Recorded in the audit log as key.rotated by "cli".
Exit 1 while an earlier rotation's key is still waiting to sign.

Options:
${helpOption}

${configuration}
`;

const keys = `Usage: tessera keys <list|rotate>

Commands:
  list     list the signing keys and their schedule
  rotate   publish a new signing key (publish before sign)

Run \`tessera keys <command> --help\` for details.
`;

const byIdOrName = `USER is a user's id or its username (any case).`;

const usersStatus = 'Exit status: 0 done, 1 refused (the message says why) or no such user, 2 usage.';

const usersCreate = `Usage: tessera users create USERNAME [--email E] [--role R]... [--permission P]... [--tenant T] [--password-stdin]

Creates a user under the full password policy of POST /admin/users (length, strength, not the
username, not breached); a weak password is refused with its reasons, one a line. Recorded as
user.created by "cli". The password is never an argument (the process list and the shell history
would keep it): it is one line read from stdin with --password-stdin (the trailing newline
stripped), or else asked twice on the terminal without echo.

Options:
  --email E          the user's e-mail address
  --role R           a role (repeat for more), e.g. --role admin
  --permission P     a permission (repeat for more)
  --tenant T         the user's tenant
  --password-stdin   read the password from stdin (a pipe or a file)
${helpOption}

${usersStatus}

${configuration}
`;

const usersList = `Usage: tessera users list [--q PREFIX] [--role R] [--disabled|--enabled] [--locked] [--tenant T] [--limit N] [--json]

Lists users in the order they were created: ID, USERNAME, EMAIL, ROLES, DISABLED, LOCKED (until
when sign-in is refused by the lockout), CREATED, tab-separated after a header line; every page
is followed, up to --limit users. Lockouts live in hot state: the LOCKED column and --locked
see the servers' locks only when REDIS_URL is the servers' Redis.

Options:
  --q PREFIX     usernames or e-mail addresses starting with PREFIX
  --role R       users with role R
  --disabled     disabled users only
  --enabled      enabled users only
  --locked       users whose sign-in the lockout refuses now
  --tenant T     users of tenant T
  --limit N      at most N users
  --json         one JSON object a line (the fields of GET /admin/users), no header
${helpOption}

${configuration}
`;

const usersUpdate = `Usage: tessera users update USER [--role R]... [--add-role R]... [--remove-role R]... [--no-roles]
                            [--permission P]... [--no-permissions] [--email E | --no-email]

Changes a user's roles, permissions or e-mail, as PATCH /admin/users/:id does; recorded as
user.updated by "cli". Refused (exit 1) when it would leave no enabled admin. ${byIdOrName}

Options:
  --role R           set the roles to these (repeat for more)
  --add-role R       add a role, e.g. --add-role admin to promote
  --remove-role R    remove a role
  --no-roles         remove every role
  --permission P     set the permissions to these (repeat for more)
  --no-permissions   remove every permission
  --email E          set the e-mail address
  --no-email         remove the e-mail address
${helpOption}

${usersStatus}

${configuration}
`;

const usersUnlock = `Usage: tessera users unlock USER

Lifts every lockout of the user (its username, its e-mail, its devices and networks); recorded as
user.unlocked. Lockouts live in hot state: this reaches the servers' locks when REDIS_URL is the
servers' Redis (with in-process hot state, a lock ends when its server stops). ${byIdOrName}

Options:
${helpOption}

${usersStatus}

${configuration}
`;

const usersDisable = `Usage: tessera users disable USER

Disables the user: sign-in refused, and every session and token revoked on every server at once.
Recorded as user.disabled by "cli". Refused (exit 1) for the last enabled admin. ${byIdOrName}

Options:
${helpOption}

${usersStatus}

${configuration}
`;

const usersEnable = `Usage: tessera users enable USER

Enables a disabled user: it can sign in again (tokens revoked by the disable stay revoked).
Recorded as user.enabled by "cli". ${byIdOrName}

Options:
${helpOption}

${usersStatus}

${configuration}
`;

const usersDelete = `Usage: tessera users delete USER [--yes]

Deletes the user after revoking every session and token; recorded as user.deleted by "cli".
Refused (exit 1) for the last enabled admin. On a terminal it asks first; elsewhere --yes is
required. ${byIdOrName}

Options:
  --yes   delete without asking
${helpOption}

${usersStatus}

${configuration}
`;

const usersImport = `Usage: tessera users import FILE [--dry-run]

Creates users with their existing password hashes, so nobody resets a password when moving to
Tessera: FILE holds one JSON object a line (username, password_hash, and optionally email,
roles, permissions, tenant, disabled, created_at; see docs/operations.md). Hashes: bcrypt
($2a$, $2b$, $2y$), Django pbkdf2_sha256 / pbkdf2_sha1, PBKDF2 in PHC form ($pbkdf2-sha256$,
$pbkdf2-sha512$, $pbkdf2$: Keycloak) and argon2id; each becomes argon2id at its next sign-in.
A line whose username exists is skipped, so a re-run creates nothing new; a broken line is
refused with its reason and the others are imported. At most 100 000 lines of 16 KiB.
Each user is recorded as user.created (via import, by "cli"). Restart running servers
afterwards so each pads sign-ins for the imported kinds from the first one (docs/security.md).

Options:
  --dry-run   check every line and report, writing nothing
${helpOption}

Prints each skipped or refused line (line number, outcome, reason, username), then the counts.

Exit status: 0 imported with no line refused, 3 some lines refused (the others imported),
1 failed (unreadable file, too many lines, database), 2 usage.

${configuration}
`;

const users = `Usage: tessera users <create|list|update|unlock|disable|enable|delete|import> [options]

Commands:
  create USERNAME [--password-stdin]   create a user (password from stdin or a prompt, never argv)
  list [filters] [--json]              list users
  update USER [--role R]... ...        change roles, permissions or e-mail
  unlock USER                          lift the user's lockouts
  disable USER                         disable, revoking every session and token
  enable USER                          enable a disabled user
  delete USER [--yes]                  delete, revoking every session and token
  import FILE [--dry-run]              create users with their hashes from another system (JSON Lines)

USER is an id or a username. Run \`tessera users <command> --help\` for its options.
`;

const main = `Usage: tessera <command> [options]

Commands:
  serve                    start the HTTP server (migrates the database first)
  migrate                  apply database migrations and exit
  audit verify             check the audit log's keyed chain (--expect-head SEQ:HASH|TOKEN)
  audit accept-break SEQ --reason TEXT
                           accept the chain's first break, after investigating it
  audit rekey --i-understand
                           re-anchor the chain as it is now
  audit export             write the audit log to stdout (--format, --since, --until, --type,
                           --user, --ip, --outcome)
  keys list                list the signing keys and their schedule
  keys rotate              publish a new signing key; it signs once verifiers can have it
  users create USERNAME    create a user (--password-stdin, or a prompt; never on the command line)
  users list               list users (--q, --role, --disabled, --enabled, --locked, --tenant,
                           --limit, --json)
  users update USER        change roles, permissions or e-mail (--role, --add-role, --remove-role, …)
  users unlock|disable|enable USER
                           lift lockouts; disable (revoking every session); enable
  users delete USER        delete a user (--yes)
  users import FILE        create users with their password hashes from another system (--dry-run)
  help [command]           show the help of a command

Options:
  -h, --help      show this help (after a command: that command's)
  -V, --version   print the version and exit

Exit status: 0 done, 1 failed, 2 unknown command or option (usage on stderr).

${configuration}
`;

const texts: Record<string, string> = {
  '': main,
  serve,
  migrate,
  audit,
  'audit verify': verify,
  'audit accept-break': acceptBreak,
  'audit rekey': rekey,
  'audit export': exportHelp,
  keys,
  'keys list': keysList,
  'keys rotate': keysRotate,
  users,
  'users create': usersCreate,
  'users list': usersList,
  'users update': usersUpdate,
  'users unlock': usersUnlock,
  'users disable': usersDisable,
  'users enable': usersEnable,
  'users delete': usersDelete,
  'users import': usersImport,
};

/** The help of `tessera <words>`; undefined for a command that does not exist. */
export function helpFor(words: readonly string[]): string | undefined {
  return texts[words.join(' ')];
}

/** The version of the package, as package.json says (src/cli and dist/cli sit two levels below it). */
export function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}
