import { once } from 'node:events';
import { loadConfig } from '../config/load.js';
import { createLogger } from '../server/logger.js';
import { createTessera } from '../app/create-tessera.js';
import { UsageError } from './help.js';

/** How long in-flight requests get to finish after SIGTERM/SIGINT. */
const shutdownGraceMs = 10_000;

export async function serveCommand(args: string[]): Promise<number> {
  if (args.length > 0) throw new UsageError(`unknown argument "${args[0]}"`, ['serve']);
  const started = performance.now();
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  for (const warning of config.warnings) logger.warn(`development default: ${warning}`);

  // The HTTP layer's modules load while the database opens (its WebAssembly compiles off the main thread).
  const httpLayer = import('../server/app.js');
  httpLayer.catch(() => undefined);
  const tessera = await createTessera(config, { logger });
  const app = await (await httpLayer).buildApp(tessera, { logger });
  await app.listen({ port: config.port, host: config.host });
  logger.info(
    { issuer: config.issuer, store: tessera.config.databaseUrl ? 'postgres' : 'pglite', startupMs: Math.round(performance.now() - started) },
    'tessera ready',
  );

  const signal = await Promise.race([once(process, 'SIGTERM'), once(process, 'SIGINT')]);
  logger.info({ signal: signal[0] ?? 'signal' }, 'shutting down');
  const force = setTimeout(() => {
    logger.error('shutdown took too long; exiting');
    process.exit(1);
  }, shutdownGraceMs);
  force.unref();
  await app.close();
  await tessera.close();
  clearTimeout(force);
  logger.info('stopped');
  return 0;
}
