import type { Logger } from 'pino';
import type { AuditChainer } from '../audit/chainer.js';
import type { AuditHeadPublisher } from '../audit/head-publisher.js';
import type { AuditRetention } from '../audit/retention.js';
import type { RowCleanup } from '../store/cleanup.js';
import { startBackground } from './background.js';
import { NotReadyError, openDatabase, openHotState } from './storage.js';
import { createAccessVerifier, type AccessVerifier } from '../tokens/access-verifier.js';
import { createAuthenticate, type Authenticate } from '../flows/authenticate.js';
import { createChangePassword, type ChangePassword } from '../flows/change-password.js';
import { createConfirmPassword, type ConfirmPassword } from '../flows/confirm-password.js';
import { createLogin, type Login } from '../flows/login.js';
import { createPasswordReset, type PasswordReset } from '../flows/password-reset.js';
import { createMailTransport } from '../outbox/transports.js';
import { systemClock, type Clock } from '../clock.js';
import { ConfigError, type Config } from '../config/config.js';
import { isAuthError } from '../errors/auth-error.js';
import { createChainAlarm } from '../audit/chain-alarm.js';
import { auditKeys } from '../audit/keys.js';
import { createAuditVerification, type AuditVerification } from '../audit/verification.js';
import { createAuditReader, type AuditReader } from '../audit/reader.js';
import { createIntrospect, type Introspect } from '../flows/introspect.js';
import { createRevokeToken, type RevokeToken } from '../flows/revoke-token.js';
import { createAuditRecorder } from '../audit/recorder.js';
import { createDetector, type Detector } from '../detection/detector.js';
import { createStatsService, type StatsService } from '../stats/stats.js';
import { createEventBus, type EventBus } from '../events/bus.js';
import { createMetrics, type Metrics } from '../metrics/metrics.js';
import { createIncidentService, type IncidentService } from '../incidents/service.js';
import { createIpBlocks, type IpBlocks } from '../protection/ip-blocks.js';
import { createIpRules, type IpRules } from '../protection/ip-rules.js';
import { KeyRing } from '../keys/key-ring.js';
import { createKeyRotation, type KeyRotation } from '../keys/rotation.js';
import { createSealer } from '../keys/sealer.js';
import { createHibpBreachChecker, createOfflineBreachChecker } from '../passwords/breach.js';
import { createPasswordHasher } from '../passwords/hasher.js';
import { createPasswordPolicy } from '../passwords/policy.js';
import { createLoginProtection, type LoginProtection } from '../protection/login-protection.js';
import { createRevocationService, type RevocationService } from '../revocation/service.js';
import { createRevocationFeed, type RevocationFeed } from '../revocation/feed.js';
import { createRefresh, type Refresh } from '../flows/refresh.js';
import { createSessionService, type SessionService } from '../sessions/service.js';
import type { HotState } from '../store/hot/hot-state.js';
import type { RateLimiter } from '../store/hot/ports.js';
import type { Db } from '../store/sql/db.js';
import { upgradeDatabase } from '../store/sql/upgrade.js';
import { sqlStores } from '../store/sql/sql-stores.js';
import type { StoreSet } from '../store/stores.js';
import { createAccessTokens, type AccessTokens } from '../tokens/access-token.js';
import { createUserService, type UserService } from '../users/service.js';
import { createUserAdmin, type UserAdmin } from '../users/admin.js';
import { createUserImport, type UserImport } from '../users/import.js';
import { hashHeadPattern } from '../passwords/legacy-hashes.js';
import { createApiKeyService, type ApiKeyService } from '../api-keys/service.js';

/**
 * A running Tessera: every feature service, wired once. The HTTP layer only calls these; no
 * store is reachable from here (`openTessera` hands them to tests and tools that need them).
 */
