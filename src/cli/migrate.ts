import { loadConfig } from '../config/load.js';
import { migrate } from '../store/sql/migrate.js';
import { openDatabase } from '../service.js';

export async function migrateCommand(): Promise<number> {
  const config = loadConfig();
  const db = await openDatabase(config);
  try {
    const result = await migrate(db);
    process.stdout.write(
      result.applied.length > 0
        ? `applied migrations ${result.applied.join(', ')}; schema is at version ${result.current}\n`
        : `schema is up to date (version ${result.current})\n`,
    );
    return 0;
  } finally {
    await db.close();
  }
}
