import { pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { hash as bcryptHash } from '@node-rs/bcrypt';

/*
 * Password hashes imported from other systems (docs/adr/011). A legacy hash is stored WRAPPED:
 * its scheme, parameters and salt are kept, its digest is replaced by an argon2id hash of the
 * digest, so a stolen database holds no fast legacy digest to attack:
 *
 *   $tessera-wrap$<scheme>$<params>$<salt, base64>$argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>
 *
 * Verification recomputes the legacy digest from the password with the kept salt and
 * parameters, then verifies the argon2id hash over it. Every bound below is there so that a
 * hostile import file cannot make one verification (or the import itself) stall the server.
 */

const pbkdf2Async = promisify(pbkdf2);

export type LegacyScheme = 'bcrypt' | 'pbkdf2-sha1' | 'pbkdf2-sha256' | 'pbkdf2-sha512';

/** A legacy hash as imported: what recomputes its digest, and the digest itself. */
export interface LegacyHash {
  scheme: LegacyScheme;
  /** bcrypt's cost (log2 rounds) or PBKDF2's iterations. */
  cost: number;
  /** PBKDF2's derived-key length in bytes; 23 for bcrypt. */
  length: number;
  salt: Buffer;
  /** The digest as text: bcrypt's 31 characters, or PBKDF2's derived key in base64. */
  digest: string;
}

export type LegacyParameters = Omit<LegacyHash, 'digest'>;

/** What an import line's `password_hash` turns into. */
export type ImportedHash = { type: 'argon2id'; phc: string } | { type: 'legacy'; legacy: LegacyHash };

/*
 * Costs accepted on import, and at verification. Every sign-in is padded to the costliest kind
 * stored (docs/adr/011), so one hostile line at bcrypt cost 16 (~5 s here) would slow every
 * sign-in for good: the bounds keep the floor under ~0.5 s on this class of machine while
 * covering what the systems teams leave behind use (bcrypt 10-13; Django's PBKDF2-SHA256 up to
 * 1.2 M iterations; Keycloak's PBKDF2-SHA512 210 k; OWASP's PBKDF2-SHA1 1.3 M; argon2id up to
 * Django's 100 MiB × 2 and PHP's 64 MiB × 4).
 */
export const bcryptCostBounds = { min: 4, max: 13 } as const;
/** Iterations × derived-key blocks. */
export const pbkdf2IterationBounds = { min: 1_000, max: 1_300_000 } as const;
/** Argon2id parameters (m in KiB): from Spring's 4 MiB up to Django's 100 MiB, at most PHP's 64 MiB × 4 passes. */
export const argon2Bounds = { minMemory: 4_096, maxMemory: 102_400, maxTime: 16, maxParallelism: 16, maxMemoryTime: 262_144 } as const;

const pbkdf2Digests: Record<Exclude<LegacyScheme, 'bcrypt'>, { digest: string; size: number }> = {
  'pbkdf2-sha1': { digest: 'sha1', size: 20 },
  'pbkdf2-sha256': { digest: 'sha256', size: 32 },
  'pbkdf2-sha512': { digest: 'sha512', size: 64 },
};

const bcryptAlphabet = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const base64Alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** bcrypt's own base64 alphabet: 22 characters carry the 16 salt bytes (and 4 unused bits). */
function decodeBcryptSalt(text: string): Buffer {
  const standard = [...text].map((char) => base64Alphabet[bcryptAlphabet.indexOf(char)]).join('');
  return Buffer.from(standard, 'base64').subarray(0, 16);
}

/** Standard base64, passlib's "adapted" base64 (`.` for `+`), with or without padding. */
function decodeBase64(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/.]+={0,2}$/.test(text)) return undefined;
  const bytes = Buffer.from(text.replace(/\./g, '+'), 'base64');
  return bytes.length > 0 ? bytes : undefined;
}

const unpadded = (bytes: Buffer) => bytes.toString('base64').replace(/=+$/, '');

