import type { FastifyInstance } from 'fastify';
import type { Db } from '../store/sql/db.js';

/** Request and response members that carry a secret. */
const secretMembers = new Set([
  'password',
  'new_password',
  'current_password',
  'token',
  'refresh_token',
  'access_token',
  'mfa_token',
  'code',
  'secret',
  'api_key',
]);

/** Shapes no audit record may contain whatever a test sent: JWS, refresh tokens, password hashes. */
const secretShapes: readonly RegExp[] = [
  /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/,
  /[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}/,
  /\$argon2(id|i|d)\$/,
  /\$2[abxy]\$\d\d\$/,
  // Imported hashes (passwords/legacy-hashes.ts): wrapped, Django and PHC PBKDF2.
  /\$tessera-wrap\$/,
  /pbkdf2(_sha1|_sha256|-sha256|-sha512)?\$\d+\$/,
];

function collect(value: unknown, into: Set<string>, depth = 0): void {
  if (depth > 4 || value === null || typeof value !== 'object') return;
  for (const [key, member] of Object.entries(value as Record<string, unknown>)) {
    // Short values are too common to mean anything ("x", "1234").
    if (secretMembers.has(key) && typeof member === 'string' && member.length >= 8) into.add(member);
    else collect(member, into, depth + 1);
  }
}

/**
 * A guard every test app carries: it remembers each secret that crossed its HTTP API (passwords,
 * codes and tokens in request bodies, tokens in responses) and, when the app closes, fails if
 * any audit record it wrote contains one of them, or anything shaped like a token or a hash.
 */
export function guardAuditAgainstSecrets(app: FastifyInstance): { assertClean(db: Db): Promise<void> } {
  const secrets = new Set<string>();
  app.addHook('preHandler', async (request) => {
    collect(request.body, secrets);
    const authorization = request.headers.authorization;
    if (typeof authorization === 'string') {
      const credential = authorization.replace(/^\S+\s+/, '');
      if (credential.length >= 8) secrets.add(credential);
    }
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    if (typeof payload === 'string' && String(reply.getHeader('content-type') ?? '').startsWith('application/json')) {
      try {
        collect(JSON.parse(payload), secrets);
      } catch {
        // Not JSON after all: nothing to learn.
      }
    }
    return payload;
  });
  return {
    async assertClean(db) {
      // A test that shut its database down on purpose (readiness, faults) left nothing to read.
      if (!(await db.ping().then(() => true, () => false))) return;
      const rows = await db.query<{ seq: string; record: string }>(
        `SELECT seq::text AS seq, concat_ws(' ', type, user_agent, request_id, ip, details::text) AS record FROM audit_log
         UNION ALL
         SELECT 'pending ' || pending_seq::text, concat_ws(' ', type, user_agent, request_id, ip, details::text) FROM audit_pending`,
      );
      for (const row of rows) {
        for (const shape of secretShapes) {
          if (shape.test(row.record)) throw new Error(`audit record ${row.seq} holds something shaped like a secret (${shape.source}): ${row.record.slice(0, 300)}`);
        }
        for (const secret of secrets) {
          if (row.record.includes(secret)) throw new Error(`audit record ${row.seq} holds a secret sent or issued over HTTP: ${row.record.slice(0, 300)}`);
        }
      }
    },
  };
}
