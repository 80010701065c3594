import type { VerifyClock } from '../claims.js';
import type { JwsAlgorithm } from '../jws-structure.js';
import type { CryptoBackend, SdkKeySet } from './backend.js';
import { VerifyError } from './errors.js';
import { KeySetError } from './jwk-rules.js';

type KeySet = SdkKeySet;

/** Larger JWKS bodies are refused while streaming, before parsing. */
export const maxJwksBytes = 1024 * 1024;
export const defaultFetchTimeoutMs = 5000;
/** The least time between two fetches of one key set, whatever triggers them. */
export const refetchCooldownMs = 30_000;
/** Without `Cache-Control: max-age`, a key set is fresh this long. */
export const defaultMaxAgeMs = 5 * 60_000;
export const minMaxAgeMs = 60_000;
export const maxMaxAgeMs = 24 * 60 * 60_000;

export interface RemoteKeySetOptions {
  uri: URL;
  algorithms: readonly JwsAlgorithm[];
  clock: VerifyClock;
  /** Aborts a fetch (headers and body) after this long (default 5 s). */
  fetchTimeoutMs?: number;
  /** Imports the fetched keys (node:crypto or Web Crypto). */
  backend: CryptoBackend;
}

export interface RemoteKeySet {
  /** The last good key set, if any; synchronous, for the verification fast path. */
  readonly current: KeySet | undefined;
  /** Whether a fetch is due: no set loaded yet, or the loaded one is past its max-age. */
  due(): boolean;
  /**
   * Joins the fetch under way, or starts one when the cool-down since the last has passed;
   * undefined when neither. The promise resolves to the new set, or to the last good one when
   * the fetch fails, and rejects with VerifyError `jwks_unavailable` when there is none.
   */
  refresh(): Promise<KeySet> | undefined;
  /** The error for a verification that needs keys while none could ever be loaded. */
  unavailable(): VerifyError;
  /** Whether the last fetch failed (the last good set, if any, still serves): discovery then looks again. */
  readonly lastFetchFailed: boolean;
}

/** Whether a URL names this machine: `localhost`, `127.x.x.x` or `[::1]`. */
export function isLoopback(uri: URL): boolean {
  return uri.hostname === 'localhost' || uri.hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(uri.hostname);
}

/**
 * A jwksUri may be `https:`, or `http:` on a loopback address only (a sidecar or a test): keys
 * fetched over the network in clear could be swapped by anyone on the path.
 */
export function parseJwksUri(value: unknown): URL {
  let uri: URL;
  try {
    uri = new URL(String(value));
  } catch {
    throw new VerifyError('invalid_options', 'jwksUri is not a URL');
  }
  if (uri.protocol !== 'https:' && !(uri.protocol === 'http:' && isLoopback(uri))) {
    throw new VerifyError('invalid_options', 'jwksUri must be https: (or http: on a loopback address)');
  }
  if (uri.username || uri.password) throw new VerifyError('invalid_options', 'jwksUri must not carry credentials');
  return uri;
}

/**
 * `Cache-Control: max-age` in milliseconds, bounded to 1 min–24 h; the default without one.
 * `no-store` and `no-cache` ask for the shortest caching allowed: refetching per token would
 * hand the issuer's availability to every request.
 */
export function maxAgeOf(cacheControl: string | null): number {
  if (cacheControl !== null && /(?:^|[,\s])no-(?:store|cache)\b/i.test(cacheControl)) return minMaxAgeMs;
  const match = cacheControl === null ? null : /(?:^|[,\s])max-age\s*=\s*"?(\d+)"?/i.exec(cacheControl);
  if (!match) return defaultMaxAgeMs;
  return Math.min(maxMaxAgeMs, Math.max(minMaxAgeMs, Number(match[1]) * 1000));
}

async function readCapped(response: Response): Promise<string> {
  const declared = Number(response.headers.get('content-length'));
  if (declared > maxJwksBytes) throw new KeySetError('body larger than 1 MiB');
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxJwksBytes) {
      await reader.cancel().catch(() => undefined);
      throw new KeySetError('body larger than 1 MiB');
    }
    chunks.push(value);
  }
  const body = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.byteLength;
  }
  return new TextDecoder().decode(body);
}

/**
 * One GET of a JSON document the verifier relies on (a JWKS, an OpenID discovery document), bounded
 * in time (headers and body) and size, without redirects, 200 only. Throws KeySetError naming what
 * went wrong, never a value from the body.
 */
export async function fetchJson(uri: URL, timeoutMs: number): Promise<{ document: unknown; headers: Headers }> {
  let response: Response;
  try {
    // No redirects: a redirect could lead off https: or to another host's keys.
    response = await fetch(uri, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error', headers: { accept: 'application/json' } });
  } catch (error) {
    throw new KeySetError(error instanceof Error && error.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : 'the request failed');
  }
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => undefined);
    throw new KeySetError(`answered ${response.status}`);
  }
  let text: string;
  try {
    text = await readCapped(response);
  } catch (error) {
    if (error instanceof KeySetError) throw error;
    throw new KeySetError(error instanceof Error && error.name === 'TimeoutError' ? `no complete body within ${timeoutMs} ms` : 'the body could not be read');
  }
  try {
    return { document: JSON.parse(text), headers: response.headers };
  } catch {
    throw new KeySetError('the body is not JSON');
  }
}

/**
 * The key set of one issuer, fetched from its jwksUri with the global fetch: bounded in time and
 * size, cached for its max-age, refetched at most once per cool-down, and kept when a later fetch
 * fails, so verification goes on while the issuer is unreachable.
 */
export function createRemoteKeySet(options: RemoteKeySetOptions): RemoteKeySet {
  const { uri, algorithms, clock } = options;
  const timeoutMs = options.fetchTimeoutMs ?? defaultFetchTimeoutMs;
  let current: KeySet | undefined;
  let freshUntil = -Infinity;
  let lastFetchAt = -Infinity;
  let inFlight: Promise<KeySet> | undefined;

  async function load(): Promise<{ keys: KeySet; maxAgeMs: number }> {
    const { document, headers } = await fetchJson(uri, timeoutMs);
    return { keys: await options.backend.importKeySet(document, algorithms), maxAgeMs: maxAgeOf(headers.get('cache-control')) };
  }

  let lastError = 'not fetched yet';
  let lastFetchFailed = false;

  async function fetchOnce(): Promise<KeySet> {
    lastFetchAt = clock.now();
    try {
      const { keys, maxAgeMs } = await load();
      current = keys;
      freshUntil = clock.now() + maxAgeMs;
      lastFetchFailed = false;
      return keys;
    } catch (error) {
      lastFetchFailed = true;
      lastError = error instanceof KeySetError ? error.message : 'unexpected failure';
      if (current) return current;
      throw unavailable();
    }
  }

  function unavailable(): VerifyError {
    return new VerifyError('jwks_unavailable', `the key set at ${uri.origin}${uri.pathname} could not be loaded: ${lastError}`);
  }

  return {
    get current() {
      return current;
    },
    get lastFetchFailed() {
      return lastFetchFailed;
    },
    due() {
      return current === undefined || clock.now() >= freshUntil;
    },
    refresh() {
      if (inFlight) return inFlight;
      if (clock.now() - lastFetchAt < refetchCooldownMs) return undefined;
      inFlight = fetchOnce().finally(() => {
        inFlight = undefined;
      });
      return inFlight;
    },
    unavailable,
  };
}