const bcryptImport = /^\$(2[aby])\$(\d{2})\$([./A-Za-z0-9]{22})([./A-Za-z0-9]{31})$/;
const djangoImport = /^pbkdf2_(sha256|sha1)\$(\d{1,8})\$([^$\s]{1,128})\$([A-Za-z0-9+/]+={0,2})$/;
const passlibImport = /^\$pbkdf2(-sha256|-sha512)?\$(\d{1,8})\$([^$]{1,200})\$([^$]{1,200})$/;
const argon2Import = /^\$argon2id\$v=19\$m=(\d{1,7}),t=(\d{1,3}),p=(\d{1,3})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

function pbkdf2Hash(scheme: Exclude<LegacyScheme, 'bcrypt'>, iterations: number, salt: Buffer, key: Buffer): ImportedHash | undefined {
  if (iterations < pbkdf2IterationBounds.min || iterations > pbkdf2IterationBounds.max) return undefined;
  // The work grows with each block of the derived key: bound iterations times blocks.
  const blocks = Math.ceil(key.length / pbkdf2Digests[scheme].size);
  if (key.length < 16 || key.length > 128 || iterations * blocks > pbkdf2IterationBounds.max) return undefined;
  if (salt.length < 1 || salt.length > 128) return undefined;
  return { type: 'legacy', legacy: { scheme, cost: iterations, length: key.length, salt, digest: key.toString('base64') } };
}

/** True for argon2id parameters within the import bounds. */
export function argon2ParamsAcceptable(m: number, t: number, p: number): boolean {
  const b = argon2Bounds;
  return m >= b.minMemory && m <= b.maxMemory && t >= 1 && t <= b.maxTime && p >= 1 && p <= b.maxParallelism && m >= 8 * p && m * t <= b.maxMemoryTime;
}

/**
 * Parses an imported `password_hash`: bcrypt (`$2a$`, `$2b$`, `$2y$`, cost 4 to 13; also Django's
 * `bcrypt$$2b$…`), Django (`pbkdf2_sha256$…`, `pbkdf2_sha1$…`; the salt is used as its UTF-8
 * bytes, as Django does),
 * passlib / PHC PBKDF2 (`$pbkdf2-sha256$`, `$pbkdf2-sha512$`, `$pbkdf2$` for SHA-1: the form a
 * Keycloak export maps to) and argon2id PHC (also Django's `argon2$argon2id$…`).
 * Undefined for anything else or for parameters out of bounds.
 */
export function parseImportedHash(text: string): ImportedHash | undefined {
  if (text.length > 1024) return undefined;
  // Django's BCryptPasswordHasher writes `bcrypt$` before a plain bcrypt hash (not bcrypt_sha256, which pre-hashes).
  const bcrypt = bcryptImport.exec(text.startsWith('bcrypt$$2') ? text.slice('bcrypt$'.length) : text);
  if (bcrypt) {
    const cost = Number(bcrypt[2]);
    if (cost < bcryptCostBounds.min || cost > bcryptCostBounds.max) return undefined;
    return { type: 'legacy', legacy: { scheme: 'bcrypt', cost, length: 23, salt: decodeBcryptSalt(bcrypt[3]!), digest: bcrypt[4]! } };
  }
  const django = djangoImport.exec(text);
  if (django) {
    const key = decodeBase64(django[4]!);
    if (!key) return undefined;
    return pbkdf2Hash(django[1] === 'sha1' ? 'pbkdf2-sha1' : 'pbkdf2-sha256', Number(django[2]), Buffer.from(django[3]!, 'utf8'), key);
  }
  const passlib = passlibImport.exec(text);
  if (passlib) {
    const salt = decodeBase64(passlib[3]!);
    const key = decodeBase64(passlib[4]!);
    if (!salt || !key) return undefined;
    const scheme = passlib[1] === '-sha512' ? 'pbkdf2-sha512' : passlib[1] === '-sha256' ? 'pbkdf2-sha256' : 'pbkdf2-sha1';
    return pbkdf2Hash(scheme, Number(passlib[2]), salt, key);
  }
  const phc = text.startsWith('argon2$argon2id$') ? text.slice('argon2'.length) : text;
  const argon2 = argon2Import.exec(phc);
  if (argon2) {
    const [m, t, p] = [Number(argon2[1]), Number(argon2[2]), Number(argon2[3])];
    const salt = Buffer.from(argon2[4]!, 'base64');
    const key = Buffer.from(argon2[5]!, 'base64');
    if (!argon2ParamsAcceptable(m, t, p) || salt.length < 8 || salt.length > 64 || key.length < 16 || key.length > 64) return undefined;
    return { type: 'argon2id', phc };
  }
  return undefined;
}

