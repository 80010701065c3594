import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

/*
 * `tessera/verify` as a user gets it: the built dist/, resolved through package.json `exports`
 * from a directory with the package and nothing else. No node_modules there or above it, so
 * Fastify, pg, ioredis or PGlite cannot be loaded: an import of any of them fails the test.
 */

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
// Resolved as Node does, so this also holds in npm test's .test-dist/ mirror (no node_modules link there).
const require = createRequire(import.meta.url);
const tsc = join(dirname(require.resolve('typescript/package.json')), 'bin/tsc');
const typeRoots = resolve(dirname(require.resolve('@types/node/package.json')), '..');

const consumer = `
import { createVerifier, VerifyError } from 'tessera/verify';
import { generateKeyPairSync, sign } from 'node:crypto';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const now = Date.now();
const iat = Math.floor(now / 1000);
const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
const input = part({ alg: 'EdDSA', kid: 'k1', typ: 'at+jwt' }) + '.' + part({
  iss: 'https://auth.example', aud: 'orders', sub: 'user-1', client_id: 'tessera', iat, nbf: iat, exp: iat + 900,
  jti: 'j1', sid: 's1', roles: [], permissions: ['orders:read'], amr: ['pwd'],
});
const token = input + '.' + sign(null, Buffer.from(input), privateKey).toString('base64url');
const verifier = createVerifier({ issuer: 'https://auth.example', audience: 'orders', keys: { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'EdDSA' }] } });
const claims = await verifier.verify(token, { permissions: ['orders:read'] });
let refused;
try { await verifier.verify(token.slice(0, -4) + 'AAAA'); } catch (error) { refused = error instanceof VerifyError ? error.code : String(error); }
const unresolvable = [];
for (const name of ['fastify', 'pg', 'ioredis', '@electric-sql/pglite', 'pino', 'tessera']) {
  try { await import(name); } catch { unresolvable.push(name); }
}
console.log(JSON.stringify({ sub: claims.sub, refused, unresolvable }));
`;

const typedConsumer = `
import { createVerifier, VerifyError, type AccessTokenClaims, type VerifyErrorCode } from 'tessera/verify';
const verifier = createVerifier({ issuer: 'https://auth.example', audience: 'orders', jwksUri: 'https://auth.example/.well-known/jwks.json' });
export async function subject(token: string): Promise<string> {
  const claims: AccessTokenClaims = await verifier.verify(token, { permissions: ['orders:read'] });
  return claims.sub;
}
export function codeOf(error: unknown): VerifyErrorCode | undefined {
  return error instanceof VerifyError ? error.code : undefined;
}
`;

describe('tessera/verify as an installed package', () => {
  let dir: string;

  before(() => {
    // npm test builds dist/ before any test and says so (as for the CLI tests); alone, this file builds it.
    if (process.env.TESSERA_TEST_CLI !== 'dist') execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'pipe' });
    dir = mkdtempSync(join(tmpdir(), 'tessera-verify-'));
    const installed = join(dir, 'node_modules/tessera');
    mkdirSync(join(installed, 'dist'), { recursive: true });
    cpSync(join(root, 'package.json'), join(installed, 'package.json'));
    cpSync(join(root, 'dist/verify'), join(installed, 'dist/verify'), { recursive: true });
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('loads without the server and its dependencies, and verifies a token with static keys', () => {
    writeFileSync(join(dir, 'consumer.mjs'), consumer);
    const output = execFileSync(process.execPath, ['consumer.mjs'], { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
    assert.deepEqual(JSON.parse(output), {
      sub: 'user-1',
      refused: 'invalid_token',
      unresolvable: ['fastify', 'pg', 'ioredis', '@electric-sql/pglite', 'pino', 'tessera'],
    });
  });

  it('loads the Express, Fastify and Hono middlewares without their frameworks installed', () => {
    const middlewares = `
const names = [];
for (const subpath of ['express', 'fastify', 'hono']) {
  const { tesseraAuth } = await import('tessera/verify/' + subpath);
  names.push(subpath + ':' + typeof tesseraAuth);
}
console.log(JSON.stringify(names));
`;
    writeFileSync(join(dir, 'middlewares.mjs'), middlewares);
    const output = execFileSync(process.execPath, ['middlewares.mjs'], { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
    assert.deepEqual(JSON.parse(output), ['express:function', 'fastify:function', 'hono:function']);
  });

  it('ships its types, which a TypeScript consumer resolves through the exports map', () => {
    const types = join(dir, 'node_modules/tessera/dist/verify/sdk/index.d.ts');
    assert.ok(existsSync(types), 'dist/verify/sdk/index.d.ts');
    const text = readFileSync(types, 'utf8');
    assert.match(text, /createVerifier/);
    assert.match(text, /VerifyError/);
    writeFileSync(join(dir, 'consumer.ts'), typedConsumer);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2023', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, typeRoots: [typeRoots], types: ['node'] },
        files: ['consumer.ts'],
      }),
    );
    // Writing "package.json" with type module makes consumer.ts an ES module, as the import syntax needs.
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    try {
      execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: dir, encoding: 'utf8', stdio: 'pipe' });
    } catch (error) {
      assert.fail(`the consumer does not type-check: ${(error as { stdout?: string }).stdout ?? String(error)}`);
    }
  });
});
