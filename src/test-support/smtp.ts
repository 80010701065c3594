import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { freePort } from './process.js';

export interface ReceivedMail {
  to: string[];
  raw: string;
}

/** A real SMTP server on loopback (no TLS, no auth) that keeps what it receives. */
export interface TestSmtp {
  url: string;
  mails: ReceivedMail[];
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function startTestSmtp(): Promise<TestSmtp> {
  const port = await freePort();
  const mails: ReceivedMail[] = [];
  let server: SMTPServer | undefined;
  const start = async () => {
    server = new SMTPServer({
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onData(stream, session, callback) {
        let raw = '';
        stream.on('data', (chunk: Buffer) => (raw += chunk.toString()));
        stream.on('end', () => {
          mails.push({ to: session.envelope.rcptTo.map((rcpt) => rcpt.address), raw });
          callback();
        });
      },
    });
    server.listen(port, '127.0.0.1');
    await once(server.server, 'listening');
    void (server.server.address() as AddressInfo);
  };
  await start();
  return {
    url: `smtp://127.0.0.1:${port}`,
    mails,
    start,
    stop: () => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())),
  };
}

/** The reset token in a received mail (quoted-printable soft breaks undone). */
export function tokenIn(mail: ReceivedMail): string | undefined {
  const text = mail.raw.replace(/=\r?\n/g, '').replace(/=3D/g, '=');
  return /token=([A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})/.exec(text)?.[1] ?? /Reset code: ([A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})/.exec(text)?.[1];
}
