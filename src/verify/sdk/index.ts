/**
 * `tessera/verify` under Node (the package's `node` condition): verification of Tessera access
 * tokens, and of other OpenID providers', on the server's own verification core with node:crypto
 * (cached KeyObjects, a synchronous signature check). No Fastify, database or Redis. See docs/sdk.md.
 */
import { nodeBackend } from './node-backend.js';
import { verifierFactory, type CreateVerifier } from './verifier.js';

export const createVerifier: CreateVerifier = verifierFactory(nodeBackend);
export { VerifyError, type VerifyErrorCode } from './errors.js';
export type { CreateVerifier, IssuersVerifierOptions, Verifier, VerifierOptions, VerifierRevocationOptions, VerifyOptions } from './verifier.js';
export type { AccessTokenClaims, VerifyClock } from '../claims.js';
export type { JwsAlgorithm } from '../jws-structure.js';
export type { RefusalReason } from '../result.js';
export type { ClaimMapping } from './claims-mapping.js';
export type { IssuerKind, IssuerOptions, VerifiedClaims } from './issuers.js';
export type { RevocationOptions, RevocationSubscription } from './revocation.js';