export interface Tessera {
  readonly config: Config;
  readonly clock: Clock;
  readonly events: EventBus;
  readonly keyRing: KeyRing;
  /** Signing-key listing and rotation (publish before sign), also every TESSERA_KEY_ROTATION. */
  readonly keyRotation: KeyRotation;
  readonly tokens: AccessTokens;
  readonly verifier: AccessVerifier;
  readonly revocations: RevocationService;
  /** The revocation state as a numbered feed: GET /auth/revocations streams it to verifiers. */
  readonly revocationFeed: RevocationFeed;
  readonly users: UserService;
  /** User administration (the admin API): list, create, change, disable, unlock, delete. */
  readonly userAdmin: UserAdmin;
  /** Users with their existing password hashes (POST /admin/users/import, `tessera users import`). */
  readonly userImport: UserImport;
  readonly sessions: SessionService;
  readonly login: Login;
  readonly protection: LoginProtection;
  readonly changePassword: ChangePassword;
  /** The current password asked again before an action a stolen access token must not take (minting an API key). */
  readonly confirmPassword: ConfirmPassword;
  readonly passwordReset: PasswordReset;
  readonly refresh: Refresh;
  readonly authenticate: Authenticate;
  /** RFC 7662: describes a token (the caller's right to ask is the route's check). */
  readonly introspect: Introspect;
  /** RFC 7009: revokes a refresh or access token its holder presents. */
  readonly revokeToken: RevokeToken;
  /** API keys: made, listed and revoked by their owners and admins; verified for /auth/verify and introspection. */
  readonly apiKeys: ApiKeyService;
  /** TESSERA_RATE_LIMIT_IP, per client network, shared by every instance. */
  readonly ipRateLimiter: RateLimiter;
  /** Prometheus metrics of this instance (GET /metrics). */
  readonly metrics: Metrics;
  readonly incidents: IncidentService;
  readonly ipBlocks: IpBlocks;
  /** Allow and deny rules by CIDR (GET/POST/DELETE /admin/ip-rules), reloaded by every instance within 1 s. */
  readonly ipRules: IpRules;
  readonly detection: Detector;
  readonly stats: StatsService;
  /** Moves recorded events into the hash chain; `flush` before reading the log. */
  readonly auditChain: AuditChainer;
  /** Audit retention's timer; `runOnce` for a run now. */
  readonly auditRetention: AuditRetention;
  /** Logs the signed audit head every TESSERA_AUDIT_HEAD_INTERVAL, on one instance. */
  readonly auditHead: AuditHeadPublisher;
  /** Verifies the audit chain while the server runs (GET /admin/audit/verify), one run at a time. */
  readonly auditVerification: AuditVerification;
  /** Search, export, head and live tail of the audit log (the admin API). */
  readonly auditReader: AuditReader;
  /** Deletes expired outbox, reset-token, session and refresh-token rows (also on a timer). */
  readonly rowCleanup: RowCleanup;
  /** Resolves when every backing store answers; rejects naming the first that does not. */
  ready(): Promise<void>;
  close(): Promise<void>;
}

export interface TesseraDeps {
  clock?: Clock;
  /** An already-open database (tests); by default opened from the config. */
  db?: Db;
  /** An already-open hot state (tests); by default from REDIS_URL, else in-process. */
  hotState?: HotState;
  logger?: Logger;
  /**
   * False runs without writing audit records (benchmarks measure what auditing costs). There is
   * no configuration setting for it: a deployment always audits.
   */
  audit?: boolean;
}

/** Verification leeway for exp, nbf and iat (SPEC §2). */
const leewaySeconds = 30;

/** Records of client-repeatable events (rate_limited, token.rejected, access.denied) per type and IP. */
const auditSample = { points: 10, windowSeconds: 600 };

/** A Tessera and the storage it runs on. */
export interface OpenedTessera {
  tessera: Tessera;
  /** For the test harness and tools that act as someone with direct access to the data; never for routes. */
  stores: StoreSet;
  hotState: HotState;
}

/** The composition root: opens storage, migrates, loads keys and revocations, creates the bootstrap admin. */
export async function createTessera(config: Config, deps: TesseraDeps = {}): Promise<Tessera> {
  return (await openTessera(config, deps)).tessera;
}

