// The cache is part of the verification core, shared with the SDK: src/verify/revocation-state.ts.
export { RevocationCache, type RevocationSubject, type RevokedReason } from '../verify/revocation-state.js';
