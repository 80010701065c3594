import { Type } from 'typebox';
import { incidentStatuses, incidentTypes } from '../../incidents/incident.js';

export const IncidentView = Type.Object({
  id: Type.String(),
  type: Type.String(),
  severity: Type.String(),
  subject: Type.String(),
  status: Type.String(),
  evidence: Type.Record(Type.String(), Type.Unknown()),
  first_seen: Type.String(),
  last_seen: Type.String(),
  count: Type.Integer(),
  acknowledged_at: Type.Union([Type.String(), Type.Null()]),
  acknowledged_by: Type.Union([Type.String(), Type.Null()]),
  resolved_at: Type.Union([Type.String(), Type.Null()]),
  resolved_by: Type.Union([Type.String(), Type.Null()]),
});

export const IncidentListQuery = Type.Object(
  {
    status: Type.Optional(Type.Union(incidentStatuses.map((status) => Type.Literal(status)))),
    type: Type.Optional(Type.Union(incidentTypes.map((type) => Type.Literal(type)))),
    limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$' })),
    cursor: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,200}$' })),
  },
  { additionalProperties: false },
);

export const IncidentParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });

export const IncidentPatch = Type.Object(
  { status: Type.Union([Type.Literal('acknowledged'), Type.Literal('resolved')]) },
  { additionalProperties: false },
);
