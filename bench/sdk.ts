// The verification SDK's rows of `npm run bench` (part `sdk` of bench/run.ts): tessera/verify in
// this process against raw node:crypto on the same signatures, the revocation cache's lookup cost
// and memory, and the framework middlewares (bench/sdk-middleware-server.ts) against the same
// framework without them. Every figure is per round; bench/run.ts takes the medians.
//
// Run as a script (`node --expose-gc --import tsx bench/sdk.ts revocation-memory <entries>`), it
// prints the heap bytes per revocation entry: its own process, so nothing else lives in the heap.
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPublicKey, generateKeyPairSync, randomUUID, sign, verify, type JsonWebKey, type KeyObject, type VerifyKeyObjectInput } from 'node:crypto';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RevocationCache } from '../src/revocation/revocation-cache.js';
import type { AccessTokenClaims } from '../src/verify/claims.js';
import { toLowS } from '../src/verify/algorithms.js';
import { createVerifier } from '../src/verify/sdk/index.js';

export type BenchAlgorithm = 'RS256' | 'ES256' | 'EdDSA';

const issuer = 'https://auth.bench.example';
const audience = 'bench-api';
/** The permission the middleware routes require; every bench token carries it. */
export const benchPermission = 'orders:read';

/** What a verifier needs to trust the bench tokens; handed to bench/sdk-middleware-server.ts as JSON. */
export interface BenchVerifierConfig {
  issuer: string;
  audience: string;
  keys: { keys: JsonWebKey[] };
}

/** One signing key and the raw node:crypto check of its signatures (the floor). */
export interface BenchSigner {
  readonly alg: BenchAlgorithm;
  readonly verifierConfig: BenchVerifierConfig;
  /** A fresh access token of Tessera's shape (a new jti), valid for an hour. */
  token(): string;
  /** Raw node:crypto verification of a signing input and its signature, with one KeyObject made once. */
  rawVerify(input: Buffer, signature: Buffer): boolean;
}

