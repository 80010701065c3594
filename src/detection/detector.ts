import { createHash, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { EventBus, SecurityEvent } from '../events/bus.js';
import type { IncidentTrigger } from '../incidents/incident.js';
import type { IncidentService } from '../incidents/service.js';
import type { IpBlocks } from '../protection/ip-blocks.js';
import { networkOf } from '../protection/network.js';
import type { SessionStore } from '../sessions/store.js';
import type { SlidingWindows } from '../store/hot/ports.js';

const minute = 60_000;

/** Every rule's threshold and window (docs/security.md, "Detection"). */
export const detectionRules = {
  /** Failed sign-ins for one account, from any addresses. Blocks the address when it is one. */
  bruteForce: { failures: 10, windowMs: 10 * minute },
  /** Distinct accounts with failed sign-ins from one address. Blocks it. */
  passwordSpraying: { accounts: 10, windowMs: 10 * minute },
  /** Distinct addresses with failed sign-ins for one account. Nothing to block: too many. */
  distributedAttack: { ips: 5, windowMs: 10 * minute },
  /** Tokens with a bad signature, an unknown key or a forged header from one address. Blocks it. */
  forgedTokens: { tokens: 5, windowMs: 10 * minute },
  /** How long a user's addresses and devices are remembered as known. */
  knownDevices: { windowMs: 90 * 24 * 60 * minute },
} as const;

/**
 * Where access tokens are checked for other services (forward-auth proxies, gateways, backends):
 * the caller's address is theirs, not the client's, so a forgery seen there raises an incident
 * but never blocks the address, or anyone could get a proxy blocked with five garbage tokens.
 */
const verificationEndpoints: ReadonlySet<string> = new Set(['/auth/verify', '/auth/introspect']);

/**
 * Failure reasons that tested a password: a locked name tests nothing. A disabled account counts
 * like the others: its answer is the same 401, so its incidents (in /metrics) must be too.
 */
const guessReasons: ReadonlySet<string> = new Set(['unknown_user', 'wrong_password', 'user_disabled']);

/** A rule that keeps firing updates its incident at most this often (per instance). */
const raiseIntervalMs = 10_000;

export interface Detector {
  /** Resolves when every event heard so far has been evaluated (tests, shutdown). */
  settled(): Promise<void>;
  stop(): void;
}

export interface DetectorOptions {
  events: EventBus;
  hotState: SlidingWindows;
  incidents: IncidentService;
  ipBlocks: IpBlocks;
  stores: { sessions: Pick<SessionStore, 'findById'> };
  logger?: Logger | undefined;
}

function windowName(minutes: number): string {
  return minutes >= 1440 ? `${minutes / 1440}d` : `${minutes}m`;
}

/** A short digest, so attacker-chosen text never becomes a hot-state member as it is. */
function digest(value: string): string {
  return createHash('sha256').update(value).digest('base64url').slice(0, 22);
}

/**
 * Detection (SPEC §4): rules over sliding windows kept in the hot state, so every instance adds
 * to the same counts. Each rule raises an incident (one unresolved per type and subject, updated
 * on repeats) and may block the source address. It listens to the event bus after each event is
 * recorded, so it never delays or fails the request that caused it.
 */
export function createDetector(options: DetectorOptions): Detector {
  const { hotState, incidents, ipBlocks, stores, logger } = options;
  const pending = new Set<Promise<void>>();
  const lastRaised = new Map<string, number>();

  async function raise(event: SecurityEvent, trigger: Omit<IncidentTrigger, 'at'>, blockIp?: string): Promise<void> {
    // A flood keeps a rule firing on every request: one incident update per interval is evidence
    // enough, and keeps the flood from turning into database writes.
    const key = `${trigger.type}|${trigger.subject}`;
    const last = lastRaised.get(key);
    if (last !== undefined && event.at - last < raiseIntervalMs && event.at >= last) return;
    if (lastRaised.size >= 10_000) lastRaised.clear();
    lastRaised.set(key, event.at);
    // Blocked first, so the incident can name the network it blocked: resolving it lifts that block.
    const blocked = blockIp ? await ipBlocks.block(blockIp, trigger.type, event.context) : undefined;
    const evidence = blocked ? { ...trigger.evidence, blocked_ip: blocked } : trigger.evidence;
    await incidents.raise({ ...trigger, evidence, at: new Date(event.at) }, event.context);
  }

  /** Counts one occurrence (a unique member) in a window. */
  const occurrence = (key: string, event: SecurityEvent, windowMs: number) => hotState.windowAdd(key, `${event.at}:${randomUUID()}`, event.at, windowMs);

  async function onLoginFailed(event: Extract<SecurityEvent, { type: 'login.failed' }>): Promise<void> {
    if (!guessReasons.has(event.payload.reason)) return;
    const ip = networkOf(event.context.ip ?? 'unknown');
    // Per identifier as typed (the keyed digest the lockout counts under), never per account:
    // counting an account's username and e-mail together, or naming it in the subject, would
    // make incidents (and their counter in /metrics) tell which names exist (issue 10, finding 6).
    // The subject never holds the typed name (a user may have typed a password there).
    const account = `name:${event.context.accountKey ?? 'unknown'}`;
    const subject = `account:${digest(account)}`;
    const owner = event.payload.userId ? { user_id: event.payload.userId } : {};
    const { bruteForce, passwordSpraying, distributedAttack } = detectionRules;

    const failures = await occurrence(`det:bf:${account}`, event, bruteForce.windowMs);
    const ips = await hotState.windowAdd(`det:dist:${account}`, ip, event.at, distributedAttack.windowMs);
    const accounts = await hotState.windowAdd(`det:spray:${ip}`, digest(account), event.at, passwordSpraying.windowMs);

    if (failures.size >= bruteForce.failures) {
      await raise(
        event,
        {
          type: 'brute_force',
          severity: 'high',
          subject,
          evidence: { ...owner, failures: failures.size, distinct_ips: ips.size, last_ip: ip, window: windowName(bruteForce.windowMs / minute) },
        },
        ips.size === 1 ? ip : undefined,
      );
    }
    if (ips.size >= distributedAttack.ips) {
      await raise(event, {
        type: 'distributed_attack',
        severity: 'high',
        subject,
        evidence: { ...owner, distinct_ips: ips.size, last_ip: ip, window: windowName(distributedAttack.windowMs / minute) },
      });
    }
    if (accounts.size >= passwordSpraying.accounts) {
      await raise(
        event,
        {
          type: 'password_spraying',
          severity: 'high',
          subject: `ip:${ip}`,
          evidence: { accounts: accounts.size, ip, window: windowName(passwordSpraying.windowMs / minute) },
        },
        ip,
      );
    }
  }

  async function onTokenRejected(event: Extract<SecurityEvent, { type: 'token.rejected' }>): Promise<void> {
    const ip = networkOf(event.context.ip ?? 'unknown');
    const { forgedTokens } = detectionRules;
    const tokens = await occurrence(`det:forged:${ip}`, event, forgedTokens.windowMs);
    if (tokens.size < forgedTokens.tokens) return;
    await raise(
      event,
      {
        type: 'forged_tokens',
        severity: 'high',
        subject: `ip:${ip}`,
        evidence: { tokens: tokens.size, ip, last_reason: event.payload.reason, last_endpoint: event.payload.endpoint, window: windowName(forgedTokens.windowMs / minute) },
      },
      verificationEndpoints.has(event.payload.endpoint) ? undefined : ip,
    );
  }

  async function onLoginSucceeded(event: Extract<SecurityEvent, { type: 'login.succeeded' }>): Promise<void> {
    const { userId, sessionId } = event.payload;
    const session = await stores.sessions.findById(sessionId);
    if (!session) return;
    const { windowMs } = detectionRules.knownDevices;
    const device = digest(session.deviceFingerprint ?? session.userAgent ?? 'none');
    // By network: IPv6 privacy addresses change daily within the /64 of one household.
    const ips = await hotState.windowAdd(`det:known-ip:${userId}`, networkOf(session.ip ?? 'unknown'), event.at, windowMs);
    const devices = await hotState.windowAdd(`det:known-device:${userId}`, device, event.at, windowMs);
    // The first sign-in we know of has nothing to compare with.
    const newIp = ips.added && ips.size > 1;
    const newDevice = devices.added && devices.size > 1;
    if (!newIp && !newDevice) return;
    await raise(event, {
      type: 'new_device',
      severity: 'low',
      subject: `user:${userId}`,
      evidence: { session_id: sessionId, ip: session.ip, new_ip: newIp, new_device: newDevice, device_name: session.deviceName },
    });
  }

  async function onRefreshReused(event: Extract<SecurityEvent, { type: 'refresh_token.reused' }>): Promise<void> {
    const { userId, sessionId } = event.payload;
    await raise(event, {
      type: 'refresh_token_reuse',
      severity: 'high',
      subject: `session:${sessionId}`,
      evidence: { user_id: userId, session_id: sessionId, ip: event.context.ip ?? null },
    });
  }

  async function evaluate(event: SecurityEvent): Promise<void> {
    switch (event.type) {
      case 'login.failed':
        return onLoginFailed(event);
      case 'login.succeeded':
        return onLoginSucceeded(event);
      case 'token.rejected':
        return onTokenRejected(event);
      case 'refresh_token.reused':
        return onRefreshReused(event);
      default:
        return undefined;
    }
  }

  const unsubscribe = options.events.subscribe((event) => {
    const work = evaluate(event)
      .catch((error: unknown) => logger?.error({ err: error, event: event.type }, 'detection failed'))
      .finally(() => pending.delete(work));
    pending.add(work);
  });

  return {
    async settled() {
      while (pending.size > 0) await Promise.all([...pending]);
    },
    stop: unsubscribe,
  };
}
