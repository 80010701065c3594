import type { MiddlewareHandler } from 'hono';
import { createAuthenticator, type Claims, type TesseraAuthOptions } from './http.js';

/**
 * `tessera/verify/hono`: a middleware that verifies the request's bearer token and sets its
 * claims as `c.get('auth')`, or answers 400/401/403/503 itself (docs/sdk.md). Hono is imported
 * for types only; it runs on any runtime Hono does.
 */

export type { Claims, TesseraAuthOptions } from './http.js';

/** For `new Hono<{ Variables: TesseraAuthVariables }>()`, so `c.get('auth')` is typed. */
export type TesseraAuthVariables = { auth: Claims | undefined };

export function tesseraAuth(options: TesseraAuthOptions): MiddlewareHandler<{ Variables: TesseraAuthVariables }> {
  const authenticator = createAuthenticator(options);
  return async (c, next) => {
    // Fetch's Headers joins repeated headers with ", ", which the core refuses as ambiguous.
    const authorization = c.req.raw.headers.get('authorization');
    const outcome = await authenticator.authenticate(authorization === null ? [] : [authorization]);
    if (outcome.ok) {
      c.set('auth', outcome.claims);
      await next();
      return;
    }
    return c.json(outcome.refusal.body, outcome.refusal.status, outcome.refusal.headers);
  };
}
