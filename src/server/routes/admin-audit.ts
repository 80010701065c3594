import { Readable } from 'node:stream';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Clock } from '../../clock.js';
import { auditExportMediaTypes, auditRecordView } from '../../audit/export.js';
import { parseExpectedHead } from '../../audit/head.js';
import type { AuditReader } from '../../audit/reader.js';
import { chainBreakExplanations, type AuditVerification as AuditVerificationService, type AuditVerificationReport } from '../../audit/verification.js';
import { AuthError } from '../../errors/auth-error.js';
import { decodeAuditCursor, encodeAuditCursor, parseAuditFilter, parseAuditLimit } from '../../audit/query.js';
import { AuditExportQuery, AuditListQuery, AuditPage, AuditVerification, AuditVerifyQuery } from '../schemas/audit.js';
import { errorResponses } from '../schemas/common.js';

/** The chunks of a generator whose first result was already taken. */
async function* continued(first: IteratorResult<string, void>, rest: AsyncGenerator<string, void, undefined>): AsyncGenerator<string, void, undefined> {
  if (first.done) return;
  yield first.value;
  yield* rest;
}

function verificationView({ result, checkedAtMs, expected }: AuditVerificationReport) {
  return {
    verified: !result.broken && (expected?.ok ?? true),
    records: result.records,
    head: result.head ?? null,
    broken: result.broken ? { ...result.broken, explanation: chainBreakExplanations[result.broken.reason] } : null,
    never_keyed: result.neverKeyed ?? false,
    pruned_through: result.prunedThrough === undefined ? null : { seq: result.prunedThrough, hash: result.prunedThroughHash ?? '' },
    legacy_through: result.legacyThrough ?? null,
    legacy_forced: result.legacyForced ?? false,
    accepted_breaks: (result.acceptedBreaks ?? []).map((entry) => ({ seq: entry.seq, id: entry.id, reason: entry.reason, note: entry.note, anchor_seq: entry.anchorSeq })),
    expected_head: expected ? { found: expected.ok, message: expected.message } : null,
    checked_at: new Date(checkedAtMs).toISOString(),
  };
}

export interface AdminAuditRouteOptions {
  audit: Pick<AuditReader, 'search' | 'export'>;
  verification: Pick<AuditVerificationService, 'verify'>;
  /** Stamps the export's file name. */
  clock: Clock;
}

/**
 * GET /admin/audit (search, newest first, cursor pages), GET /admin/audit/export (streamed) and
 * GET /admin/audit/verify (the chain checked while the server runs), behind the admin gate.
 */
export async function adminAuditRoutes(base: FastifyInstance, { audit, verification, clock }: AdminAuditRouteOptions): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/audit',
    { schema: { querystring: AuditListQuery, response: { 200: AuditPage, ...errorResponses } } },
    async (request) => {
      const filter = parseAuditFilter(request.query);
      const limit = parseAuditLimit(request.query.limit);
      const beforeSeq = decodeAuditCursor(request.query.cursor);
      const page = await audit.search(filter, { limit, beforeSeq });
      return {
        records: page.records.map(auditRecordView),
        next_cursor: page.nextBeforeSeq === undefined ? null : encodeAuditCursor(page.nextBeforeSeq),
      };
    },
  );

  app.get(
    '/audit/export',
    {
      // A HEAD would run the whole export only to discard it.
      exposeHeadRoute: false,
      schema: { querystring: AuditExportQuery, response: { 200: Type.Any({ description: 'JSON Lines or CSV, streamed' }), ...errorResponses } },
    },
    async (request, reply) => {
      const filter = parseAuditFilter(request.query);
      const format = request.query.format ?? 'jsonl';
      // The first chunk (the first batch) is read before any header is set: a database failure
      // is then an ordinary JSON error answer, not a cut-off file.
      const chunks = await audit.export(filter, format);
      const first = await chunks.next();
      // Pull-based: the next batch is queried only when the socket has taken the previous one,
      // and a closed connection destroys the stream, which ends the generator.
      const stream = Readable.from(continued(first, chunks), { objectMode: false });
      const stamp = new Date(clock.now()).toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '');
      return reply
        .header('content-type', auditExportMediaTypes[format])
        .header('content-disposition', `attachment; filename="tessera-audit-${stamp}.${format}"`)
        .send(stream);
    },
  );
  app.get(
    '/audit/verify',
    // A HEAD would walk the whole chain only to discard the answer.
    { exposeHeadRoute: false, schema: { querystring: AuditVerifyQuery, response: { 200: AuditVerification, ...errorResponses } } },
    async (request) => {
      const text = request.query.expect_head;
      const expected = text === undefined ? undefined : parseExpectedHead(text);
      if (text !== undefined && !expected) throw new AuthError('invalid_request', { description: 'expect_head must be SEQ:HASH or a signed head token' });
      return verificationView(await verification.verify(expected));
    },
  );
}
