/**
 * The verification core shared by the server, the `tessera/verify` SDK, the gateway and gRPC:
 * compact JWS verification on node:crypto, the access-token claims checks and the identity
 * headers, each failure a stable reason code. It imports nothing but node:crypto and itself.
 */
export { createAccessTokenVerifier, maxTokenBytes, type AccessTokenPolicy, type AccessTokenResult, type AccessTokenVerifier } from './access-token.js';
export { isJwsAlgorithm, jwsAlgorithms, keyFitsAlgorithm, type JwsAlgorithm } from './algorithms.js';
export { checkType, createClaimsCheck, withinValidity, type AccessTokenClaims, type CheckedClaims, type ClaimsPolicy, type VerifyClock } from './claims.js';
export { headerValue, identityHeaderNames, identityHeaders, type IdentityClaims, type IdentityHeaderName } from './identity-headers.js';
export { createVerificationKey, verifyJws, verifyJwsOffThread, type JwsResult, type KeyLookup, type VerificationKey, type VerifiedJws } from './jws.js';
export { refusalReasons, type Refusal, type RefusalReason } from './result.js';
