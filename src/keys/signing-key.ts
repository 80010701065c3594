import type { SigningAlg } from '../config/schema.js';

export type SigningKeyStatus = 'next' | 'active' | 'retired';

/** The public members of a JWK as published in JWKS. */
export interface PublicJwk {
  kty: string;
  kid: string;
  alg: SigningAlg;
  use: 'sig';
  n?: string;
  e?: string;
  crv?: string;
  x?: string;
  y?: string;
}

export interface SigningKeyRecord {
  kid: string;
  alg: SigningAlg;
  publicJwk: PublicJwk;
  /** PKCS#8 PEM of the private key, AES-256-GCM sealed under TESSERA_SECRET with the kid as AAD. */
  privateKeySealed: string;
  status: SigningKeyStatus;
  createdAt: Date;
  activatedAt: Date | null;
  retiredAt: Date | null;
  /** A retired key stays in JWKS until then. */
  publishUntil: Date | null;
}
