import { randomUUID } from 'node:crypto';
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';

/*
 * One process at a time on an embedded data directory. PGlite keeps the whole database in the
 * memory of the process that opened it and writes it back on its own schedule: a second process
 * on the same files (a CLI command while the server runs) silently loses the other's writes.
 *
 * The lock is a file beside the data directory (`<dir>.lock`) holding the owner's PID, host, boot
 * and process start time. It is created complete and atomically (written under a unique name, then
 * hard-linked to the lock's name, which fails when the name exists). A lock is stale, and taken
 * over, when its owner cannot be running any more:
 *   - same host, another boot (Linux `boot_id`): every process of that boot is gone;
 *   - same host and boot, and the PID is not alive (`kill(pid, 0)` fails with ESRCH), or it is alive
 *     but started at another time than the owner (a PID reused, as in a restarted container where the
 *     server is PID 1 again), or it is this very process, which does not hold it.
 * A lock from another host name is never taken over: its PID cannot be checked from here (a data
 * directory shared over the network, or a container that got a new host name): the error says
 * which file to remove once that process is known to be gone.
 */

/** Another process holds the embedded data directory. */
export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly lockFile: string,
    readonly pid: number,
    readonly host: string,
  ) {
    const where = host === hostname() ? `process ${pid}` : `process ${pid} on host ${host} (remove ${lockFile} if it no longer runs)`;
    super(`the data directory ${dataDir} is in use by ${where}; stop it first, or use DATABASE_URL (PostgreSQL) to run several processes`);
    this.name = 'DataDirLockedError';
  }
}

interface LockOwner {
  pid: number;
  host: string;
  /** Linux boot id; absent elsewhere. */
  boot?: string;
  /** The owner's start time in clock ticks since boot (Linux); absent elsewhere. */
  started?: string;
  /** Tells this lock from a later one with the same PID. */
  nonce: string;
}

export interface DataDirLock {
  readonly file: string;
  /** Removes the lock file when it is still ours; idempotent. */
  release(): void;
}

/** Lock files this process holds: the exit hook releases them, and a second open here is refused. */
const held = new Map<string, string>();
let exitHookInstalled = false;

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Field 22 of /proc/<pid>/stat: when the process started, in ticks since boot. */
function startTicks(pid: number | 'self'): string | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

function currentOwner(): LockOwner {
  const boot = readText('/proc/sys/kernel/random/boot_id');
  const started = startTicks('self');
  return { pid: process.pid, host: hostname(), ...(boot ? { boot } : {}), ...(started ? { started } : {}), nonce: randomUUID() };
}

function parseOwner(text: string | undefined): LockOwner | undefined {
  try {
    const owner = JSON.parse(text ?? '') as Partial<LockOwner>;
    if (!Number.isSafeInteger(owner.pid) || typeof owner.host !== 'string' || typeof owner.nonce !== 'string') return undefined;
    return owner as LockOwner;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, under another user.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

function isStale(owner: LockOwner, me: LockOwner, file: string): boolean {
  if (owner.host !== me.host) return false;
  if (owner.boot !== undefined && me.boot !== undefined && owner.boot !== me.boot) return true;
  if (owner.pid === me.pid) return held.get(file) !== owner.nonce;
  if (!isAlive(owner.pid)) return true;
  const started = startTicks(owner.pid);
  return owner.started !== undefined && started !== undefined && owner.started !== started;
}

/**
 * Takes the lock of the data directory `dataDir` or throws `DataDirLockedError` naming the
 * holder. Of concurrent callers exactly one gets it; a stale lock is taken over (see above).
 */
export function lockDataDir(dataDir: string): DataDirLock {
  const file = `${dataDir}.lock`;
  const me = currentOwner();
  const draft = `${file}.${me.pid}.${me.nonce}`;
  writeFileSync(draft, `${JSON.stringify(me)}\n`, { mode: 0o600 });
  try {
    for (let attempt = 0; ; attempt += 1) {
      try {
        linkSync(draft, file);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const owner = parseOwner(readText(file));
      // Unreadable: a lock written by something else; treat it as held rather than guess.
      if (!owner || !isStale(owner, me, file) || attempt >= 3) {
        throw new DataDirLockedError(dataDir, file, owner?.pid ?? 0, owner?.host ?? 'unknown');
      }
      removeIfStill(file, owner.nonce, me);
    }
  } finally {
    unlinkSync(draft);
  }
  held.set(file, me.nonce);
  installExitHook();
  return {
    file,
    release() {
      if (held.get(file) !== me.nonce) return;
      held.delete(file);
      removeIfStill(file, me.nonce, me);
    },
  };
}

/**
 * Removes the lock file only when it is still the one with `nonce`: it is moved aside first (an
 * atomic rename), then checked; a newer lock moved by mistake is linked back.
 */
function removeIfStill(file: string, nonce: string, me: LockOwner): void {
  const aside = `${file}.${me.pid}.${randomUUID()}.stale`;
  try {
    renameSync(file, aside);
  } catch {
    return;
  }
  if (parseOwner(readText(aside))?.nonce !== nonce) {
    try {
      linkSync(aside, file);
    } catch {
      // Another process locked meanwhile; it keeps its own lock.
    }
  }
  unlinkSync(aside);
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A process that ends without closing the database (an exit, an uncaught error) frees the lock;
  // one killed outright leaves it behind, stale, for the next opener to take over.
  process.on('exit', () => {
    const me = { pid: process.pid } as LockOwner;
    for (const [file, nonce] of held) removeIfStill(file, nonce, me);
    held.clear();
  });
}
