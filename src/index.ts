export { createTessera, type Tessera, type TesseraDeps } from './app/create-tessera.js';
export { buildApp, type AppOptions } from './server/app.js';
export { loadConfig, parseConfig } from './config/load.js';
export { ConfigError, type Config } from './config/config.js';
export { systemClock, ManualClock, type Clock } from './clock.js';
export { AuthError } from './errors/auth-error.js';
export { errorCodes, type ErrorCode } from './errors/codes.js';
