import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { StatsService } from '../../stats/stats.js';
import { errorResponses } from '../schemas/common.js';

const Count = Type.Union([Type.Integer(), Type.Null()]);
const StoreState = Type.Object({ kind: Type.String(), up: Type.Boolean() });

export const StatsView = Type.Object({
  users: Count,
  active_sessions: Count,
  revocations_in_force: Type.Integer(),
  last_24h: Type.Object({
    logins_succeeded: Type.Integer(),
    logins_failed: Type.Integer(),
    rate_limited: Type.Integer(),
    tokens_revoked: Type.Integer(),
  }),
  open_incidents: Count,
  stores: Type.Object({ database: StoreState, hot_state: StoreState }),
});

export interface AdminStatsRouteOptions {
  stats: Pick<StatsService, 'snapshot'>;
}

/** GET /admin/stats, behind the admin gate. */
export async function adminStatsRoutes(base: FastifyInstance, options: AdminStatsRouteOptions): Promise<void> {
  base.withTypeProvider<TypeBoxTypeProvider>().get('/stats', { schema: { response: { 200: StatsView, ...errorResponses } } }, async () => {
    const stats = await options.stats.snapshot();
    return {
      users: stats.users,
      active_sessions: stats.activeSessions,
      revocations_in_force: stats.revocationsInForce,
      last_24h: {
        logins_succeeded: stats.last24h.loginsSucceeded,
        logins_failed: stats.last24h.loginsFailed,
        rate_limited: stats.last24h.rateLimited,
        tokens_revoked: stats.last24h.tokensRevoked,
      },
      open_incidents: stats.openIncidents,
      stores: { database: stats.stores.database, hot_state: stats.stores.hotState },
    };
  });
}
