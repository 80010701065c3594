import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSseParser, SseParseError, type SseEvent, type SseParserOptions } from './sse.js';

const bytes = (text: string) => new TextEncoder().encode(text);

/** Feeds the chunks one by one, then ends the stream; returns every event dispatched. */
function parse(chunks: readonly (string | Uint8Array)[], options?: SseParserOptions): { events: SseEvent[]; retry: number | undefined; lastEventId: string } {
  const parser = createSseParser(options);
  const events: SseEvent[] = [];
  for (const chunk of chunks) events.push(...parser.push(typeof chunk === 'string' ? bytes(chunk) : chunk));
  events.push(...parser.end());
  return { events, retry: parser.retry, lastEventId: parser.lastEventId };
}

/** Every way of cutting `text` into two chunks, byte by byte. */
function everySplit(text: string): Uint8Array[][] {
  const all = bytes(text);
  const splits: Uint8Array[][] = [];
  for (let at = 0; at <= all.length; at += 1) splits.push([all.slice(0, at), all.slice(at)]);
  return splits;
}

const message = (data: string, lastEventId = '', type = 'message'): SseEvent => ({ type, data, lastEventId });

const cases: { name: string; chunks: (string | Uint8Array)[]; events: SseEvent[]; retry?: number; lastEventId?: string }[] = [
  { name: 'one event, LF', chunks: ['data: a\n\n'], events: [message('a')] },
  { name: 'one event, CRLF', chunks: ['data: a\r\n\r\n'], events: [message('a')] },
  { name: 'one event, CR', chunks: ['data: a\r\r'], events: [message('a')] },
  { name: 'mixed line ends', chunks: ['data: a\rdata: b\r\ndata: c\n\r\n'], events: [message('a\nb\nc')] },
  { name: 'CR at a chunk end, LF opening the next: one line break', chunks: ['data: a\r', '\ndata: b\r', '\n\r', '\n'], events: [message('a\nb')] },
  { name: 'CR at a chunk end, then another CR: two line breaks', chunks: ['data: a\r', '\rdata: b\n\n'], events: [message('a'), message('b')] },
  { name: 'multi-line data joined by LF, the last LF removed', chunks: ['data: one\ndata: two\ndata:\n\n'], events: [message('one\ntwo\n')] },
  { name: 'only the first space after the colon is stripped', chunks: ['data:  two spaces\ndata:none\n\n'], events: [message(' two spaces\nnone')] },
  { name: 'a field name alone is an empty value', chunks: ['data\ndata\n\n'], events: [message('\n')] },
  { name: 'event type, then reset to message', chunks: ['event: ready\ndata: {}\n\ndata: x\n\n'], events: [message('{}', '', 'ready'), message('x')] },
  { name: 'comments ignored', chunks: [': heartbeat\n\n:\ndata: a\n: in the middle\n\n'], events: [message('a')] },
  { name: 'unknown fields ignored', chunks: ['foo: bar\ndata: a\nDATA: b\n\n'], events: [message('a')] },
  { name: 'no data: no event', chunks: ['event: ready\n\n'], events: [] },
  { name: 'id persists across events', chunks: ['id: 1\ndata: a\n\ndata: b\n\n'], events: [message('a', '1'), message('b', '1')] },
  { name: 'an empty id resets it', chunks: ['id: 1\ndata: a\n\nid\ndata: b\n\nid:\ndata: c\n\n'], events: [message('a', '1'), message('b', ''), message('c', '')] },
  { name: 'an id with NUL is ignored', chunks: ['id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\n'], events: [message('a', '1'), message('b', '1')] },
  { name: 'an id set by an event without data still counts', chunks: ['id: 7\n\ndata: a\n\n'], events: [message('a', '7')], lastEventId: '7' },
  { name: 'an id not dispatched is not the last event id', chunks: ['id: 1\ndata: a\n\nid: 2\ndata: b\n'], events: [message('a', '1')], lastEventId: '1' },
  { name: 'retry: digits only', chunks: ['retry: 2000\n\nretry: 20x\n\nretry: -1\n\n'], events: [], retry: 2000 },
  { name: 'a leading BOM is dropped', chunks: ['\uFEFFdata: a\n\n'], events: [message('a')] },
  { name: 'a BOM split across chunks is dropped', chunks: [new Uint8Array([0xef]), new Uint8Array([0xbb, 0xbf]), 'data: a\n\n'], events: [message('a')] },
  { name: 'a second BOM is data', chunks: ['\uFEFF\uFEFFdata: a\n\n'], events: [] },
  { name: 'a multi-byte character split across chunks', chunks: [bytes('data: é€😀\n\n').slice(0, 8), bytes('data: é€😀\n\n').slice(8)], events: [message('é€😀')] },
  { name: 'invalid UTF-8 becomes U+FFFD (not fatal)', chunks: [new Uint8Array([0x64, 0x61, 0x74, 0x61, 0x3a, 0xff, 0x0a, 0x0a])], events: [message('\uFFFD')] },
  { name: 'an event not ended by an empty line is dropped at the end', chunks: ['data: a\n\ndata: b\n'], events: [message('a')] },
  { name: 'a last line without its end is dropped', chunks: ['data: a\n\ndata: b'], events: [message('a')] },
];

