import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { AuthError } from '../../errors/auth-error.js';
import type { Incident } from '../../incidents/incident.js';
import type { Tessera } from '../../app/create-tessera.js';
import { isUuid } from '../../store/sql/uuid.js';
import { requireAdmin } from '../plugins/auth-context.js';
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

/** The cursor is the last incident of a page: its last-seen time and id, opaque to clients. */
function encodeCursor(incident: Incident): string {
  return Buffer.from(`${incident.lastSeen.getTime()}.${incident.id}`).toString('base64url');
}

/** The instants SQL dates hold on every backend: years 0001 to 9999 (PGlite refuses the rest). */
const earliest = Date.parse('0001-01-01T00:00:00.000Z');
const latest = Date.parse('9999-12-31T23:59:59.999Z');

function decodeCursor(cursor: string): { lastSeen: Date; id: string } {
  const match = /^(\d{1,15})\.([0-9a-f-]{36})$/.exec(Buffer.from(cursor, 'base64url').toString('latin1'));
  const time = match ? Number(match[1]) : Number.NaN;
  if (!match || !isUuid(match[2]!) || !(time >= earliest && time <= latest)) {
    throw new AuthError('invalid_request', { description: 'The cursor is not valid.' });
  }
  return { lastSeen: new Date(time), id: match[2]! };
}

/** GET /admin/incidents and PATCH /admin/incidents/:id (acknowledge, resolve). */
export async function adminIncidentRoutes(base: FastifyInstance, { tessera }: { tessera: Tessera }): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/admin/incidents',
    {
      schema: {
        querystring: IncidentListQuery,
        response: { 200: Type.Object({ incidents: Type.Array(IncidentView), next_cursor: Type.Union([Type.String(), Type.Null()]) }), ...errorResponses },
      },
    },
    async (request) => {
      await requireAdmin(request, tessera);
      const { status, type, cursor } = request.query;
      const limit = request.query.limit === undefined ? 50 : Number(request.query.limit);
      if (limit < 1 || limit > 200) throw new AuthError('invalid_request', { description: 'limit must be 1 to 200.' });
      const incidents = await tessera.incidents.list({
        status,
        type,
        ...(cursor === undefined ? {} : { after: decodeCursor(cursor) }),
        limit: limit + 1,
      });
      const page = incidents.slice(0, limit);
      return { incidents: page.map(incidentView), next_cursor: incidents.length > limit ? encodeCursor(page[page.length - 1]!) : null };
    },
  );

  app.patch(
    '/admin/incidents/:id',
    { schema: { params: IncidentParams, body: IncidentPatch, response: { 200: IncidentView, ...errorResponses } } },
    async (request) => {
      const admin = await requireAdmin(request, tessera);
      const incident = await tessera.incidents.update(request.params.id, request.body.status, admin.user.id, eventContext(request));
      return incidentView(incident);
    },
  );
}