/** The parameter field of a wrapped hash: `c=<cost>` for bcrypt, `i=<iterations>,l=<length>` for PBKDF2. */
function parameterField(legacy: LegacyParameters): string {
  return legacy.scheme === 'bcrypt' ? `c=${legacy.cost}` : `i=${legacy.cost},l=${legacy.length}`;
}

const wrapPrefix = '$tessera-wrap$';
const wrappedPattern = /^\$tessera-wrap\$(bcrypt|pbkdf2-sha1|pbkdf2-sha256|pbkdf2-sha512)\$(c=\d{1,2}|i=\d{1,7},l=\d{1,3})\$([A-Za-z0-9+/]{1,200})(\$argon2id\$v=19\$m=(\d{1,7}),t=(\d{1,3}),p=(\d{1,3})\$[A-Za-z0-9+/]{1,200}\$[A-Za-z0-9+/]{1,200})$/;

/** The stored form: the legacy scheme, parameters and salt, then `inner` (an argon2id PHC string over the digest). */
export function formatWrapped(legacy: LegacyParameters, inner: string): string {
  return `${wrapPrefix}${legacy.scheme}$${parameterField(legacy)}$${unpadded(legacy.salt)}${inner}`;
}

/** A stored wrapped hash taken apart; undefined when `stored` is not one (or is out of bounds). */
export function parseWrapped(stored: string): { legacy: LegacyParameters; inner: string } | undefined {
  if (!stored.startsWith(wrapPrefix)) return undefined;
  const match = wrappedPattern.exec(stored);
  if (!match) return undefined;
  const scheme = match[1] as LegacyScheme;
  const numbers = [...match[2]!.matchAll(/\d+/g)].map((found) => Number(found[0]));
  const legacy: LegacyParameters =
    scheme === 'bcrypt'
      ? { scheme, cost: numbers[0]!, length: 23, salt: Buffer.from(match[3]!, 'base64') }
      : { scheme, cost: numbers[0]!, length: numbers[1]!, salt: Buffer.from(match[3]!, 'base64') };
  // The inner argon2id is Tessera's own (wrap uses the current parameters), bounded all the same:
  // a row written by something else must not run for hours.
  if (!legacyParametersAcceptable(legacy) || !argon2ParamsAcceptable(Number(match[5]), Number(match[6]), Number(match[7]))) return undefined;
  return { legacy, inner: match[4]! };
}

function legacyParametersAcceptable(legacy: LegacyParameters): boolean {
  if (legacy.scheme === 'bcrypt') return legacy.cost >= bcryptCostBounds.min && legacy.cost <= bcryptCostBounds.max && legacy.salt.length === 16;
  const blocks = Math.ceil(legacy.length / pbkdf2Digests[legacy.scheme].size);
  return (
    legacy.cost >= pbkdf2IterationBounds.min &&
    legacy.cost * blocks <= pbkdf2IterationBounds.max &&
    legacy.length >= 16 &&
    legacy.length <= 128 &&
    legacy.salt.length >= 1
  );
}

/** The legacy digest of `password` under `legacy`'s scheme, parameters and salt, as `LegacyHash.digest` spells it. */
export async function legacyDigest(legacy: LegacyParameters, password: string): Promise<string> {
  if (legacy.scheme === 'bcrypt') {
    // @node-rs/bcrypt takes the 16 salt bytes; the last 31 characters are the digest, whatever the $2x$ prefix.
    return (await bcryptHash(password, legacy.cost, legacy.salt)).slice(-31);
  }
  const key = await pbkdf2Async(Buffer.from(password, 'utf8'), legacy.salt, legacy.cost, legacy.length, pbkdf2Digests[legacy.scheme].digest);
  return key.toString('base64');
}

