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

export const AuditVerifyQuery = Type.Object(
  {
    /** `SEQ:HASH` or a signed head's `head_token`, as `tessera audit verify --expect-head` takes. */
    expect_head: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);

const HeadView = Type.Object({ seq: Type.Integer(), hash: Type.String() });
const NullableInteger = () => Type.Union([Type.Integer(), Type.Null()]);

/** GET /admin/audit/verify: what `tessera audit verify` prints, as data. */
export const AuditVerification = Type.Object({
  /** The whole chain verified (and the expected head, when given, is in it). */
  verified: Type.Boolean(),
  records: Type.Integer(),
  head: Type.Union([HeadView, Type.Null()]),
  broken: Type.Union([Type.Object({ seq: Type.Integer(), id: Type.String(), reason: Type.String(), explanation: Type.String() }), Type.Null()]),
  never_keyed: Type.Boolean(),
  pruned_through: Type.Union([HeadView, Type.Null()]),
  legacy_through: NullableInteger(),
  legacy_forced: Type.Boolean(),
  accepted_breaks: Type.Array(Type.Object({ seq: Type.Integer(), id: Type.String(), reason: Type.String(), note: Type.String(), anchor_seq: Type.Integer() })),
  expected_head: Type.Union([Type.Object({ found: Type.Boolean(), message: Type.String() }), Type.Null()]),
  checked_at: Type.String(),
});
