import { LogController, type FastifyBaseLogger, type FastifyReply, type FastifyRequest } from 'fastify';
import { pino, type Bindings, type ChildLoggerOptions, type DestinationStream, type Logger } from 'pino';
import type { Config } from '../config/config.js';

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

/**
 * What other services and probes call for every request they serve or every few seconds: under
 * `TESSERA_ACCESS_LOG=standard` their successes are not logged, their refusals (4xx) are sampled
 * (at most `quietRefusalsPerSecond` lines a second per route and status: a flood of bad tokens must not flood the log,
 * yet the first ones show) and their failures (5xx) always are. Introspection is not among them:
 * it is an admin's call and discloses what a token holds, so every use is logged.
 */
const probe = new Set(['GET', 'HEAD']);
const quietRoutes = new Map([
  ['/auth/verify', probe],
  ['/healthz', probe],
  ['/readyz', probe],
  ['/metrics', probe],
]);

function isQuiet(request: FastifyRequest): boolean {
  const url = request.url;
  const query = url.indexOf('?');
  return quietRoutes.get(query === -1 ? url : url.slice(0, query))?.has(request.method) ?? false;
}

/** Why a request was refused, for its access-log line (errors.ts notes it). */
const refusals = new WeakMap<FastifyRequest, { code: string; detail: string }>();

/** Adds the registry code and internal detail of a refusal to the request's access-log line. */
export function noteRefusal(request: FastifyRequest, code: string, detail: string): void {
  refusals.set(request, { code, detail });
}

/**
 * The access log: one `request completed` line per request when it has been answered (Fastify's
 * own controller writes an `incoming request` line as well), with the method, the path without
 * its query, the client address, the status, the time taken and, for a refusal, its code and
 * detail. Which requests get a line is `TESSERA_ACCESS_LOG`; a 5xx answer always does, at `error`.
 */
export const quietRefusalsPerSecond = 10;

export class AccessLog extends LogController {
  readonly #mode: Config['accessLog'];
  readonly #now: () => number;
  #second = 0;
  /** This second's sampled lines per route and status: one flood cannot hide another kind of refusal. */
  readonly #quietRefusals = new Map<string, number>();

  constructor(mode: Config['accessLog'], now: () => number = Date.now) {
    super({ requestIdLogLabel: 'requestId' });
    this.#mode = mode;
    this.#now = now;
  }

  override incomingRequest(): void {}

  /** One of this second's sampled lines for a quiet route's refusal, while any are left. */
  #sampleQuietRefusal(request: FastifyRequest, status: number): boolean {
    const second = Math.floor(this.#now() / 1000);
    if (second !== this.#second) {
      this.#second = second;
      this.#quietRefusals.clear();
    }
    // The route template when one matched, so the set of keys stays small.
    const key = `${request.routeOptions.url ?? 'unmatched'} ${status}`;
    const count = (this.#quietRefusals.get(key) ?? 0) + 1;
    this.#quietRefusals.set(key, count);
    return count <= quietRefusalsPerSecond;
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const failed = reply.statusCode >= 500 || Boolean(error);
    if (!failed && this.#mode === 'errors') return;
    if (!failed && this.#mode === 'standard' && isQuiet(request) && (reply.statusCode < 400 || !this.#sampleQuietRefusal(request, reply.statusCode))) return;
    const line = { req: request, res: reply, responseTime: reply.elapsedTime, ...refusals.get(request), ...(error ? { err: error } : {}) };
    if (failed) reply.log.error(line, 'request completed');
    else reply.log.info(line, 'request completed');
  }
}

const logMethods = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * A request's logger (`request.log`) that becomes a pino child (with the request id) only when
 * something is logged: most requests log nothing, and a pino child costs its bindings' redaction
 * and serialization on every request.
 */
class RequestLogger {
  readonly #parent: FastifyBaseLogger;
  readonly #bindings: Bindings;
  readonly #options: ChildLoggerOptions;
  #child: FastifyBaseLogger | undefined;

  constructor(parent: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions) {
    this.#parent = parent;
    this.#bindings = bindings;
    this.#options = options;
  }

  get logger(): FastifyBaseLogger {
    return (this.#child ??= this.#parent.child(this.#bindings, this.#options));
  }

  get level(): string {
    return this.#child?.level ?? this.#options.level ?? this.#parent.level;
  }

  set level(level: string) {
    this.logger.level = level;
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.logger.child(bindings, options);
  }
}
for (const method of logMethods) {
  Object.defineProperty(RequestLogger.prototype, method, {
    value(this: RequestLogger, ...args: unknown[]) {
      (this.logger[method] as (...args: unknown[]) => void)(...args);
    },
  });
}

/** Fastify's `childLoggerFactory`: each request's logger, created lazily (see RequestLogger). */
export function requestLogger(logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  return new RequestLogger(logger, bindings, options) as unknown as FastifyBaseLogger;
}
