import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { AuthError } from '../../errors/auth-error.js';
import type { Incident } from '../../incidents/incident.js';
import { decodeIncidentCursor, encodeIncidentCursor } from '../../incidents/cursor.js';
import type { IncidentService } from '../../incidents/service.js';
import { adminOf } from '../plugins/auth-context.js';
import { errorResponses } from '../schemas/common.js';
import { IncidentListQuery, IncidentParams, IncidentPatch, IncidentView } from '../schemas/incidents.js';
import { eventContext } from '../plugins/request-context.js';

const iso = (date: Date | null) => (date ? date.toISOString() : null);

function incidentView(incident: Incident) {
  return {
    id: incident.id,
    type: incident.type,
    severity: incident.severity,
    subject: incident.subject,
    status: incident.status,
    evidence: incident.evidence,
    first_seen: incident.firstSeen.toISOString(),
    last_seen: incident.lastSeen.toISOString(),
    count: incident.count,
    acknowledged_at: iso(incident.acknowledgedAt),
    acknowledged_by: incident.acknowledgedBy,
    resolved_at: iso(incident.resolvedAt),
    resolved_by: incident.resolvedBy,
  };
}

export interface AdminIncidentRouteOptions {
  incidents: IncidentService;
}

/** GET /admin/incidents and PATCH /admin/incidents/:id (acknowledge, resolve), behind the admin gate. */
export async function adminIncidentRoutes(base: FastifyInstance, { incidents }: AdminIncidentRouteOptions): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/incidents',
    {
      schema: {
        querystring: IncidentListQuery,
        response: { 200: Type.Object({ incidents: Type.Array(IncidentView), next_cursor: Type.Union([Type.String(), Type.Null()]) }), ...errorResponses },
      },
    },
    async (request) => {
      const { status, type, cursor } = request.query;
      const limit = request.query.limit === undefined ? 50 : Number(request.query.limit);
      if (limit < 1 || limit > 200) throw new AuthError('invalid_request', { description: 'limit must be 1 to 200.' });
      const found = await incidents.list({
        status,
        type,
        ...(cursor === undefined ? {} : { after: decodeIncidentCursor(cursor) }),
        limit: limit + 1,
      });
      const page = found.slice(0, limit);
      return { incidents: page.map(incidentView), next_cursor: found.length > limit ? encodeIncidentCursor(page[page.length - 1]!) : null };
    },
  );

  app.patch(
    '/incidents/:id',
    { schema: { params: IncidentParams, body: IncidentPatch, response: { 200: IncidentView, ...errorResponses } } },
    async (request) => {
      const incident = await incidents.update(request.params.id, request.body.status, adminOf(request).user.id, eventContext(request));
      return incidentView(incident);
    },
  );
}