/** `createTessera`, also handing back the stores and hot state it opened. */
export async function openTessera(config: Config, deps: TesseraDeps = {}): Promise<OpenedTessera> {
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger;
  // The dummy hash runs on a libuv thread while the database opens; ready still waits for it.
  const hasher = createPasswordHasher();
  const warmingUp = hasher.warmUp();
  warmingUp.catch(() => undefined);
  const db = deps.db ?? (await openDatabase(config, logger));
  const metrics = createMetrics({ clock });
  let hotState: HotState | undefined;
  try {
    const keys = auditKeys(config.secret);
    // A chain written before it was keyed is anchored only by the run that applies migration 009.
    const { rekeyed } = await upgradeDatabase(db, keys, new Date(clock.now()));
    if (rekeyed) logger?.error({ seq: rekeyed.anchor.seq, legacyHeadSeq: rekeyed.legacyHeadSeq, legacyVerified: rekeyed.legacyVerified }, 'audit chain re-keyed by the upgrade (incident raised)');
    hotState = deps.hotState ?? (await openHotState(config, logger));
    const stores = sqlStores(db, { keys });
    const events = createEventBus({
      now: () => clock.now(),
      ...(deps.audit === false
        ? {}
        : {
            recorder: createAuditRecorder({
              stores,
              sampler: hotState.rateLimiter('audit-sample', auditSample.points, auditSample.windowSeconds),
              observe: (seconds) => metrics.observeAuditWrite(seconds),
            }),
          }),
      onListenerError: (error) => logger?.error({ err: error }, 'event listener failed'),
    });
    const keySealer = createSealer(config.secret, 'signing-keys');
    // Longer than any token signed lives: its TTL plus the verification leeway, with room to spare.
    const retiredKeyGraceMs = config.accessTtlMs + 60_000;
    const keyRing = await KeyRing.open({
      stores,
      sealer: keySealer,
      alg: config.signingAlg,
      clock,
      retiredKeyGraceMs,
      ...(logger ? { logger } : {}),
    });
    const keyRotation = createKeyRotation({ stores, keyRing, events, sealer: keySealer, alg: config.signingAlg, clock, retiredKeyGraceMs, rotationIntervalMs: config.keyRotationMs });
    const tokens = createAccessTokens({
      keyRing,
      clock,
      issuer: config.issuer,
      audience: config.audience,
      ttlMs: config.accessTtlMs,
      leewaySeconds,
    });
    const revocations = createRevocationService({
      stores,
      hotState,
      events,
      clock,
      accessTtlMs: config.accessTtlMs,
      leewayMs: leewaySeconds * 1000,
      ...(logger ? { logger } : {}),
    });
    await revocations.start();
    metrics.watch({ events, revocations, keyRing, stores, hotState });
    const verifier = createAccessVerifier({ tokens, revocations, clock, leewaySeconds, events });
    await warmingUp;
    // The kinds of imported hashes stored: every verification is padded to the costliest (docs/adr/011).
    // A measurement that fails does not stop the start: that kind is measured again when a
    // sign-in meets it (until then its verifications are not padded to it).
    await hasher.noteStoredHashes(await stores.users.passwordHashHeads(hashHeadPattern)).catch((error: unknown) => {
      logger?.error({ err: error }, 'imported password hashes: timing their verification failed; padding covers them once measured');
    });
    const policy = createPasswordPolicy({
      minLength: config.passwordMinLength,
      minScore: config.passwordMinScore,
      breaches:
        config.hibp === 'online'
          ? createHibpBreachChecker({
              baseUrl: config.hibpUrl,
              onFailure: config.hibpFail,
              offline: createOfflineBreachChecker(),
              onError: (error) => logger?.warn({ err: error }, 'breached-password check failed'),
            })
          : createOfflineBreachChecker(),
      hasher,
    });
    const users = createUserService({
      stores,
      hasher,
      policy,
      clock,
      signup: config.signup,
      events,
      signupLimiter: hotState.rateLimiter('signup', config.signupRateLimit.points, config.signupRateLimit.windowMs / 1000),
    });
    const sessions = createSessionService({
      stores,
      clock,
      revocations,
      events,
      refreshTtlMs: config.refreshTtlMs,
      sessionMaxAgeMs: config.sessionMaxAgeMs,
      maxSessionsPerUser: config.maxSessionsPerUser,
    });
    const refresh = createRefresh({
      stores,
      tokens,
      revocations,
      events,
      clock,
      sealer: createSealer(config.secret, 'refresh-grace'),
      limiter: hotState.rateLimiter('refresh', config.refreshRateLimit.points, config.refreshRateLimit.windowMs / 1000),
      refreshTtlMs: config.refreshTtlMs,
      reuseGraceMs: config.refreshReuseGraceMs,
      binding: config.sessionBinding,
    });
    const protection = createLoginProtection({ hotState, clock, events, config, users: stores.users });
    const apiKeys = createApiKeyService({
      stores,
      events,
      clock,
      revocations,
      limiter: hotState.rateLimiter('api-key', config.apiKeyRateLimit.points, config.apiKeyRateLimit.windowMs / 1000),
      observe: (outcome) => metrics.observeApiKeyVerification(outcome),
      onError: (error) => logger?.warn({ err: error }, 'API key last-use write failed'),
    });
    const userAdmin = createUserAdmin({ stores, users, revocations, protection, events, clock, apiKeys });
    const ipBlocks = createIpBlocks({ hotState, events, clock, durationMs: config.ipBlockMs, exempt: config.detectionExempt });
    const incidents = createIncidentService({ stores, events, clock, ipBlocks });
    const ipRules = createIpRules({ stores, events, clock, incidents, ipBlocks, onError: (error) => logger?.warn({ err: error }, 'IP rule reload failed') });
    const chainAlarm = createChainAlarm({ incidents, events, clock, logger });
    const detection = createDetector({ events, hotState, incidents, ipBlocks, stores, logger });
    const stats = createStatsService({
      events,
      hotState,
      stores,
      revocations,
      incidents,
      clock,
      sessionIdleMs: config.refreshTtlMs,
      databaseKind: db.kind,
    });
    const passwordReset = createPasswordReset({
      stores,
      apiKeys,
      outbox: stores.outbox,
      transport: createMailTransport(config, logger, () => clock.now()),
      sealer: createSealer(config.secret, 'outbox'),
      hasher,
      policy,
      protection,
      revocations,
      events,
      clock,
      limiters: {
        account: hotState.rateLimiter('reset', config.resetRateLimit.points, config.resetRateLimit.windowMs / 1000),
        network: hotState.rateLimiter('reset-network', config.resetNetworkRateLimit.points, config.resetNetworkRateLimit.windowMs / 1000),
        mails: hotState.rateLimiter('reset-mail', config.resetMailRateLimit.points, config.resetMailRateLimit.windowMs / 1000),
      },
      secret: config.secret,
      ...(logger ? { logger } : {}),
    });
    if (config.bootstrapAdmin) await bootstrap(users, config.bootstrapAdmin, logger);

    await ipRules.start();
    const background = startBackground({ config, clock, logger, stores, hotState, events, keyRing, keyRotation, keys, passwordReset, chainAlarm });
    const hot = hotState;
    const auditReader = createAuditReader({ audit: stores.audit, chain: background.auditChain });

    const revocationFeed = createRevocationFeed({ revocations });
    const tessera: Tessera = {
      config,
      clock,
      events,
      keyRing,
      keyRotation,
      tokens,
      metrics,
      verifier,
      revocations,
      revocationFeed,
      users,
      userAdmin,
      userImport: createUserImport({ stores, hasher, events, clock }),
      sessions,
      login: createLogin({ stores, hasher, sessions, tokens, clock, events, protection }),
      incidents,
      ipBlocks,
      ipRules,
      detection,
      stats,
      auditChain: background.auditChain,
      auditRetention: background.auditRetention,
      auditHead: background.auditHead,
      auditVerification: createAuditVerification({ audit: stores.audit, keys, flush: () => background.auditChain.flush(), now: () => clock.now() }),
      rowCleanup: background.rowCleanup,
      protection,
      passwordReset,
      changePassword: createChangePassword({ stores, hasher, policy, protection, revocations, events, clock }),
      confirmPassword: createConfirmPassword({ stores, hasher, protection }),
      refresh,
      authenticate: createAuthenticate({ verifier, stores, clock }),
      introspect: createIntrospect({ verifier, sessions }),
      revokeToken: createRevokeToken({ tokens, sessions, revocations }),
      apiKeys,
      ipRateLimiter: hotState.rateLimiter('ip', config.ipRateLimit.points, config.ipRateLimit.windowMs / 1000),
      auditReader,
      async ready() {
        await stores.ping().catch((error: unknown) => {
          throw new NotReadyError('database', error);
        });
        await hot.ping().catch((error: unknown) => {
          throw new NotReadyError('redis', error);
        });
      },
      async close() {
        ipRules.stop();
        await background.stop();
        metrics.close();
        detection.stop();
        stats.stop();
        await detection.settled();
        await passwordReset.settled();
        revocationFeed.stop();
        revocations.stop();
        await hot.close();
        await stores.close();
      },
    };
    return { tessera, stores, hotState: hot };
  } catch (error) {
    metrics.close();
    await hotState?.close().catch(() => undefined);
    await db.close().catch(() => undefined);
    throw error;
  }
}

async function bootstrap(
  users: UserService,
  admin: NonNullable<Config['bootstrapAdmin']>,
  logger: Logger | undefined,
): Promise<void> {
  try {
    const created = await users.bootstrapAdmin(admin.username, admin.password);
    if (created) logger?.info({ userId: created.id, username: created.username }, 'bootstrap admin created');
  } catch (error) {
    // A bad bootstrap admin is a configuration mistake: say which setting, never its value.
    if (isAuthError(error)) throw new ConfigError([{ variable: 'TESSERA_BOOTSTRAP_ADMIN', message: error.description }]);
    throw error;
  }
}
