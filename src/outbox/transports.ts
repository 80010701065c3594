import { createHmac } from 'node:crypto';
import nodemailer from 'nodemailer';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { PasswordResetMail } from './outbox.js';

/** What identifies one delivery: the outbox message id, the same on every retry of the message. */
export interface Delivery {
  id: string;
}

/** Delivers one message or throws (the outbox then retries it, with the same `delivery.id`). */
export type MailTransport = (mail: PasswordResetMail, delivery: Delivery) => Promise<void>;

function resetLink(baseUrl: string | undefined, token: string): string | undefined {
  if (baseUrl === undefined) return undefined;
  return `${baseUrl}${baseUrl.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
}

function text(mail: PasswordResetMail, link: string | undefined): string {
  return [
    `Hello ${mail.username},`,
    '',
    'Someone asked to reset the password of this account. If it was you, use this within 30 minutes:',
    '',
    link ?? `Reset code: ${mail.token}`,
    '',
    'If it was not you, ignore this message: your password stays as it is.',
  ].join('\n');
}

/**
 * Development only: writes the reset link to the log (a warning at start-up says so). Deliberately
 * not under a redacted key, or the message would be useless.
 */
export function createLogTransport(logger: Logger | undefined, resetUrl: string | undefined): MailTransport {
  return async (mail, delivery) => {
    logger?.warn({ outbox: 'log', deliveryId: delivery.id, to: mail.to, username: mail.username, resetLink: resetLink(resetUrl, mail.token) ?? mail.token }, 'development outbox: password reset');
  };
}

/**
 * `requireStartTls`: nodemailer upgrades an smtp:// connection only if the server offers STARTTLS,
 * so a stripped offer would send the token in clear; with it the mail is not sent (and retried).
 * The configuration refuses URL options that would override it (config/schema.ts).
 */
export function createSmtpTransport(smtpUrl: string, from: string, resetUrl: string | undefined, requireStartTls: boolean): MailTransport {
  const transporter = nodemailer.createTransport({ url: smtpUrl, requireTLS: requireStartTls });
  return async (mail, delivery) => {
    if (!mail.to) throw new Error('the account has no e-mail address');
    // A stable Message-ID lets mail systems drop the copy a retry after a lost answer sends.
    const domain = /@([^>\s]+)>?\s*$/.exec(from)?.[1] ?? 'tessera.invalid';
    await transporter.sendMail({ from, to: mail.to, messageId: `<${delivery.id}@${domain}>`, subject: 'Reset your password', text: text(mail, resetLink(resetUrl, mail.token)) });
  };
}

/**
 * POSTs the message as JSON. `X-Tessera-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
 * "<t>.<body>">` lets the receiver check origin and freshness. `delivery_id` in the (signed) body,
 * repeated in `X-Tessera-Delivery-Id`, is the same on every retry of one message, so a receiver
 * that saw it already (its answer was lost) can drop the copy.
 */
export function createWebhookTransport(url: string, secret: string, resetUrl: string | undefined, now: () => number): MailTransport {
  return async (mail, delivery) => {
    const body = JSON.stringify({
      type: 'password_reset',
      delivery_id: delivery.id,
      to: mail.to,
      username: mail.username,
      token: mail.token,
      link: resetLink(resetUrl, mail.token) ?? null,
      expires_at: mail.expiresAt,
    });
    const timestamp = Math.floor(now() / 1000);
    const signature = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-tessera-signature': `t=${timestamp},v1=${signature}`,
        'x-tessera-delivery-id': delivery.id,
      },
      body,
      signal: AbortSignal.timeout(5000),
    });
    if (!response.ok) throw new Error(`webhook answered ${response.status}`);
  };
}

export function createMailTransport(config: Pick<Config, 'outbox'>, logger: Logger | undefined, now: () => number): MailTransport {
  const { webhookUrl, webhookSecret, smtpUrl, smtpRequireStartTls, mailFrom, resetUrl } = config.outbox;
  if (webhookUrl !== undefined && webhookSecret !== undefined) return createWebhookTransport(webhookUrl, webhookSecret, resetUrl, now);
  if (smtpUrl !== undefined) return createSmtpTransport(smtpUrl, mailFrom, resetUrl, smtpRequireStartTls);
  return createLogTransport(logger, resetUrl);
}