export function createBenchSigner(alg: BenchAlgorithm): BenchSigner {
  const { privateKey, publicKey } =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : alg === 'ES256'
        ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
        : generateKeyPairSync('ed25519');
  const kid = `bench-${alg.toLowerCase()}`;
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
  // The floor's key comes from the same JWK the SDK imports, made once, as the SDK's is.
  const key: KeyObject = createPublicKey({ key: jwk, format: 'jwk' });
  const digest = alg === 'EdDSA' ? null : 'sha256';
  const verifyInput: KeyObject | VerifyKeyObjectInput = alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key;
  const header = Buffer.from(JSON.stringify({ alg, kid, typ: 'at+jwt' })).toString('base64url');
  const userId = randomUUID();
  const sessionId = randomUUID();
  return {
    alg,
    verifierConfig: { issuer, audience, keys: { keys: [jwk] } },
    token() {
      const now = Math.floor(Date.now() / 1000);
      const claims: AccessTokenClaims = {
        iss: issuer,
        aud: audience,
        sub: userId,
        client_id: 'tessera',
        iat: now,
        nbf: now,
        exp: now + 3600,
        jti: randomUUID(),
        sid: sessionId,
        roles: ['member'],
        permissions: [benchPermission, 'orders:write'],
        amr: ['pwd'],
        username: 'bench-user',
      };
      const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
      const data = Buffer.from(input);
      let signature: Buffer;
      if (alg === 'RS256') signature = sign('sha256', data, privateKey);
      else if (alg === 'ES256') signature = toLowS(sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' }));
      else signature = sign(null, data, privateKey);
      return `${input}.${signature.toString('base64url')}`;
    },
    rawVerify: (input, signature) => verify(digest, input, verifyInput, signature),
  };
}

/** The signing input and the signature of a compact JWS, decoded ahead: the floor does no parsing. */
function signedParts(token: string): [Buffer, Buffer] {
  const dot = token.lastIndexOf('.');
  return [Buffer.from(token.slice(0, dot)), Buffer.from(token.slice(dot + 1), 'base64url')];
}

export interface ThroughputRound {
  /** Tokens per second through the SDK's `verify`, each awaited before the next. */
  sdk: number;
  /** Signatures per second through raw `crypto.verify`. */
  raw: number;
  ratio: number;
}

/**
 * Row 1: `count` distinct tokens, each new to the verifier (a fresh one per pass, so its token
 * cache starts empty), against raw crypto.verify over the same signing inputs. A round is
 * `passes` passes of each, interleaved; one warm-up round first, not returned.
 */
export async function distinctTokenRounds(alg: BenchAlgorithm, options: { count: number; passes: number; rounds: number }): Promise<ThroughputRound[]> {
  const signer = createBenchSigner(alg);
  const tokens = Array.from({ length: options.count }, () => signer.token());
  const parts = tokens.map(signedParts);
  const sdkPass = async () => {
    const verifier = createVerifier(signer.verifierConfig);
    const started = performance.now();
    for (const token of tokens) await verifier.verify(token);
    return performance.now() - started;
  };
  const rawPass = () => {
    const started = performance.now();
    for (const [input, signature] of parts) if (!signer.rawVerify(input, signature)) throw new Error(`${alg}: raw verify refused a bench token`);
    return performance.now() - started;
  };
  const results: ThroughputRound[] = [];
  for (let round = -1; round < options.rounds; round += 1) {
    let sdkMs = 0;
    let rawMs = 0;
    for (let pass = 0; pass < options.passes; pass += 1) {
      // Alternating which goes first, so a drift in the machine's speed falls on both.
      if (pass % 2 === 0) {
        sdkMs += await sdkPass();
        rawMs += rawPass();
      } else {
        rawMs += rawPass();
        sdkMs += await sdkPass();
      }
    }
    const n = options.count * options.passes;
    const sdk = (n / sdkMs) * 1000;
    const raw = (n / rawMs) * 1000;
    if (round >= 0) results.push({ sdk, raw, ratio: sdk / raw });
  }
  return results;
}

/** Calls `step` for `ms` milliseconds (the clock read every 64 calls); returns calls per second. */
async function rateOf(step: () => unknown, ms: number): Promise<number> {
  const started = performance.now();
  const deadline = started + ms;
  let count = 0;
  let now = started;
  while (now < deadline) {
    for (let i = 0; i < 64; i += 1) await step();
    count += 64;
    now = performance.now();
  }
  return (count / (now - started)) * 1000;
}

/**
 * Row 2: one token verified again and again by one verifier (after the first, a cache hit and a
 * revocation check, once the SDK caches) against raw crypto.verify of that token's signature,
 * `ms` each per round, interleaved; one warm-up round first.
 */
/**
 * A loopback revocation stream (GET /auth/revocations' wire form) holding `entries` revocations
 * of other tokens, then silent but for heartbeats: what a subscribed verifier checks each token against.
 */
async function revocationStream(entries: number): Promise<{ url: string; close(): Promise<void> }> {
  const now = Date.now();
  const frames: string[] = [];
  for (let at = 0; at < entries; at += 1000) {
    const chunk = Array.from({ length: Math.min(1000, entries - at) }, (_, i) => ({ kind: (['jti', 'sid', 'disabled'] as const)[i % 3], subject: flatUuid(), expires_at: now + 3_600_000 }));
    frames.push(`${at === 0 ? 'id:\n' : ''}event: snapshot\ndata: ${JSON.stringify({ entries: chunk })}\n\n`);
  }
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    for (const frame of frames) response.write(frame);
    response.write(`id: 0123456789ab-1\nevent: ready\ndata: ${JSON.stringify({ heartbeat_ms: 15_000, at: now, snapshot: true })}\n\n`);
    const heartbeat = setInterval(() => response.write(': heartbeat\n\n'), 10_000);
    response.on('close', () => clearInterval(heartbeat));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/auth/revocations`,
    close: () => new Promise((done) => (server.closeAllConnections(), server.close(() => done()))),
  };
}

export const repeatedRevocationEntries = 100_000;

export async function repeatedTokenRounds(alg: BenchAlgorithm, options: { ms: number; rounds: number }): Promise<ThroughputRound[]> {
  const signer = createBenchSigner(alg);
  const token = signer.token();
  const [input, signature] = signedParts(token);
  const stream = await revocationStream(repeatedRevocationEntries);
  const verifier = createVerifier({ ...signer.verifierConfig, revocation: { url: stream.url, apiKey: 'bench' } });
  try {
    await verifier.revocation!.ready;
    if (verifier.revocation!.size !== repeatedRevocationEntries) throw new Error(`the verifier holds ${verifier.revocation!.size} revocations`);
    await verifier.verify(token);
    const results: ThroughputRound[] = [];
    for (let round = -1; round < options.rounds; round += 1) {
      const ms = round < 0 ? Math.min(200, options.ms) : options.ms;
      const sdk = await rateOf(() => verifier.verify(token), ms);
      const raw = await rateOf(() => signer.rawVerify(input, signature), ms);
      if (round >= 0) results.push({ sdk, raw, ratio: sdk / raw });
    }
    return results;
  } finally {
    verifier.close();
    await stream.close();
  }
}

/**
 * A UUID as one flat string, as the subjects of revocations and tokens are once parsed from JSON:
 * randomUUID() builds its result by concatenation, a rope several times larger in the heap.
 */
function flatUuid(): string {
  return Buffer.from(randomUUID(), 'latin1').toString('latin1');
}

const revocationMix = [
  ['jti', 0.4],
  ['sid', 0.3],
  ['user', 0.2],
  ['disabled', 0.1],
] as const;

/** A RevocationCache of `entries` revocations in the mix above, each in force for 15 minutes; their subjects by kind. */
function filledRevocationCache(entries: number, now: number): { cache: RevocationCache; subjects: Record<(typeof revocationMix)[number][0], string[]> } {
  const cache = new RevocationCache();
  const subjects = { jti: [] as string[], sid: [] as string[], user: [] as string[], disabled: [] as string[] };
  for (const [kind, share] of revocationMix) {
    for (let i = 0; i < Math.round(entries * share); i += 1) {
      const subject = flatUuid();
      subjects[kind].push(subject);
      // A revoke-all a minute ago: tokens issued before it are revoked, later ones are not.
      cache.apply({ type: 'revoked', revocation: { kind, subject, at: kind === 'user' ? now - 60_000 : now, expiresAt: now + 15 * 60_000 } });
    }
  }
  return { cache, subjects };
}

export interface RevocationLookupRound {
  /** ns per `check` of a token nothing revokes (every map looked at). */
  notRevokedNs: number;
  /** ns per `check` of a revoked token (by jti, sid, disabled user and revoke-all in turn). */
  revokedNs: number;
}

/**
 * Row 3: `check(claims, now)` on a RevocationCache holding `entries` revocations, over 1024
 * different tokens of each sort (so the lookups are not of one key), `calls` calls per sort a round.
 */
export function revocationLookupRounds(options: { entries: number; calls: number; rounds: number }): RevocationLookupRound[] {
  const now = Date.now();
  const { cache, subjects } = filledRevocationCache(options.entries, now);
  const nowSeconds = Math.floor(now / 1000);
  const claims = (overrides: Partial<AccessTokenClaims>): AccessTokenClaims => ({
    iss: issuer,
    aud: audience,
    sub: flatUuid(),
    client_id: 'tessera',
    iat: nowSeconds,
    nbf: nowSeconds,
    exp: nowSeconds + 900,
    jti: flatUuid(),
    sid: flatUuid(),
    roles: [],
    permissions: [benchPermission],
    amr: ['pwd'],
    ...overrides,
  });
  const pick = (list: string[], i: number) => list[(i * 7919) % list.length]!;
  // Half of the live tokens belong to a user with a revoke-all older than the token: the last check runs and lets them through.
  const live = Array.from({ length: 1024 }, (_, i) => claims(i % 2 === 0 ? { sub: pick(subjects.user, i) } : {}));
  const revoked = Array.from({ length: 1024 }, (_, i) => {
    switch (i % 4) {
      case 0:
        return claims({ jti: pick(subjects.jti, i) });
      case 1:
        return claims({ sid: pick(subjects.sid, i) });
      case 2:
        return claims({ sub: pick(subjects.disabled, i) });
      default:
        return claims({ sub: pick(subjects.user, i), iat: nowSeconds - 120 });
    }
  });
  const nsPerCheck = (tokens: AccessTokenClaims[], expectRevoked: boolean) => {
    let revokedCount = 0;
    const started = performance.now();
    for (let i = 0; i < options.calls; i += 1) if (cache.check(tokens[i & 1023]!, now) !== undefined) revokedCount += 1;
    const ns = ((performance.now() - started) * 1e6) / options.calls;
    // Also keeps the calls from being optimized away.
    if (revokedCount !== (expectRevoked ? options.calls : 0)) throw new Error(`revocation lookup: ${revokedCount} of ${options.calls} revoked, expected ${expectRevoked ? 'all' : 'none'}`);
    return ns;
  };
  const results: RevocationLookupRound[] = [];
  for (let round = -1; round < options.rounds; round += 1) {
    const notRevokedNs = nsPerCheck(live, false);
    const revokedNs = nsPerCheck(revoked, true);
    if (round >= 0) results.push({ notRevokedNs, revokedNs });
  }
  return results;
}

/**
 * Row 3, memory: heap bytes per entry of a RevocationCache of `entries` revocations (its subject
 * strings included), in a child process started with --expose-gc: heapUsed after two full
 * collections, before and after filling, over the entries.
 */
export function revocationBytesPerEntry(entries: number): number {
  const output = execFileSync(
    process.execPath,
    ['--expose-gc', '--import', import.meta.resolve('tsx'), fileURLToPath(import.meta.url), 'revocation-memory', String(entries)],
    { encoding: 'utf8' },
  );
  const match = /^bytesPerEntry (\d+(\.\d+)?)$/m.exec(output);
  if (!match) throw new Error(`bench/sdk.ts revocation-memory printed no figure:\n${output}`);
  return Number(match[1]);
}

function measureRevocationMemory(entries: number): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('revocation-memory needs node --expose-gc');
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  const { cache } = filledRevocationCache(entries, Date.now());
  gc();
  gc();
  const after = process.memoryUsage().heapUsed;
  if (cache.size !== entries) throw new Error(`revocation-memory: ${cache.size} entries held, expected ${entries}`);
  // The subject lists are garbage by now; the cache holds its own references to the strings.
  process.stdout.write(`bytesPerEntry ${((after - before) / entries).toFixed(1)}\n`);
}

export type Framework = 'express' | 'fastify' | 'hono';
export const frameworks: readonly Framework[] = ['express', 'fastify', 'hono'];

/** What bench/run.ts lends this module to run the middleware servers: its process starter and wrk. */
export interface LoadTools {
  startProcess(script: string, args: string[], env?: Record<string, string>): Promise<{ port: number; pid: number; stop(): Promise<void> }>;
  wrk(target: { port: number; pid: number }, path: string, options?: { headers?: Record<string, string>; seconds?: number }): { requestsPerSecond: number; cpuPerRequest: number; requests: number };
}

export interface MiddlewareRound {
  framework: Framework;
  bare: number;
  auth: number;
  ratio: number;
  /** Server CPU per request, µs. */
  bareCpu: number;
  authCpu: number;
}

type LoadResult = ReturnType<LoadTools['wrk']>;

/** Runs of one variant taken together: their mean rate and their CPU per request over all their requests. */
function combined(runs: LoadResult[]): { requestsPerSecond: number; cpuPerRequest: number } {
  const requests = runs.reduce((sum, run) => sum + run.requests, 0);
  return {
    requestsPerSecond: runs.reduce((sum, run) => sum + run.requestsPerSecond, 0) / runs.length,
    cpuPerRequest: runs.reduce((sum, run) => sum + run.cpuPerRequest * run.requests, 0) / requests,
  };
}

/**
 * Row 4: per framework, a bare route and the same route behind `tesseraAuth` (one repeated valid
 * token), each server in its own process, loaded one at a time by wrk. Within a round each
 * framework runs bare, auth, auth, bare for half the seconds each (whole seconds, rounded down), so a drift in the shared
 * machine's speed over the round falls on both alike. A 1 s warm-up of each first.
 */
export async function middlewareRounds(tools: LoadTools, options: { rounds: number; seconds: number }): Promise<MiddlewareRound[]> {
  const signer = createBenchSigner('RS256');
  const headers = { authorization: `Bearer ${signer.token()}` };
  const env = { BENCH_SDK_VERIFIER: JSON.stringify(signer.verifierConfig) };
  const servers: Awaited<ReturnType<LoadTools['startProcess']>>[] = [];
  try {
    const pairs = [];
    for (const framework of frameworks) {
      const bare = await tools.startProcess('sdk-middleware-server.ts', [framework, 'bare']);
      servers.push(bare);
      const auth = await tools.startProcess('sdk-middleware-server.ts', [framework, 'auth'], env);
      servers.push(auth);
      pairs.push({ framework, bare, auth });
    }
    for (const { bare, auth } of pairs) {
      tools.wrk(bare, '/bench/bare', { seconds: 1 });
      tools.wrk(auth, '/bench/bare', { headers, seconds: 1 });
    }
    const results: MiddlewareRound[] = [];
    for (let round = 0; round < options.rounds; round += 1) {
      for (const { framework, bare, auth } of pairs) {
        // wrk takes whole seconds.
        const half = Math.max(1, Math.floor(options.seconds / 2));
        const first = tools.wrk(bare, '/bench/bare', { seconds: half });
        const authRuns = [tools.wrk(auth, '/bench/bare', { headers, seconds: half }), tools.wrk(auth, '/bench/bare', { headers, seconds: half })];
        const withoutAuth = combined([first, tools.wrk(bare, '/bench/bare', { seconds: half })]);
        const withAuth = combined(authRuns);
        results.push({
          framework,
          bare: withoutAuth.requestsPerSecond,
          auth: withAuth.requestsPerSecond,
          ratio: withAuth.requestsPerSecond / withoutAuth.requestsPerSecond,
          bareCpu: withoutAuth.cpuPerRequest,
          authCpu: withAuth.cpuPerRequest,
        });
      }
    }
    return results;
  } finally {
    for (const server of servers) await server.stop();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url) && process.argv[2] === 'revocation-memory') {
  measureRevocationMemory(Number(process.argv[3] ?? 100_000));
}
