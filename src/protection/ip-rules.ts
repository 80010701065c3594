import { randomUUID } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import type { AuditQueue } from '../audit/store.js';
import type { Clock } from '../clock.js';
import { AuthError, isAuthError } from '../errors/auth-error.js';
import type { EventBus, EventContext } from '../events/bus.js';
import type { IncidentService } from '../incidents/service.js';
import type { Transactional } from '../store/unit-of-work.js';
import { formatRange, parseIp, parseRange, rangeContains, type IpRange } from './ip-address.js';
import type { IpBlocks } from './ip-blocks.js';
import type { IpRule, IpRuleStore } from './ip-rule-store.js';
import { networkOf } from './network.js';

/** How often each instance asks whether the rules changed (one row read). */
export const ipRulePollIntervalMs = 1000;

/** The longest note a rule keeps. */
export const maxIpRuleNoteLength = 500;

/** Rules an installation keeps at most: each request checks them, so they stay a short list. */
export const maxIpRules = 1000;

/** What GET /admin/ip-rules lists: the admins' rules and detection's automatic blocks. */
export interface IpRuleEntry {
  id: string;
  source: 'admin' | 'detection';
  action: 'allow' | 'deny';
  cidr: string;
  note: string | null;
  expiresAt: Date | null;
  createdAt: Date | null;
  createdBy: string | null;
}

export interface NewIpRule {
  action: 'allow' | 'deny';
  cidr: string;
  note?: string | null | undefined;
  expiresAt?: Date | null | undefined;
}

export interface IpRules {
  /** Loads the rules and starts the 1 s poll (an unref'd timer). */
  start(): Promise<void>;
  stop(): void;
  /** Re-reads the rules when their version moved (what the timer runs; tests call it). */
  poll(): Promise<void>;
  /** Whether any deny rule is loaded: the verification fast path skips the check without one. */
  readonly hasDenyRules: boolean;
  /** Whether a deny rule in force holds `ip` (canonical spelling). In-process, no I/O. */
  isDenied(ip: string): boolean;
  /** Whether `ip` may use the admin API: no allow rule in force, or one holds it. In-process. */
  adminAllowed(ip: string): boolean;
  /** Rules in force and detection's current blocks. */
  list(): Promise<IpRuleEntry[]>;
  /** Adds a rule, audited; 400 for bad input, 409 for a duplicate or one that shuts out `callerIp`. */
  create(input: NewIpRule, by: string, callerIp: string, context?: EventContext): Promise<IpRule>;
  /** Deletes a rule or lifts a detection block, audited; 404 when there is none. */
  remove(id: string, by: string, callerIp: string, context?: EventContext): Promise<IpRuleEntry>;
}

export interface IpRulesOptions {
  stores: Transactional<{ ipRules: IpRuleStore; audit: AuditQueue }>;
  events: EventBus;
  clock: Clock;
  incidents: Pick<IncidentService, 'list'>;
  ipBlocks: Pick<IpBlocks, 'lift' | 'remainingMs'>;
  pollIntervalMs?: number;
  onError?: (error: unknown) => void;
}

const invalid = (description: string) => new AuthError('invalid_request', { description });

/** Detection's blocks live in the hot state: when it does not answer, say so (503), never a bare 500. */
const unavailable = (error: unknown): never => {
  if (isAuthError(error)) throw error;
  throw new AuthError('service_unavailable', { description: "Detection's IP blocks cannot be read now.", cause: error });
};

/** Control characters (C0, DEL, C1), line and paragraph separators, bidirectional overrides. */
const unsafeText = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/**
 * A rule's range, refused rather than guessed at: a prefix beyond the family's width
 * (`10.0.0.0/33`), bits set after the prefix (`10.0.0.1/8`: a typo for one of two different
 * things), IPv4-mapped IPv6 spellings (`::ffff:10.0.0.0/104`: write `10.0.0.0/8`), zones. A bare
 * address is a one-address range. Answers the canonical spelling.
 */
export function parseRuleCidr(text: string): { range: IpRange; cidr: string } {
  if (text.length === 0 || text.length > 64) throw invalid('cidr must be an IPv4 or IPv6 address or CIDR.');
  const address = text.split('/')[0]!;
  const value = isIP(address) === 6 ? parseIp(address) : undefined;
  if (value !== undefined && value >> 32n === 0xffffn) throw invalid('cidr is an IPv4-mapped IPv6 range; write it as IPv4 (10.0.0.0/8).');
  const range = parseRange(text);
  if ('error' in range) throw invalid(`cidr ${range.error}.`);
  return { range, cidr: formatRange(range) };
}

