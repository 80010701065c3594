import { request as httpRequest, type IncomingMessage } from 'node:http';

/*
 * A client of GET /admin/events (and GET /auth/revocations, whose data it hands over as parsed JSON) over a real socket (inject cannot stream): parses the events and
 * comment lines as they arrive.
 */

export interface SseEvent {
  id: string;
  event: string;
  data: { type: string; seq: number; user_id: string | null; details: Record<string, unknown> };
}

/** An open stream: parsed events and comment lines as they arrive. */
export class EventStreamClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  private buffer = '';
  private waiters: Array<() => void> = [];
  ended = false;

  constructor(readonly response: IncomingMessage) {
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      this.buffer += chunk;
      let end: number;
      while ((end = this.buffer.indexOf('\n\n')) >= 0) {
        this.parse(this.buffer.slice(0, end));
        this.buffer = this.buffer.slice(end + 2);
      }
      this.notify();
    });
    response.on('close', () => {
      this.ended = true;
      this.notify();
    });
  }

  private parse(block: string): void {
    const fields: Record<string, string> = {};
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
      else {
        const colon = line.indexOf(':');
        fields[line.slice(0, colon)] = line.slice(colon + 1).trimStart();
      }
    }
    if (fields.data !== undefined) this.events.push({ id: fields.id ?? '', event: fields.event ?? '', data: JSON.parse(fields.data) as SseEvent['data'] });
  }

  private notify(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  /** Waits (bounded) until `condition` holds. */
  async until(condition: () => boolean, label: string, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100).unref();
      });
    }
  }

  close(): void {
    this.response.destroy();
  }
}

export function openStream(port: number, headers: Record<string, string>, path = '/admin/events'): Promise<EventStreamClient | IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers }, (response) => {
      if (response.statusCode === 200) resolve(new EventStreamClient(response));
      else resolve(response);
    });
    req.on('error', reject);
    req.end();
  });
}
