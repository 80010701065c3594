/**
 * `tessera/verify` for Deno, Bun, Cloudflare Workers and other runtimes without node:crypto (the
 * package's `default` condition): the same verifier as under Node, with Web Crypto (crypto.subtle)
 * importing keys and checking signatures. Its modules import no runtime module. See docs/sdk.md.
 */
import { webBackend } from './web-backend.js';
import { verifierFactory, type CreateVerifier } from './verifier.js';

export const createVerifier: CreateVerifier = verifierFactory(webBackend);
export { VerifyError, type VerifyErrorCode } from './errors.js';
export type { CreateVerifier, IssuersVerifierOptions, Verifier, VerifierOptions, VerifierRevocationOptions, VerifyOptions } from './verifier.js';
export type { AccessTokenClaims, VerifyClock } from '../claims.js';
export type { JwsAlgorithm } from '../jws-structure.js';
export type { RefusalReason } from '../result.js';
export type { ClaimMapping } from './claims-mapping.js';
export type { IssuerKind, IssuerOptions, VerifiedClaims } from './issuers.js';
export type { RevocationOptions, RevocationSubscription } from './revocation.js';