function parseNote(note: string | null | undefined): string | null {
  if (note === undefined || note === null) return null;
  if (note.length > maxIpRuleNoteLength) throw invalid(`note must be at most ${maxIpRuleNoteLength} characters.`);
  if (unsafeText.test(note)) throw invalid('note must not contain control characters.');
  return note;
}

const ipv4Any = parseIp('0.0.0.0')!;

/** Adds a canonical range to a BlockList; an IPv6 range over the IPv4-mapped space holds every IPv4 address too. */
function addRange(list: BlockList, cidr: string): void {
  const [address, length] = cidr.split('/') as [string, string | undefined];
  const family = address.includes(':') ? 'ipv6' : 'ipv4';
  list.addSubnet(address, length === undefined ? (family === 'ipv4' ? 32 : 128) : Number(length), family);
  const range = parseRange(cidr);
  if (family === 'ipv6' && !('error' in range) && range.prefix <= 96 && rangeContains(range, ipv4Any)) list.addSubnet('0.0.0.0', 0, 'ipv4');
}

const familyOf = (ip: string) => (ip.includes(':') ? 'ipv6' : 'ipv4');

const inForce = (rule: IpRule, now: number) => rule.expiresAt === null || rule.expiresAt.getTime() > now;

const holds = (rules: readonly IpRule[], ip: string): boolean => {
  const value = parseIp(ip);
  return value !== undefined && rules.some((rule) => {
    const range = parseRange(rule.cidr);
    return !('error' in range) && rangeContains(range, value);
  });
};

const detectionPrefix = 'detection-';
const detectionId = (network: string) => `${detectionPrefix}${Buffer.from(network).toString('base64url')}`;

/** Unresolved incidents read, at most, to find detection's blocks. */
const maxIncidentPages = 5;

/**
 * Allow and deny rules, stored in SQL and held in memory on every instance as precompiled
 * BlockLists: a deny rule refuses every route from its range; a non-empty allow list restricts
 * the admin API. Each instance polls the version row every second, so a change reaches every
 * instance within 1 s; rules past their expiry stop applying at once (checked on each call).
 */
