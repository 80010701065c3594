import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { AuthError } from '../../errors/auth-error.js';
import { importLimits, type UserImport } from '../../users/import.js';
import { adminOf } from '../plugins/auth-context.js';
import { eventContext } from '../plugins/request-context.js';
import { errorResponses } from '../schemas/common.js';

/** An import request's body: JSON Lines, up to 10 000 lines of at most 16 KiB. */
export const importBodyLimitBytes = 10 * 1024 * 1024;

const lineMediaTypes = ['application/x-ndjson', 'application/jsonl', 'text/plain'];

const ImportQuery = Type.Object({ dry_run: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])) }, { additionalProperties: false });

/** The report (users/import.ts): skipped and refused lines listed, created ones counted; never a hash. */
const ImportReportSchema = Type.Object({
  dry_run: Type.Boolean(),
  created: Type.Integer(),
  skipped: Type.Integer(),
  refused: Type.Integer(),
  lines: Type.Array(
    Type.Object({
      line: Type.Integer(),
      username: Type.Optional(Type.String()),
      outcome: Type.Union([Type.Literal('skipped'), Type.Literal('refused')]),
      reason: Type.String(),
    }),
  ),
});

export interface AdminUserImportRouteOptions {
  userImport: UserImport;
}

const notLines = () =>
  new AuthError('unsupported_media_type', { description: 'The request body must be JSON Lines (application/x-ndjson, application/jsonl or text/plain).' });

/** POST /admin/users/import, behind the admin gate (SPEC §3 Administration; docs/api.md). */
export async function adminUserImportRoutes(base: FastifyInstance, { userImport }: AdminUserImportRouteOptions): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  // In this plugin's scope only: the rest of the API stays JSON-only with its 64 KiB limit.
  app.addContentTypeParser(lineMediaTypes, { parseAs: 'string', bodyLimit: importBodyLimitBytes }, (_request, body, done) => done(null, body));
  // Any other media type (JSON included): 415 naming the ones taken, before the body is read.
  app.addHook('preParsing', async (request, _reply, payload) => {
    const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (!lineMediaTypes.includes(type)) throw notLines();
    return payload;
  });

  app.post(
    '/users/import',
    { bodyLimit: importBodyLimitBytes, schema: { querystring: ImportQuery, response: { 200: ImportReportSchema, ...errorResponses } } },
    async (request) => {
      const body = request.body;
      if (typeof body !== 'string' || body.trim() === '') throw new AuthError('invalid_request', { description: 'The request body holds no lines.' });
      if (body.includes('\u0000')) throw new AuthError('invalid_request', { description: 'The request body is not text.' });
      const dryRun = request.query.dry_run === 'true';
      const report = await userImport.run(body, {
        by: adminOf(request).user.id,
        dryRun,
        maxLines: importLimits.httpLines,
        context: eventContext(request),
      });
      return { dry_run: dryRun, ...report };
    },
  );
}
