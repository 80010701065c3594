import type { FastifyReply, FastifyRequest } from 'fastify';

export interface SseStreamOptions {
  /** A comment line once nothing was written for this long keeps proxies from closing an idle stream. */
  heartbeatMs: number;
  /** A client that has not drained its backlog in this time is dropped. */
  drainTimeoutMs: number;
}

export interface SseStream {
  /** Writes and, when the socket's buffer is full, waits for it to drain or drops the client. Never rejects. */
  send(text: string): Promise<void>;
  close(): void;
  readonly closed: boolean;
  /** Runs once when the stream ends, whoever ends it. */
  onClose(callback: () => void): void;
}

/**
 * Takes the response over as a Server-Sent Events stream (hijacked from Fastify): the head with
 * the security headers already set, heartbeats while idle, and a bounded backlog, so memory per
 * stream stays at what one write holds and a client that stops reading is dropped.
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

  let closed = false;
  let sending = 0;
  let heartbeat: NodeJS.Timeout | undefined;
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

  async function send(text: string): Promise<void> {
    if (closed) return;
    sending += 1;
    try {
      if (socket.write(text)) return;
      const drained = await new Promise<boolean>((resolve) => {
        const settle = (value: boolean) => {
          clearTimeout(timer);
          socket.off('drain', onDrain);
          socket.off('close', onClose);
          resolve(value);
        };
        const onDrain = () => settle(true);
        const onClose = () => settle(false);
        const timer = setTimeout(() => settle(false), options.drainTimeoutMs);
        socket.on('drain', onDrain);
        socket.on('close', onClose);
      });
      if (!drained && !closed) {
        request.log.info({ requestId: request.id }, 'event stream client too slow: dropped');
        close();
      }
    } catch (error) {
      request.log.warn({ err: error }, 'event stream ended by an error');
      close();
    } finally {
      sending -= 1;
      armHeartbeat();
    }
  }

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
