/**
 * `tessera/verify`: verification of Tessera access tokens in any Node service, on the server's
 * own verification core (node:crypto only; no Fastify, database or Redis). See docs/sdk.md.
 */
export { createVerifier, type Verifier, type VerifierOptions, type VerifyOptions } from './verifier.js';
export { VerifyError, type VerifyErrorCode } from './errors.js';
export type { AccessTokenClaims, VerifyClock } from '../claims.js';
export type { JwsAlgorithm } from '../algorithms.js';
export type { RefusalReason } from '../result.js';
export { type IssuersVerifierOptions } from './verifier.js';
export type { ClaimMapping } from './claims-mapping.js';
export type { IssuerKind, IssuerOptions, VerifiedClaims } from './issuers.js';
