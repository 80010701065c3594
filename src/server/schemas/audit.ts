import { Type } from 'typebox';

/** The filters; their meaning is checked by `parseAuditFilter` (src/audit/query.ts). */
const filterParameters = {
  type: Type.Optional(Type.String({ maxLength: 64 })),
  user: Type.Optional(Type.String({ maxLength: 64 })),
  ip: Type.Optional(Type.String({ maxLength: 64 })),
  outcome: Type.Optional(Type.String({ maxLength: 16 })),
  since: Type.Optional(Type.String({ maxLength: 64 })),
  until: Type.Optional(Type.String({ maxLength: 64 })),
};

/** Unknown parameters are refused: a misspelt filter must not silently return everything. */
export const AuditListQuery = Type.Object(
  {
    ...filterParameters,
    limit: Type.Optional(Type.String({ maxLength: 8 })),
    cursor: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);

export const AuditExportQuery = Type.Object(
  {
    ...filterParameters,
    format: Type.Optional(Type.Union([Type.Literal('jsonl'), Type.Literal('csv')])),
  },
  { additionalProperties: false },
);

const Nullable = () => Type.Union([Type.String(), Type.Null()]);

export const AuditRecordView = Type.Object({
  id: Type.String(),
  seq: Type.Integer(),
  at: Type.String(),
  type: Type.String(),
  outcome: Type.String(),
  user_id: Nullable(),
  session_id: Nullable(),
  ip: Nullable(),
  user_agent: Nullable(),
  request_id: Nullable(),
  severity: Type.String(),
  details: Type.Record(Type.String(), Type.Unknown()),
  prev_hash: Type.String(),
  hash: Type.String(),
});

export const AuditPage = Type.Object({
  records: Type.Array(AuditRecordView),
  next_cursor: Nullable(),
});
