import { pino, type DestinationStream, type Logger } from 'pino';

/**
 * Paths pino censors wherever they appear in a log object. Requests are logged by our own
 * serializer (method, path without query, ip), so headers and bodies are not logged at all;
 * this list is the second line of defence for anything that logs an object carelessly.
 */
export const redactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'authorization',
  'cookie',
  'password',
  'new_password',
  'current_password',
  'token',
  'access_token',
  'refresh_token',
  'mfa_token',
  'secret',
  '*.password',
  '*.new_password',
  '*.current_password',
  '*.token',
  '*.access_token',
  '*.refresh_token',
  '*.mfa_token',
  '*.secret',
  '*.authorization',
  '*.cookie',
];

interface LoggedRequest {
  method: string;
  url: string;
  /** The resolved client address (plugins/client-address.ts); absent on a raw Node request. */
  clientIp?: string;
  id?: string;
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      redact: { paths: redactPaths, censor: '[redacted]' },
      serializers: {
        req: (req: LoggedRequest) => ({
          method: req.method,
          // Never log a query string: a misbehaving client may put a token there.
          path: req.url.split('?')[0],
          ip: req.clientIp,
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
        err: pino.stdSerializers.err,
      },
    },
    destination,
  );
}
