import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock.js';

/** How long a device token is honoured after the sign-in that issued it. */
export const deviceTokenTtlMs = 30 * 24 * 60 * 60 * 1000;

const version = 'd1';
const deviceIdPattern = /^[A-Za-z0-9_-]{22}$/;
const expiryPattern = /^\d{1,12}$/;

export interface DeviceToken {
  /** Names the device's own lockout lane; random, never derived from the user. */
  deviceId: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

/**
 * Device tokens (docs/adr/006-trusted-devices-for-lockout.md): `d1.<device id>.<expiry s>.<mac>`,
 * an HMAC-SHA256 under a key of its own purpose derived from TESSERA_SECRET over the version, the
 * device id, the expiry and the user id. The user id is bound but not carried, so a token shows
 * nobody whose it is, and one issued to one account is worthless for every other name.
 */
export interface DeviceTokens {
  /** A token for `userId`; keeps `deviceId` when renewing a token the device presented. */
  issue(userId: string, deviceId?: string): string;
  /**
   * The device of a well-formed, unexpired token issued to `userId`; undefined for anything else
   * (no token, no account, a forged or another user's token). Does the same HMAC work either way.
   */
  verify(token: string | undefined, userId: string | undefined): DeviceToken | undefined;
}

export function createDeviceTokens(secret: string, clock: Clock): DeviceTokens {
  const key = Buffer.from(hkdfSync('sha256', secret, 'tessera', `tessera/device-tokens/${version}`, 32));
  const mac = (deviceId: string, expiry: string, userId: string) =>
    createHmac('sha256', key).update(`${version}.${deviceId}.${expiry}.${userId}`).digest('base64url');

  return {
    issue(userId, deviceId = randomBytes(16).toString('base64url')) {
      const expiry = String(Math.floor((clock.now() + deviceTokenTtlMs) / 1000));
      return `${version}.${deviceId}.${expiry}.${mac(deviceId, expiry, userId)}`;
    },
    verify(token, userId) {
      const [tag, deviceId = '', expiry = '', signature = '', ...rest] = (token ?? '').split('.');
      // Compared as text: base64url decoding ignores the unused bits of the last character.
      const expected = Buffer.from(mac(deviceId, expiry, userId ?? ''));
      const given = Buffer.from(signature);
      const signed = given.length === expected.length && timingSafeEqual(given, expected);
      const wellFormed = tag === version && rest.length === 0 && deviceIdPattern.test(deviceId) && expiryPattern.test(expiry);
      if (!signed || !wellFormed || userId === undefined) return undefined;
      const expiresAt = Number(expiry) * 1000;
      return expiresAt > clock.now() ? { deviceId, expiresAt } : undefined;
    },
  };
}
