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
