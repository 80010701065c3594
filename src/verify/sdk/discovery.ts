import type { JwsAlgorithm } from '../algorithms.js';
import type { VerifyClock } from '../claims.js';
import { VerifyError } from './errors.js';
import { createRemoteKeySet, fetchJson, isLoopback, refetchCooldownMs, type RemoteKeySet } from './jwks.js';
import type { CryptoBackend, SdkKeySet as KeySet } from './backend.js';
import { KeySetError } from './jwk-rules.js';

/** A discovery document is trusted this long, then fetched again at the next verification that needs keys. */
export const discoveryMaxAgeMs = 60 * 60_000;

/**
 * OpenID Connect Discovery 1.0 §4: `/.well-known/openid-configuration` appended to the issuer,
 * without its trailing `/` (Auth0's issuers end in one). The issuer must be `https:`, or `http:`
 * on a loopback address, with no credentials, query or fragment.
 */
export function discoveryUrl(issuer: string): URL {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new VerifyError('invalid_options', 'an issuer to discover must be a URL');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url))) {
    throw new VerifyError('invalid_options', 'an issuer to discover must be https: (or http: on a loopback address)');
  }
  if (url.username || url.password || url.search || url.hash) throw new VerifyError('invalid_options', 'an issuer to discover must carry no credentials, query or fragment');
  return new URL(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
}

/**
 * The `jwks_uri` of a discovery document, once the document proves to be the issuer's own:
 * - its `issuer` is the configured one exactly (§4.3), so a document served for another issuer
 *   (a shared host, a mix-up) is refused;
 * - its `jwks_uri` is on the issuer's own origin (same scheme, host and port; so `https:` when
 *   the issuer is). Whoever can change the document (a cache, a misrouted path, a compromised
 *   static file) could otherwise send the verifier to keys of their own, and every token they sign
 *   would pass. A provider whose keys live elsewhere is configured with `jwksUri` explicitly.
 */
export function jwksUriOf(document: unknown, issuer: string): URL {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) throw new KeySetError('the discovery document is not a JSON object');
  const { issuer: named, jwks_uri: jwksUri } = document as Record<string, unknown>;
  if (named !== issuer) throw new KeySetError('the discovery document names another issuer');
  if (typeof jwksUri !== 'string') throw new KeySetError('the discovery document has no jwks_uri');
  let uri: URL;
  try {
    uri = new URL(jwksUri);
  } catch {
    throw new KeySetError('the jwks_uri is not a URL');
  }
  const issuerUrl = new URL(issuer);
  if (uri.protocol !== issuerUrl.protocol) throw new KeySetError(`the jwks_uri is not ${issuerUrl.protocol} like the issuer`);
  if (uri.origin !== issuerUrl.origin) throw new KeySetError("the jwks_uri is not on the issuer's origin");
  if (uri.username || uri.password) throw new KeySetError('the jwks_uri carries credentials');
  return uri;
}

export interface DiscoveredKeySetOptions {
  issuer: string;
  algorithms: readonly JwsAlgorithm[];
  clock: VerifyClock;
  fetchTimeoutMs: number;
  backend: CryptoBackend;
}

/**
 * An issuer's key set found through its discovery document: the document is fetched at the first
 * refresh, kept for an hour, fetched again sooner when the key set's fetch fails (the keys may
 * have moved), and at most once per cool-down. The key set is jwks.ts's, with its own cache rules.
 * A failed document fetch keeps the last good document and keys; with none, `jwks_unavailable`.
 * Behaves as a RemoteKeySet, so the verifier treats every fetched source alike.
 */
export function createDiscoveredKeySet(options: DiscoveredKeySetOptions): RemoteKeySet {
  const { issuer, algorithms, clock, fetchTimeoutMs, backend } = options;
  const url = discoveryUrl(issuer);
  let keySet: (RemoteKeySet & { readonly uri: URL }) | undefined;
  /** The set of a jwks_uri the document no longer names, serving until the new one loads. */
  let retired: RemoteKeySet | undefined;
  let documentFreshUntil = -Infinity;
  let lastDocumentFetchAt = -Infinity;
  let lastError = 'not fetched yet';
  let inFlight: Promise<KeySet> | undefined;

  const current = (): KeySet | undefined => keySet?.current ?? retired?.current;

  async function loadDocument(): Promise<void> {
    lastDocumentFetchAt = clock.now();
    let uri: URL;
    try {
      const { document } = await fetchJson(url, fetchTimeoutMs);
      uri = jwksUriOf(document, issuer);
    } catch (error) {
      lastError = error instanceof KeySetError ? error.message : 'unexpected failure';
      return;
    }
    documentFreshUntil = clock.now() + discoveryMaxAgeMs;
    if (keySet && keySet.uri.href === uri.href) return;
    if (keySet?.current) retired = keySet;
    keySet = Object.assign(createRemoteKeySet({ uri, algorithms, clock, fetchTimeoutMs, backend }), { uri });
  }

  function documentDue(): boolean {
    return keySet === undefined || clock.now() >= documentFreshUntil || keySet.lastFetchFailed;
  }

  async function cycle(): Promise<KeySet> {
    let fetchedDocument = false;
    if (documentDue() && clock.now() - lastDocumentFetchAt >= refetchCooldownMs) {
      await loadDocument();
      fetchedDocument = true;
    }
    if (keySet) {
      await keySet.refresh()?.catch(() => undefined);
      if (keySet.lastFetchFailed && !fetchedDocument && clock.now() - lastDocumentFetchAt >= refetchCooldownMs) {
        // The keys may have moved: look at the document again, and at a new jwks_uri at once.
        await loadDocument();
        await keySet.refresh()?.catch(() => undefined);
      }
      if (keySet.current) retired = undefined;
    }
    const keys = current();
    if (keys) return keys;
    throw unavailable();
  }

  function unavailable(): VerifyError {
    if (keySet && !keySet.current && documentFreshUntil > -Infinity) return keySet.unavailable();
    return new VerifyError('jwks_unavailable', `the discovery document at ${url.origin}${url.pathname} could not be loaded: ${lastError}`);
  }

  return {
    get current() {
      return current();
    },
    get lastFetchFailed() {
      return keySet?.lastFetchFailed ?? true;
    },
    due() {
      return current() === undefined || clock.now() >= documentFreshUntil || keySet!.due();
    },
    refresh() {
      if (inFlight) return inFlight;
      const documentCanFetch = documentDue() && clock.now() - lastDocumentFetchAt >= refetchCooldownMs;
      if (!documentCanFetch) {
        const fetching = keySet?.refresh();
        if (!fetching) return undefined;
      }
      inFlight = cycle().finally(() => {
        inFlight = undefined;
      });
      return inFlight;
    },
    unavailable,
  };
}
