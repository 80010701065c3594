import type { FastifyReply, FastifyRequest } from 'fastify';

export interface SseStreamOptions {
  /** A comment line once nothing was written for this long keeps proxies from closing an idle stream. */
  heartbeatMs: number;
  /** A client that has not drained its backlog in this time is dropped. */
  drainTimeoutMs: number;
  /** A client whose unsent backlog passes this many bytes is dropped (default 8 MiB). */
  maxBufferedBytes?: number;
}

export interface SseStream {
  /**
   * Writes and, when the socket's buffer is full, waits for it to drain or drops the client.
   * Never rejects. Sends not awaited queue in the socket's buffer, up to `maxBufferedBytes`.
   */
  send(text: string): Promise<void>;
  close(): void;
  readonly closed: boolean;
  /** Runs once when the stream ends, whoever ends it. */
  onClose(callback: () => void): void;
}

/**
 * Takes the response over as a Server-Sent Events stream (hijacked from Fastify): the head with
 * the security headers already set, heartbeats while idle, and a bounded backlog, so a client
 * that stops reading is dropped rather than buffered for.
 */
export function openSseStream(request: FastifyRequest, reply: FastifyReply, options: SseStreamOptions): SseStream {
  reply.hijack();
  const socket = reply.raw;
  socket.writeHead(200, {
    // Written by hand (hijacked): carry over the security headers the onRequest hook set.
    ...(reply.getHeaders() as Record<string, string>),
    'cache-control': 'no-store',
    'content-type': 'text/event-stream; charset=utf-8',
    'x-request-id': request.id,
    'x-accel-buffering': 'no',
    connection: 'keep-alive',
  });

  const maxBufferedBytes = options.maxBufferedBytes ?? 8 * 1024 * 1024;
  let closed = false;
  let sending = 0;
  let heartbeat: NodeJS.Timeout | undefined;
  /** One wait for 'drain' shared by every send made while the buffer is full: true once drained. */
  let drained: Promise<boolean> | undefined;
  const callbacks: (() => void)[] = [];

  function close(): void {
    if (closed) return;
    closed = true;
    clearTimeout(heartbeat);
    socket.destroy();
    for (const callback of callbacks) callback();
  }
  socket.on('close', close);

  function armHeartbeat(): void {
    clearTimeout(heartbeat);
    if (closed) return;
    heartbeat = setTimeout(() => {
      if (sending > 0) return armHeartbeat();
      void send(': heartbeat\n\n');
    }, options.heartbeatMs);
    heartbeat.unref();
  }

  function waitForDrain(): Promise<boolean> {
    drained ??= new Promise<boolean>((resolve) => {
      const settle = (value: boolean) => {
        clearTimeout(timer);
        socket.off('drain', onDrain);
        socket.off('close', onClose);
        drained = undefined;
        resolve(value);
      };
      const onDrain = () => settle(true);
      const onClose = () => settle(false);
      const timer = setTimeout(() => settle(false), options.drainTimeoutMs);
      socket.on('drain', onDrain);
      socket.on('close', onClose);
    });
    return drained;
  }

  function dropSlowClient(): void {
    if (closed) return;
    request.log.info({ requestId: request.id }, 'event stream client too slow: dropped');
    close();
  }

  async function send(text: string): Promise<void> {
    if (closed) return;
    if (socket.writableLength > maxBufferedBytes) return dropSlowClient();
    sending += 1;
    try {
      if (socket.write(text)) return;
      if (!(await waitForDrain())) dropSlowClient();
    } catch (error) {
      request.log.warn({ err: error }, 'event stream ended by an error');
      close();
    } finally {
      sending -= 1;
      armHeartbeat();
    }
  }

  // The client may have gone while the request was being authorised: no 'close' event follows then.
  if (socket.destroyed || request.raw.socket?.destroyed !== false) close();
  armHeartbeat();
  return {
    send,
    close,
    get closed() {
      return closed;
    },
    onClose(callback) {
      if (closed) callback();
      else callbacks.push(callback);
    },
  };
}
