import type { FastifyInstance } from 'fastify';
import { AuthError } from '../../errors/auth-error.js';

/**
 * Parses application/x-www-form-urlencoded bodies (RFC 7009 and RFC 7662 clients send them)
 * into a plain object of strings. Registered only in the scopes of those endpoints; a repeated
 * parameter is refused (RFC 6749 §3.2: parameters MUST NOT be included more than once).
 */
export function acceptFormBodies(app: FastifyInstance): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    const result: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const [key, value] of new URLSearchParams(body as string)) {
      if (key in result) {
        done(new AuthError('invalid_request', { description: `The parameter ${key.slice(0, 40)} is repeated.` }), undefined);
        return;
      }
      result[key] = value;
    }
    // A plain prototype again, so the schema validator treats it like parsed JSON.
    done(null, { ...result });
  });
}