describe('the SSE parser', () => {
  for (const { name, chunks, events, retry, lastEventId } of cases) {
    it(name, () => {
      const parsed = parse(chunks);
      assert.deepEqual(parsed.events, events);
      if (retry !== undefined) assert.equal(parsed.retry, retry);
      if (lastEventId !== undefined) assert.equal(parsed.lastEventId, lastEventId);
    });
  }

  it('gives the same events however the bytes are cut (every two-chunk split, and byte by byte)', () => {
    const text = '\uFEFFretry: 10\r\nid: e-1\revent: snapshot\r\ndata: {"x":"é😀"}\rdata: 2\n\r\n: c\r\rdata: last\r\n\r\n';
    const expected = parse([text]).events;
    assert.equal(expected.length, 2);
    for (const split of everySplit(text)) assert.deepEqual(parse(split).events, expected);
    assert.deepEqual(parse([...bytes(text)].map((byte) => new Uint8Array([byte]))).events, expected);
  });

  describe('caps', () => {
    const small = { maxLineBytes: 16, maxEventBytes: 32 };
    const refusals: { name: string; chunks: string[] }[] = [
      { name: 'a line over the cap in one chunk', chunks: ['data: 0123456789abcdef\n'] },
      { name: 'a line over the cap across chunks, never ended', chunks: ['data: 0123', '456789', 'abcdef'] },
      { name: 'a comment line over the cap', chunks: [': ' + 'x'.repeat(20)] },
      { name: 'a line of multi-byte characters over the cap in bytes', chunks: ['data: ' + 'é'.repeat(6)] },
      { name: 'an event whose data lines pass the cap', chunks: ['data: 0123456789\ndata: 0123456789\ndata: 0123456789\n'] },
    ];
    for (const { name, chunks } of refusals) {
      it(`refuses ${name}`, () => {
        const parser = createSseParser(small);
        assert.throws(() => {
          for (const chunk of chunks) parser.push(bytes(chunk));
        }, SseParseError);
        // Unusable after: the caller drops the stream.
        assert.throws(() => parser.push(bytes('\n\n')), SseParseError);
      });
    }

    it('accepts lines and events up to the cap, and counts afresh per line and per event', () => {
      const line = 'data: 0123456789'; // 16 bytes: the cap exactly
      assert.deepEqual(parse([`${line}\n\n${line}\n\n`], small).events, [message('0123456789'), message('0123456789')]);
      assert.deepEqual(parse([`${line}\ndata: 01234567890123456789\n\n`], { maxLineBytes: 64, maxEventBytes: 32 }).events, [message('0123456789\n01234567890123456789')]);
    });

    it('defaults to 1 MiB: a 2 MiB line is refused without being held', () => {
      const parser = createSseParser();
      const mebibyte = new Uint8Array(1024 * 1024).fill(0x61);
      parser.push(bytes('data: '));
      assert.throws(() => {
        parser.push(mebibyte);
        parser.push(mebibyte);
      }, /line longer than 1048576 bytes/);
    });

    it('the error carries the events completed before the failure in the same push', () => {
      for (const [options, tail] of [
        [small, bytes('data: 0123456789abcdef')],
        [{ fatal: true }, new Uint8Array([0x64, 0x3a, 0xff, 0x0a, 0x0a])],
      ] as const) {
        const parser = createSseParser(options);
        const good = bytes('data: a\n\ndata: b\r\r');
        const chunk = new Uint8Array([...good, ...tail]);
        assert.throws(() => parser.push(chunk), (error: unknown) => error instanceof SseParseError && JSON.stringify(error.events) === JSON.stringify([message('a'), message('b')]));
      }
    });

    it('fatal: bytes that are not UTF-8 fail the stream', () => {
      const parser = createSseParser({ fatal: true });
      assert.throws(() => parser.push(new Uint8Array([0x64, 0x61, 0x74, 0x61, 0x3a, 0xc3, 0x28, 0x0a])), /not UTF-8/);
      // A sequence cut by the end of the stream, too.
      const cut = createSseParser({ fatal: true });
      assert.deepEqual(cut.push(new Uint8Array([0x64, 0x3a, 0xe2, 0x82])), []);
      assert.throws(() => cut.end(), SseParseError);
    });
  });
});
