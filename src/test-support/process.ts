import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const entry = fileURLToPath(new URL('../cli/entry.ts', import.meta.url));

/** A free loopback port (the OS picks it; the tiny race before reuse is acceptable in tests). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export interface CliRun {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code; rejects after `timeoutMs`. */
  exited(timeoutMs?: number): Promise<number | null>;
}

/**
 * How a child runs the CLI: `npm test` builds dist/ from the sources it has just type-checked and
 * sets TESSERA_TEST_CLI=dist, so each child starts in about a third of the time tsx needs to
 * compile the sources again; a test file run on its own uses the sources through tsx.
 */
export function cliCommand(): string[] {
  if (process.env.TESSERA_TEST_CLI === 'dist') return [fileURLToPath(new URL('../../dist/cli/entry.js', import.meta.url))];
  // tsx resolved from this repository, since the child runs in a scratch directory.
  return ['--import', import.meta.resolve('tsx'), entry];
}

/**
 * Runs `tessera <args>` from the sources (or the fresh build), with only the given environment;
 * `input` is written to its stdin (a pipe, then closed), which is otherwise empty.
 */
export function runCli(args: string[], options: { cwd: string; env: Record<string, string>; input?: string }): CliRun {
  const child = spawn(process.execPath, [...cliCommand(), ...args], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? '', ...options.env },
    stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (options.input !== undefined) child.stdin?.end(options.input);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => output,
    exited(timeoutMs = 30_000) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`tessera ${args.join(' ')} did not exit within ${timeoutMs} ms:\n${output}`));
        }, timeoutMs);
      });
      return Promise.race([exit, timeout]).finally(() => clearTimeout(timer));
    },
  };
}

/** Polls `url` until it answers 200 or the process exits or `timeoutMs` passes. */
export async function waitForHttp(url: string, run: CliRun, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (run.child.exitCode !== null) throw new Error(`server exited early:\n${run.output()}`);
    try {
      const response = await fetch(url);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} not ready within ${timeoutMs} ms:\n${run.output()}`);
}
