import type { Config } from '../config/config.js';
import { parseConfig } from '../config/load.js';

/** A fixed secret for tests only; never used outside them. */
export const testSecret = 'test-secret-test-secret-test-secret-0123456789';

/** A Config as the server would parse it, with test-friendly defaults and overrides. */
export function testConfig(overrides: Record<string, string | undefined> = {}): Config {
  return parseConfig({
    TESSERA_SECRET: testSecret,
    TESSERA_ISSUER: 'https://auth.test.example',
    TESSERA_LOG_LEVEL: 'silent',
    // Suites that are not about protection send many sign-ins from one address; the protection
    // suite sets the real limits.
    TESSERA_RATE_LIMIT_LOGIN_IP: '100000/1m',
    TESSERA_RATE_LIMIT_LOGIN_ACCOUNT: '100000/1m',
    TESSERA_LOCKOUT_THRESHOLD: '1000',
    TESSERA_RATE_LIMIT_IP: '999999/1h',
    TESSERA_RATE_LIMIT_SIGNUP: '999999/1h',
    // Detection still raises incidents; only its suite lets it block the loopback address.
    TESSERA_IP_BLOCK_DURATION: '0s',
    ...overrides,
  });
}
