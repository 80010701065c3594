import assert from 'node:assert/strict';
import { createHmac, createPublicKey, randomBytes, sign, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { strongPassword, type TestApp } from './app.js';

/*
 * Helpers for the token-lifecycle route tests: requests with a bearer token, JSON and form bodies,
 * the error-shape assertion, and token forgery with the server's own keys.
 */

export type Json = Record<string, unknown>;

import type { SignedIn } from './app.js';
export type { SignedIn };

export interface RequestOptions {
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  headers?: Record<string, string>;
  remoteAddress?: string;
}

function requestOptions(method: InjectOptions['method'], url: string, options: RequestOptions): InjectOptions {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  return { method, url, headers, ...(options.remoteAddress === undefined ? {} : { remoteAddress: options.remoteAddress }) };
}

export function get(t: TestApp, url: string, options: RequestOptions = {}): Promise<LightMyRequestResponse> {
  return t.app.inject(requestOptions('GET', url, options));
}

export function del(t: TestApp, url: string, options: RequestOptions = {}): Promise<LightMyRequestResponse> {
  return t.app.inject(requestOptions('DELETE', url, options));
}

/** A POST with a JSON body (`undefined`: no body and no content type). */
export function postJson(t: TestApp, url: string, body: unknown, options: RequestOptions = {}): Promise<LightMyRequestResponse> {
  const request = requestOptions('POST', url, options);
  if (body !== undefined) {
    request.headers = { 'content-type': 'application/json', ...request.headers };
    request.payload = JSON.stringify(body);
  }
  return t.app.inject(request);
}

/** A POST with an application/x-www-form-urlencoded body (a string is sent as is). */
export function postForm(
  t: TestApp,
  url: string,
  form: string | Record<string, string>,
  options: RequestOptions = {},
): Promise<LightMyRequestResponse> {
  const request = requestOptions('POST', url, options);
  request.headers = { 'content-type': 'application/x-www-form-urlencoded', ...request.headers };
  request.payload = typeof form === 'string' ? form : new URLSearchParams(form).toString();
  return t.app.inject(request);
}

export const me = (t: TestApp, token: string) => get(t, '/auth/me', { token });
export const verifyGet = (t: TestApp, token: string, query = '') => get(t, `/auth/verify${query}`, { token });
export const refresh = (t: TestApp, refreshToken: string) => postJson(t, '/auth/refresh', { refresh_token: refreshToken });

/** Signs in through HTTP with a device, user agent and client address; fails the test otherwise. */
export async function signInWith(
  t: TestApp,
  username: string,
  options: { device?: { name?: string; fingerprint?: string }; userAgent?: string; headers?: Record<string, string>; remoteAddress?: string } = {},
): Promise<SignedIn> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.userAgent !== undefined) headers['user-agent'] = options.userAgent;
  const body: Json = { username, password: strongPassword };
  if (options.device) body.device = options.device;
  const response = await postJson(t, '/auth/login', body, {
    headers,
    ...(options.remoteAddress === undefined ? {} : { remoteAddress: options.remoteAddress }),
  });
  assert.equal(response.statusCode, 200, `sign-in of ${username}: ${response.body}`);
  return response.json() as SignedIn;
}

/** Parses a JSON body, failing the test with the raw text if it is not JSON. */
export function jsonOf(response: LightMyRequestResponse, label = ''): Json {
  try {
    return JSON.parse(response.body) as Json;
  } catch {
    assert.fail(`${label}: body is not JSON: ${response.statusCode} ${response.body}`);
  }
}

/**
 * The SPEC §3 error contract: the status, the code, `{error, error_description}` and nothing else
 * but the `extra` members named, `cache-control: no-store`, and on a 401 a Bearer challenge.
 */
export function assertApiError(
  response: LightMyRequestResponse,
  status: number,
  error: string,
  label = '',
  extra: Json = {},
): Json {
  assert.ok(response.statusCode < 500, `${label}: ${response.statusCode} ${response.body}`);
  assert.equal(response.statusCode, status, `${label}: ${response.body}`);
  assert.match(String(response.headers['content-type']), /^application\/json\b/, `${label}: content-type`);
  const body = jsonOf(response, label);
  assert.deepEqual(Object.keys(body).sort(), ['error', 'error_description', ...Object.keys(extra)].sort(), `${label}: body members ${response.body}`);
  assert.equal(body.error, error, `${label}: ${response.body}`);
  assert.equal(typeof body.error_description, 'string', label);
  assert.ok((body.error_description as string).length > 0, `${label}: empty error_description`);
  for (const [key, value] of Object.entries(extra)) assert.deepEqual(body[key], value, `${label}: ${key}`);
  assert.equal(response.headers['cache-control'], 'no-store', `${label}: cache-control`);
  if (status === 401) assert.match(String(response.headers['www-authenticate']), /^Bearer\b/, `${label}: www-authenticate`);
  return body;
}

// ---------------------------------------------------------------------------------------------
// Token forgery

const b64json = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** The decoded header (0) or payload (1) of a compact JWS. */
export function decodeSegment(token: string, index: 0 | 1): Json {
  return JSON.parse(Buffer.from(token.split('.')[index] ?? '', 'base64url').toString()) as Json;
}

/** A compact JWS signed with `key` whatever its header says (so forbidden members can be set). */
export function signJws(header: Json, payload: Json, key: KeyObject): string {
  const input = `${b64json(header)}.${b64json(payload)}`;
  const data = Buffer.from(input);
  let signature: Buffer;
  if (key.asymmetricKeyType === 'ed25519') signature = sign(null, data, key);
  else if (key.asymmetricKeyType === 'ec') signature = sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
  else signature = sign('sha256', data, key);
  return `${input}.${signature.toString('base64url')}`;
}

export function hs256(header: Json, payload: Json, secret: string | Buffer): string {
  const input = `${b64json(header)}.${b64json(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** An unsigned token (`alg: none`). */
export function unsigned(header: Json, payload: Json): string {
  return `${b64json({ ...header, alg: 'none' })}.${b64json(payload)}.`;
}

/** A refresh token of the right shape that the server never issued. */
export function unknownRefreshToken(): string {
  return `${randomBytes(16).toString('base64url')}.${randomBytes(32).toString('base64url')}`;
}

/** What a test needs to forge tokens against one running app. */
export interface ServerKeys {
  kid: string;
  alg: string;
  /** The header the server issues: alg, kid, typ at+jwt. */
  header: Json;
  privateKey: KeyObject;
  /** The signing key as published in /.well-known/jwks.json. */
  published: JsonWebKey;
  /** That public key as SPKI PEM text, as an HS/RS confusion attacker would use it. */
  publicPem: string;
}

export async function serverKeys(t: TestApp): Promise<ServerKeys> {
  const key = t.tessera.keyRing.signingKey;
  const jwks = (await get(t, '/.well-known/jwks.json')).json() as { keys: JsonWebKey[] };
  const published = jwks.keys.find((candidate) => candidate.kid === key.kid);
  assert.ok(published, 'the signing key is published');
  const publicPem = createPublicKey({ key: published, format: 'jwk' }).export({ format: 'pem', type: 'spki' }).toString();
  return { kid: key.kid, alg: key.alg, header: { alg: key.alg, kid: key.kid, typ: 'at+jwt' }, privateKey: key.privateKey, published, publicPem };
}
