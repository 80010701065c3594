import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { AuthError } from '../../errors/auth-error.js';
import type { IpRuleEntry, IpRules } from '../../protection/ip-rules.js';
import { adminOf } from '../plugins/auth-context.js';
import { eventContext } from '../plugins/request-context.js';
import { errorResponses } from '../schemas/common.js';

const IpRuleView = Type.Object({
  id: Type.String(),
  source: Type.Union([Type.Literal('admin'), Type.Literal('detection')]),
  action: Type.Union([Type.Literal('allow'), Type.Literal('deny')]),
  cidr: Type.String(),
  note: Type.Union([Type.String(), Type.Null()]),
  expires_at: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.Union([Type.String(), Type.Null()]),
  created_by: Type.Union([Type.String(), Type.Null()]),
});

/** Lengths are the service's to check (its messages name the limit); these bound what is parsed. */
const IpRuleCreate = Type.Object(
  {
    action: Type.Union([Type.Literal('allow'), Type.Literal('deny')]),
    cidr: Type.String({ maxLength: 1024 }),
    note: Type.Optional(Type.Union([Type.String({ maxLength: 20_000 }), Type.Null()])),
    expires_at: Type.Optional(Type.Union([Type.String({ maxLength: 64 }), Type.Null()])),
  },
  { additionalProperties: false },
);

const IpRuleParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false });

/** RFC 3339 date-time, with its offset: a bare date or a local time is ambiguous. */
const dateTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;

function parseExpiry(text: string | null | undefined): Date | null {
  if (text === undefined || text === null) return null;
  const at = dateTime.test(text) ? Date.parse(text) : NaN;
  if (!Number.isFinite(at)) throw new AuthError('invalid_request', { description: 'expires_at must be an RFC 3339 date-time with an offset.' });
  return new Date(at);
}

const iso = (date: Date | null) => (date ? date.toISOString() : null);

function ruleView(entry: IpRuleEntry) {
  return {
    id: entry.id,
    source: entry.source,
    action: entry.action,
    cidr: entry.cidr,
    note: entry.note,
    expires_at: iso(entry.expiresAt),
    created_at: iso(entry.createdAt),
    created_by: entry.createdBy,
  };
}

export interface AdminIpRuleRouteOptions {
  ipRules: Pick<IpRules, 'list' | 'create' | 'remove'>;
}

/** GET, POST /admin/ip-rules and DELETE /admin/ip-rules/:id, behind the admin gate. */
export async function adminIpRuleRoutes(base: FastifyInstance, { ipRules }: AdminIpRuleRouteOptions): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();

  app.get('/ip-rules', { schema: { response: { 200: Type.Object({ rules: Type.Array(IpRuleView) }), ...errorResponses } } }, async () => ({
    rules: (await ipRules.list()).map(ruleView),
  }));

  app.post('/ip-rules', { schema: { body: IpRuleCreate, response: { 201: IpRuleView, ...errorResponses } } }, async (request, reply) => {
    const { action, cidr, note } = request.body;
    const rule = await ipRules.create(
      { action, cidr, note, expiresAt: parseExpiry(request.body.expires_at) },
      adminOf(request).user.id,
      request.clientIp,
      eventContext(request),
    );
    return reply.code(201).send(ruleView({ ...rule, source: 'admin' }));
  });

  app.delete('/ip-rules/:id', { schema: { params: IpRuleParams, response: { 204: Type.Null(), ...errorResponses } } }, async (request, reply) => {
    await ipRules.remove(request.params.id, adminOf(request).user.id, request.clientIp, eventContext(request));
    return reply.code(204).send(null);
  });
}
