import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePort, repoRoot, runCli } from '../test-support/process.js';

/* Issue 11 item 7: help never acts and exits 0; --version; usage errors exit 2 on stderr. */

const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

interface Case {
  argv: string[];
  code: number;
  stdout?: RegExp;
  stderr?: RegExp;
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Help on stdout: `usage` first, then each of `mentions`, in order. */
const help = (argv: string[], usage: RegExp, ...mentions: string[]): Case[] => [
  { argv, code: 0, stdout: new RegExp([usage.source, ...mentions.map(escape)].join('[\\s\\S]*')) },
];

const cases: Case[] = [
  ...help(['--help'], /^Usage: tessera <command>/, 'serve', 'migrate', 'audit verify', 'audit accept-break', 'audit rekey', 'audit export', '--version', 'Exit status'),
  ...help(['-h'], /^Usage: tessera <command>/, '--help'),
  ...help(['help'], /^Usage: tessera <command>/, 'help [command]'),
  ...help(['help', 'serve'], /^Usage: tessera serve/, '--help'),
  ...help(['help', 'audit', 'verify'], /^Usage: tessera audit verify/, '--expect-head'),
  ...help(['serve', '--help'], /^Usage: tessera serve/, '--help', 'DATABASE_URL'),
  ...help(['serve', '-h'], /^Usage: tessera serve/),
  ...help(['migrate', '--help'], /^Usage: tessera migrate/, '--help'),
  ...help(['migrate', '-h'], /^Usage: tessera migrate/),
  ...help(['audit', '--help'], /^Usage: tessera audit <verify\|accept-break\|rekey\|export>/, 'verify', 'accept-break', 'rekey', 'export'),
  ...help(['audit', 'verify', '--help'], /^Usage: tessera audit verify/, '--expect-head', 'Exit status'),
  ...help(['audit', 'verify', '--expect-head', '1:x', '-h'], /^Usage: tessera audit verify/),
  ...help(['audit', 'accept-break', '--help'], /^Usage: tessera audit accept-break SEQ --reason TEXT/, '--reason'),
  ...help(['audit', 'accept-break', '7', '--reason', 'r', '-h'], /^Usage: tessera audit accept-break/),
  ...help(['audit', 'rekey', '--help'], /^Usage: tessera audit rekey/, '--i-understand'),
  ...help(['audit', 'rekey', '--i-understand', '--help'], /^Usage: tessera audit rekey/),
  ...help(['audit', 'export', '--help'], /^Usage: tessera audit export/, '--format', '--since', '--until', '--type', '--user', '--ip', '--outcome'),
  { argv: ['--version'], code: 0, stdout: new RegExp(`^tessera ${version.replace(/\./g, '\\.')}\\n$`) },
  { argv: ['-V'], code: 0, stdout: new RegExp(`^tessera ${version.replace(/\./g, '\\.')}\\n$`) },
  { argv: [], code: 2, stderr: /a command is required\n\nUsage: tessera <command>/ },
  { argv: ['frobnicate'], code: 2, stderr: /unknown command "frobnicate"\n\nUsage: tessera <command>/ },
  { argv: ['--frobnicate'], code: 2, stderr: /unknown option "--frobnicate"\n\nUsage: tessera <command>/ },
  { argv: ['help', 'frobnicate'], code: 2, stderr: /no such command "frobnicate"/ },
  { argv: ['serve', '--port', '9'], code: 2, stderr: /unknown argument "--port"\n\nUsage: tessera serve/ },
  { argv: ['migrate', 'now'], code: 2, stderr: /unknown argument "now"\n\nUsage: tessera migrate/ },
  { argv: ['audit'], code: 2, stderr: /a command is required\n\nUsage: tessera audit </ },
  { argv: ['audit', 'frob'], code: 2, stderr: /unknown command "audit frob"\n\nUsage: tessera audit </ },
  { argv: ['audit', 'frob', '--help'], code: 2, stderr: /unknown command "audit frob"/ },
  { argv: ['audit', 'verify', '--expect-head'], code: 2, stderr: /--expect-head takes[\s\S]*Usage: tessera audit verify/ },
  { argv: ['audit', 'rekey'], code: 2, stderr: /needs --i-understand[\s\S]*Usage: tessera audit rekey/ },
  { argv: ['audit', 'accept-break', 'x', '--reason', 'r'], code: 2, stderr: /Usage: tessera audit accept-break/ },
  { argv: ['audit', 'export', '--colour'], code: 2, stderr: /Unknown option '--colour'[\s\S]*Usage: tessera audit export/ },
  { argv: ['audit', 'export', '--format', 'xml'], code: 2, stderr: /--format must be jsonl or csv[\s\S]*Usage: tessera audit export/ },
  { argv: ['audit', 'export', '--since', 'last week'], code: 2, stderr: /--since must be an ISO-8601 time[\s\S]*Usage: tessera audit export/ },
];

describe('tessera help, --version and usage errors', () => {
  const root = mkdtempSync(join(tmpdir(), 'tessera-help-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  for (const { argv, code, stdout, stderr } of cases) {
    it(`tessera ${argv.join(' ') || '(nothing)'} exits ${code}${code === 0 ? ', acting on nothing' : ''}`, async () => {
      // A server it started would listen here; the data directory and database must stay absent.
      const cwd = mkdtempSync(join(root, 'run-'));
      const port = await freePort();
      const run = runCli(argv, { cwd, env: { TESSERA_DATA_DIR: join(cwd, 'data'), PORT: String(port), TESSERA_LOG_LEVEL: 'error' } });
      let out = '';
      let err = '';
      run.child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
      run.child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
      assert.equal(await run.exited(20_000), code, run.output());
      if (stdout) assert.match(out, stdout);
      else assert.equal(out, '', 'nothing on stdout');
      if (stderr) assert.match(err, stderr);
      else assert.equal(err, '', 'nothing on stderr');
      assert.doesNotMatch(run.output(), /\n\s+at /, 'no stack trace');
      assert.deepEqual(readdirSync(cwd), [], 'no data directory, .env or database created');
    });
  }
});
