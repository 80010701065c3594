import { createAuthenticator, nodeAuthorization, type Claims, type TesseraAuthOptions } from './http.js';

/**
 * `tessera/verify/express`: a middleware that verifies the request's bearer token and puts its
 * claims on `req.auth`, or answers 400/401/403/503 itself (docs/sdk.md). It imports nothing from
 * Express, at run time or in types, so a service without @types/express can use it.
 */

export type { Claims, TesseraAuthOptions } from './http.js';

declare global {
  // Merges with @types/express's Request when it is installed; harmless when it is not.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The verified token's claims, set by tesseraAuth; undefined for an optional one and no Authorization header. */
      auth?: Claims | undefined;
    }
  }
}

/** The parts of Express's request the middleware reads and writes. */
export interface ExpressLikeRequest {
  headers: { authorization?: string | string[] | undefined };
  rawHeaders?: string[];
  auth?: Claims | undefined;
}

/** The parts of Express's response the middleware answers with. */
export interface ExpressLikeResponse {
  status(code: number): this;
  set(headers: Record<string, string>): this;
  json(body: unknown): unknown;
}

export type ExpressLikeNext = (error?: unknown) => void;

export function tesseraAuth(options: TesseraAuthOptions): (req: ExpressLikeRequest, res: ExpressLikeResponse, next: ExpressLikeNext) => Promise<void> {
  const authenticator = createAuthenticator(options);
  return async (req, res, next) => {
    const outcome = await authenticator.authenticate(nodeAuthorization(req.rawHeaders, req.headers.authorization));
    if (outcome.ok) {
      req.auth = outcome.claims;
      next();
      return;
    }
    res.status(outcome.refusal.status).set(outcome.refusal.headers).json(outcome.refusal.body);
  };
}
