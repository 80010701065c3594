/**
 * A bounded Server-Sent Events parser (the WHATWG EventSource "event stream interpretation"):
 * bytes in, dispatched events out. No dependency and no I/O, so the revocation subscription can
 * read a stream from a server it does not trust: every line and every event is capped, and past
 * a cap the parser fails instead of buffering for ever.
 */

/** One dispatched event. */
export interface SseEvent {
  /** The `event` field, or `message` without one. */
  readonly type: string;
  /** The `data` lines joined by `\n`. */
  readonly data: string;
  /** The last event id set on the stream so far (it persists across events; `id:` alone resets it to ''). */
  readonly lastEventId: string;
}

export interface SseParserOptions {
  /** The longest line held while waiting for its end, in UTF-8 bytes (default 1 MiB). */
  maxLineBytes?: number;
  /** The most `data` (and `event`) bytes one event may gather (default 1 MiB). */
  maxEventBytes?: number;
  /**
   * Refuse bytes that are not UTF-8 (SseParseError) instead of decoding them as U+FFFD, as a
   * browser does: a client that acts on the data may prefer a broken stream to a mangled value.
   */
  fatal?: boolean;
}

export interface SseParser {
  /** Reads more of the stream; returns the events it completed, in order. Throws SseParseError past a cap. */
  push(chunk: Uint8Array): SseEvent[];
  /** The stream ended: what was not completed by an empty line is dropped, as the standard says. */
  end(): SseEvent[];
  /** The last `retry` field's value (ms), if any: a hint the caller may bound and follow. */
  readonly retry: number | undefined;
  /** The stream's last event id (set when an event ends, even one without data), as on the events. */
  readonly lastEventId: string;
}

/** The stream broke a rule the parser enforces (a cap, or bytes that are not UTF-8): it is unusable. */
export class SseParseError extends Error {
  /** The events completed before the failure (in the same push), in order: the caller may still act on them. */
  events: SseEvent[] = [];

  constructor(message: string) {
    super(message);
    this.name = 'SseParseError';
  }
}

export const defaultMaxSseBytes = 1024 * 1024;

const CR = 0x0d;
const LF = 0x0a;
const lineBreak = /[\r\n]/g;

/** UTF-8 length without Buffer (the SDK also runs where there is none). A lone surrogate counts 3, as its U+FFFD would. */
function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4; // a surrogate pair: one code point past U+FFFF
      i += 1;
    } else bytes += 3;
  }
  return bytes;
}

export function createSseParser(options: SseParserOptions = {}): SseParser {
  const maxLineBytes = options.maxLineBytes ?? defaultMaxSseBytes;
  const maxEventBytes = options.maxEventBytes ?? defaultMaxSseBytes;
  // The decoder strips one leading BOM (ignoreBOM false), also when it is split across chunks.
  const decoder = new TextDecoder('utf-8', { fatal: options.fatal === true });

  /** The line read so far, in pieces (a line may span many chunks). */
  let pending: string[] = [];
  let pendingBytes = 0;
  /** The last chunk ended with CR: a LF opening the next one belongs to that line break. */
  let skipLineFeed = false;
  let dataLines: string[] = [];
  let eventType = '';
  let eventBytes = 0;
  /** The id fields' value so far; it becomes the stream's last event id when an event is dispatched. */
  let idBuffer = '';
  let lastEventId = '';
  let retry: number | undefined;
  let failure: SseParseError | undefined;

  function fail(message: string): never {
    failure = new SseParseError(message);
    throw failure;
  }

  function hold(piece: string): void {
    if (piece.length === 0) return;
    pendingBytes += utf8Length(piece);
    if (pendingBytes > maxLineBytes) fail(`a line longer than ${maxLineBytes} bytes`);
    pending.push(piece);
  }

  function gather(bytes: number): void {
    eventBytes += bytes;
    if (eventBytes > maxEventBytes) fail(`an event larger than ${maxEventBytes} bytes`);
  }

  function dispatch(events: SseEvent[]): void {
    const type = eventType;
    const lines = dataLines;
    dataLines = [];
    eventType = '';
    eventBytes = 0;
    lastEventId = idBuffer;
    // An event without data lines only sets the id.
    if (lines.length === 0) return;
    events.push({ type: type === '' ? 'message' : type, data: lines.join('\n'), lastEventId });
  }

  function processLine(line: string, events: SseEvent[]): void {
    if (line === '') return dispatch(events);
    if (line.charCodeAt(0) === 0x3a) return; // ':' a comment
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 0x20) value = value.slice(1);
    switch (field) {
      case 'event':
        gather(utf8Length(value));
        eventType = value;
        return;
      case 'data':
        gather(utf8Length(value) + 1);
        dataLines.push(value);
        return;
      case 'id':
        if (!value.includes('\0')) idBuffer = value;
        return;
      case 'retry':
        if (/^\d+$/.test(value)) retry = Number(value);
        return;
      default:
        // Unknown fields are ignored.
        return;
    }
  }

  function feed(text: string, events: SseEvent[]): SseEvent[] {
    let start = 0;
    if (skipLineFeed && text.length > 0) {
      if (text.charCodeAt(0) === LF) start = 1;
      skipLineFeed = false;
    }
    lineBreak.lastIndex = start;
    for (let match = lineBreak.exec(text); match !== null; match = lineBreak.exec(text)) {
      const at = match.index;
      hold(text.slice(start, at));
      const line = pending.join('');
      pending = [];
      pendingBytes = 0;
      processLine(line, events);
      let next = at + 1;
      if (text.charCodeAt(at) === CR) {
        if (next === text.length) skipLineFeed = true;
        else if (text.charCodeAt(next) === LF) next += 1;
      }
      start = next;
      lineBreak.lastIndex = next;
    }
    hold(text.slice(start));
    return events;
  }

  function decode(chunk: Uint8Array | undefined): string {
    try {
      return chunk === undefined ? decoder.decode() : decoder.decode(chunk, { stream: true });
    } catch {
      return fail('bytes that are not UTF-8');
    }
  }

  return {
    push(chunk) {
      if (failure) throw failure;
      const events: SseEvent[] = [];
      try {
        if (options.fatal !== true) return feed(decode(chunk), events);
        // Decoded line by line (a CR or LF byte is never inside a UTF-8 sequence), so the events
        // before bytes that are not UTF-8 are still dispatched.
        for (let from = 0; from < chunk.length; ) {
          const to = Math.min(...[chunk.indexOf(LF, from), chunk.indexOf(CR, from), chunk.length - 1].filter((at) => at !== -1)) + 1;
          feed(decode(chunk.subarray(from, to)), events);
          from = to;
        }
        return events;
      } catch (error) {
        if (error instanceof SseParseError) error.events = events;
        throw error;
      }
    },
    end() {
      if (failure) throw failure;
      const events = feed(decode(undefined), []);
      pending = [];
      pendingBytes = 0;
      dataLines = [];
      eventType = '';
      eventBytes = 0;
      return events;
    },
    get retry() {
      return retry;
    },
    get lastEventId() {
      return lastEventId;
    },
  };
}
