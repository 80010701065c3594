import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AuthError, isAuthError } from '../../errors/auth-error.js';
import type { ErrorCode } from '../../errors/codes.js';
import { noteRefusal } from '../logger.js';

export const realm = 'tessera';

/** RFC 6750 §3: the challenge a 401 carries. */
function challenge(error: AuthError): string {
  if (error.code !== 'invalid_token') return `Bearer realm="${realm}"`;
  return `Bearer realm="${realm}", error="invalid_token", error_description="${error.description.replace(/["\\]/g, '')}"`;
}

/** Fastify's own errors (FST_*) that are the client's fault, mapped to registry codes. */
function fromFastifyError(error: FastifyError): AuthError | undefined {
  if (error.validation) {
    // Ajv's message names the field and the rule, never the value sent.
    const first = error.validation[0];
    const where = `${error.validationContext ?? 'body'}${first?.instancePath ?? ''}`;
    return new AuthError('invalid_request', { description: `${where} ${first?.message ?? 'is invalid'}`.trim() });
  }
  const byCode: Partial<Record<string, ErrorCode>> = {
    FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
    FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
    FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_request',
    FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_request',
    FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_request',
  };
  const code = error.code ? byCode[error.code] : undefined;
  if (code) return new AuthError(code, code === 'invalid_request' ? { description: 'The request body is not valid JSON.' } : {});
  const status = error.statusCode ?? 500;
  if (status === 413) return new AuthError('payload_too_large');
  if (status === 415) return new AuthError('unsupported_media_type');
  // JSON syntax errors, prototype poisoning and other malformed bodies.
  if (status >= 400 && status < 500) return new AuthError('invalid_request', { description: 'The request is malformed.' });
  return undefined;
}

export function sendError(reply: FastifyReply, error: AuthError): FastifyReply {
  reply.headers(error.headers);
  if (error.status === 401 && !reply.hasHeader('www-authenticate')) reply.header('www-authenticate', challenge(error));
  if (error.status >= 400 && !reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
  return reply.code(error.status).send({ error: error.code, error_description: error.description, ...error.extra });
}

/** The one error handler: every failure leaves as `{error, error_description}`. */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((raw: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const error = isAuthError(raw) ? raw : fromFastifyError(raw);
    if (error) {
      if (error.status >= 500) request.log.error({ err: error.cause ?? error }, error.detail ?? error.code);
      // Not a line of its own: the request's access-log line carries it (logger.ts).
      else if (error.detail) noteRefusal(request, error.code, error.detail);
      return sendError(reply, error);
    }
    request.log.error({ err: raw }, 'unexpected error');
    return sendError(reply, new AuthError('server_error'));
  });

  app.setNotFoundHandler((_request, reply) => sendError(reply, new AuthError('not_found')));
}