/*
 * Kinds: what a verification costs depends on the scheme and its parameters, never on the salt.
 * The head of a stored hash names its kind: `$tessera-wrap$bcrypt$c=10`,
 * `$argon2id$v=19$m=65536,t=3,p=4`, `$2b$10` (a bcrypt hash stored as it is, from before wrapping).
 */

/** The head of a stored hash; the same expression in SQL (POSIX) and here (users/store.ts `passwordHashHeads`). */
export const hashHeadPattern = '^(\\$tessera-wrap\\$[a-z0-9-]+\\$[^$]+|\\$argon2id\\$v=[0-9]+\\$[^$]+|\\$2[aby]\\$[0-9]{2})';
const headExpression = new RegExp(hashHeadPattern);

export function hashHead(stored: string): string | undefined {
  return headExpression.exec(stored)?.[1];
}

/** A kind, with a family whose costs are comparable and an estimate of its cost within the family. */
export interface HashKind {
  head: string;
  family: 'bcrypt' | 'raw-bcrypt' | 'argon2id' | LegacyScheme;
  estimate: number;
  /** A stored hash of this kind for `password`, to time a verification of the kind. */
  sample(password: string, argon2: (input: string, options?: { m: number; t: number; p: number }) => Promise<string>): Promise<string>;
}

/** The kind named by `head`; undefined for a head out of bounds or unknown. */
export function kindOf(head: string): HashKind | undefined {
  const wrapped = /^\$tessera-wrap\$([a-z0-9-]+)\$(c=(\d{1,2})|i=(\d{1,7}),l=(\d{1,3}))$/.exec(head);
  if (wrapped) {
    const scheme = wrapped[1] as LegacyScheme;
    if (!['bcrypt', 'pbkdf2-sha1', 'pbkdf2-sha256', 'pbkdf2-sha512'].includes(scheme)) return undefined;
    const legacy: LegacyParameters =
      scheme === 'bcrypt'
        ? { scheme, cost: Number(wrapped[3] ?? NaN), length: 23, salt: Buffer.alloc(16) }
        : { scheme, cost: Number(wrapped[4] ?? NaN), length: Number(wrapped[5] ?? NaN), salt: Buffer.alloc(16) };
    if (!legacyParametersAcceptable(legacy) || (scheme === 'bcrypt') !== (wrapped[3] !== undefined)) return undefined;
    const estimate = scheme === 'bcrypt' ? 2 ** legacy.cost : legacy.cost * Math.ceil(legacy.length / pbkdf2Digests[scheme as Exclude<LegacyScheme, 'bcrypt'>].size);
    return {
      head,
      family: scheme,
      estimate,
      async sample(password, argon2) {
        const salted = { ...legacy, salt: randomBytes(16) };
        return formatWrapped(salted, await argon2(await legacyDigest(salted, password)));
      },
    };
  }
  const argon2 = /^\$argon2id\$v=19\$m=(\d{1,7}),t=(\d{1,3}),p=(\d{1,3})$/.exec(head);
  if (argon2) {
    const [m, t, p] = [Number(argon2[1]), Number(argon2[2]), Number(argon2[3])];
    if (!argon2ParamsAcceptable(m, t, p)) return undefined;
    return { head, family: 'argon2id', estimate: m * t, sample: (password, hash) => hash(password, { m, t, p }) };
  }
  const raw = /^\$2[aby]\$(\d{2})$/.exec(head);
  if (raw) {
    const cost = Number(raw[1]);
    if (cost < bcryptCostBounds.min || cost > bcryptCostBounds.max) return undefined;
    return { head, family: 'raw-bcrypt', estimate: 2 ** cost, sample: (password) => bcryptHash(password, cost) };
  }
  return undefined;
}
