import { openTessera } from '../app/create-tessera.js';
import { openDatabase } from '../app/storage.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/config.js';
import type { Db } from '../store/sql/db.js';
import { sqlStores } from '../store/sql/sql-stores.js';
import type { KeyView } from '../keys/rotation.js';
import { UsageError } from './help.js';

const iso = (date: Date | null) => (date ? date.toISOString() : '-');

function line(key: KeyView): string {
  return [key.kid, key.alg, key.state, iso(key.createdAt), iso(key.activatesAt), iso(key.retiresAt), iso(key.publishedUntil)].join('\t');
}

const header = ['KID', 'ALG', 'STATE', 'CREATED', 'ACTIVATES', 'RETIRES', 'PUBLISHED_UNTIL'].join('\t');

/**
 * Opening the key ring with an algorithm other than the servers' would change keys (the signers
 * retired, a new key signing at once, before any verifier has it): a command that opens Tessera
 * (keys, users) run from a shell without the servers' TESSERA_SIGNING_ALG refuses instead.
 */
export async function refuseOtherAlgorithm(config: Config, open?: Db): Promise<void> {
  // An open database (the one the command goes on with) is left open.
  const db = open ?? (await openDatabase(config));
  try {
    // A database not migrated yet has no keys to disagree with: openTessera makes the first one.
    const published = await sqlStores(db)
      .signingKeys.listPublished(new Date())
      .catch(() => []);
    const signing = published.find((key) => key.status === 'active');
    if (signing && signing.alg !== config.signingAlg) {
      throw new Error(`TESSERA_SIGNING_ALG is ${config.signingAlg} but the keys sign with ${signing.alg}: set it as the servers have it`);
    }
  } finally {
    if (!open) await db.close();
  }
}

/**
 * `tessera keys list`: the signing keys and their schedule (never private material).
 * `tessera keys rotate`: publishes a new key against the database, as a running server would
 * (publish before sign: it signs once every verifier can have fetched it); recorded as
 * `key.rotated` by `cli`. Exit 1 while a rotated key still waits to sign.
 */
export async function keysCommand(args: string[]): Promise<number> {
  const [verb, ...rest] = args;
  if (verb !== 'list' && verb !== 'rotate') throw new UsageError(verb === undefined ? 'a command is required' : `unknown command "keys ${verb}"`, ['keys']);
  if (rest.length > 0) throw new UsageError(`unknown argument "${rest[0]}"`, ['keys', verb]);
  const config = loadConfig();
  await refuseOtherAlgorithm(config);
  const { tessera } = await openTessera(config);
  try {
    if (verb === 'rotate') {
      const key = await tessera.keyRotation.rotate('cli');
      await tessera.auditChain.flush();
      process.stdout.write(`published key ${key.kid} (${key.alg}); it signs from ${key.activatesAt.toISOString()}, when the current key retires\n`);
      return 0;
    }
    process.stdout.write(`${header}\n`);
    for (const key of await tessera.keyRotation.list()) process.stdout.write(`${line(key)}\n`);
    return 0;
  } finally {
    await tessera.close();
  }
}