export function createIpRules(options: IpRulesOptions): IpRules {
  const { stores, events, clock, incidents, ipBlocks } = options;
  let rules: IpRule[] = [];
  let version: number | undefined;
  let deny = new BlockList();
  let allow = new BlockList();
  let denyCount = 0;
  let allowCount = 0;
  let nextExpiry = Infinity;
  let timer: NodeJS.Timeout | undefined;
  let polling: Promise<void> | undefined;

  function compile(): void {
    const now = clock.now();
    const active = rules.filter((rule) => inForce(rule, now));
    deny = new BlockList();
    allow = new BlockList();
    denyCount = 0;
    allowCount = 0;
    nextExpiry = Infinity;
    for (const rule of active) {
      addRange(rule.action === 'deny' ? deny : allow, rule.cidr);
      if (rule.action === 'deny') denyCount += 1;
      else allowCount += 1;
      if (rule.expiresAt !== null) nextExpiry = Math.min(nextExpiry, rule.expiresAt.getTime());
    }
  }

  const current = () => {
    if (clock.now() >= nextExpiry) compile();
  };

  async function reload(force: boolean): Promise<void> {
    const seen = await stores.ipRules.version();
    if (!force && seen === version) return;
    rules = await stores.ipRules.list();
    version = seen;
    compile();
  }

  function poll(): Promise<void> {
    polling ??= reload(false).finally(() => (polling = undefined));
    return polling;
  }

  async function detectionEntries(): Promise<IpRuleEntry[]> {
    const networks = new Map<string, Date>();
    for (const status of ['open', 'acknowledged'] as const) {
      let after: { lastSeen: Date; id: string } | undefined;
      for (let page = 0; page < maxIncidentPages; page += 1) {
        const found = await incidents.list({ status, after, limit: 200 });
        for (const incident of found) {
          const blocked = incident.evidence.blocked_ip;
          if (typeof blocked === 'string' && !networks.has(blocked)) networks.set(blocked, incident.firstSeen);
        }
        if (found.length < 200) break;
        const last = found[found.length - 1]!;
        after = { lastSeen: last.lastSeen, id: last.id };
      }
    }
    const entries: IpRuleEntry[] = [];
    for (const [network] of networks) {
      const remainingMs = await ipBlocks.remainingMs(network);
      if (remainingMs === undefined) continue;
      entries.push({
        id: detectionId(network),
        source: 'detection',
        action: 'deny',
        cidr: network,
        note: null,
        expiresAt: new Date(clock.now() + remainingMs),
        createdAt: null,
        createdBy: null,
      });
    }
    return entries;
  }

  /** Refuses a change after which the caller could no longer reach the admin API. */
  function assertNotShutOut(after: readonly IpRule[], callerIp: string): void {
    const now = clock.now();
    const active = after.filter((rule) => inForce(rule, now));
    if (holds(active.filter((rule) => rule.action === 'deny'), callerIp)) {
      throw new AuthError('conflict', { description: 'This rule would refuse your own address.' });
    }
    const allowed = active.filter((rule) => rule.action === 'allow');
    if (allowed.length > 0 && !holds(allowed, callerIp)) {
      throw new AuthError('conflict', { description: 'The allow list would no longer hold your own address.' });
    }
  }

  const toEntry = (rule: IpRule): IpRuleEntry => ({ ...rule, source: 'admin' });

  return {
    async start() {
      await reload(true);
      timer = setInterval(() => {
        poll().catch((error: unknown) => options.onError?.(error));
      }, options.pollIntervalMs ?? ipRulePollIntervalMs);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
    poll,
    get hasDenyRules() {
      return denyCount > 0;
    },
    isDenied(ip) {
      if (denyCount === 0) return false;
      current();
      return denyCount > 0 && ip !== 'unknown' && deny.check(ip, familyOf(ip));
    },
    adminAllowed(ip) {
      current();
      return allowCount === 0 || (ip !== 'unknown' && allow.check(ip, familyOf(ip)));
    },
    async list() {
      const now = clock.now();
      const stored = (await stores.ipRules.list()).filter((rule) => inForce(rule, now)).map(toEntry);
      return [...stored, ...(await detectionEntries().catch(unavailable))];
    },
    async create(input, by, callerIp, context) {
      const { cidr } = parseRuleCidr(input.cidr);
      const note = parseNote(input.note);
      const expiresAt = input.expiresAt ?? null;
      if (expiresAt !== null && !(expiresAt.getTime() > clock.now())) throw invalid('expires_at must be in the future.');
      const rule: IpRule = { id: randomUUID(), action: input.action, cidr, note, expiresAt, createdAt: new Date(clock.now()), createdBy: by };
      await stores.transaction(async (tx) => {
        const now = clock.now();
        const stored = await tx.ipRules.list();
        // A rule past its expiry no longer counts: dropped here, so its range can be ruled again
        // (GET no longer lists it, so it could not be deleted by id).
        for (const expired of stored.filter((candidate) => !inForce(candidate, now))) await tx.ipRules.delete(expired.id);
        const existing = stored.filter((candidate) => inForce(candidate, now));
        if (existing.length >= maxIpRules) throw new AuthError('conflict', { description: `At most ${maxIpRules} IP rules can be kept.` });
        assertNotShutOut([...existing, rule], callerIp);
        if (!(await tx.ipRules.insert(rule))) throw new AuthError('conflict', { description: `A ${rule.action} rule for ${cidr} exists.` });
        await events.emitIn(tx, 'ip_rule.created', { ruleId: rule.id, action: rule.action, cidr, expiresAt: expiresAt?.getTime() ?? null, by }, context);
      });
      // Here at once; should the re-read fail, the next poll brings it.
      await reload(true).catch((error: unknown) => options.onError?.(error));
      return rule;
    },
    async remove(id, by, callerIp, context) {
      if (id.startsWith(detectionPrefix)) {
        const network = Buffer.from(id.slice(detectionPrefix.length), 'base64url').toString();
        const range = parseRange(network);
        // Only what detection blocks: an IPv4 address or an IPv6 /64, as GET lists it.
        if ('error' in range || networkOf(network) !== network) throw new AuthError('not_found', { description: 'No such IP rule.' });
        const remainingMs = await ipBlocks.remainingMs(network).catch(unavailable);
        const lifted = remainingMs !== undefined && (await ipBlocks.lift(network, { by }, context).catch(unavailable));
        if (!lifted) throw new AuthError('not_found', { description: 'No such IP rule.' });
        return { id, source: 'detection', action: 'deny', cidr: network, note: null, expiresAt: new Date(clock.now() + remainingMs), createdAt: null, createdBy: null };
      }
      const removed = await stores.transaction(async (tx) => {
        const existing = await tx.ipRules.list();
        const rule = existing.find((candidate) => candidate.id === id);
        if (!rule) throw new AuthError('not_found', { description: 'No such IP rule.' });
        assertNotShutOut(existing.filter((candidate) => candidate.id !== id), callerIp);
        const deleted = await tx.ipRules.delete(id);
        if (!deleted) throw new AuthError('not_found', { description: 'No such IP rule.' });
        await events.emitIn(tx, 'ip_rule.deleted', { ruleId: id, action: deleted.action, cidr: deleted.cidr, by }, context);
        return deleted;
      });
      await reload(true).catch((error: unknown) => options.onError?.(error));
      return toEntry(removed);
    },
  };
}
