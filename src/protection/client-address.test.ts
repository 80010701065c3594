import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { maxForwardedEntries, proxyTrust, resolveClientAddress, type TrustProxySetting } from './client-address.js';
import { canonicalIp, formatRange, parseRange } from './ip-address.js';

type Forwarded = string | readonly string[] | undefined;
/** [what it shows, socket address, X-Forwarded-For, expected client address] */
type Case = [string, string | undefined, Forwarded, string];

const none: Case[] = [
  ['no header', '203.0.113.9', undefined, '203.0.113.9'],
  ['a spoofed header is ignored', '203.0.113.9', '198.51.100.7', '203.0.113.9'],
  ['an IPv4-mapped socket address is its IPv4 address', '::ffff:203.0.113.9', '198.51.100.7', '203.0.113.9'],
  ['an IPv6 socket address in canonical spelling', '2001:0DB8:0:0:0:0:0:0001', undefined, '2001:db8::1'],
  ['a zone id is dropped', 'fe80::1%eth0', undefined, 'fe80::1'],
  ['no socket address (closed socket)', undefined, '198.51.100.7', 'unknown'],
];

const oneHop: Case[] = [
  ['the entry next to the socket', '10.0.0.2', '203.0.113.9', '203.0.113.9'],
  ['a spoofed leftmost entry is not believed', '10.0.0.2', '198.51.100.7, 203.0.113.9', '203.0.113.9'],
  ['several header lines are one list, in order', '10.0.0.2', ['198.51.100.7', '192.0.2.4, 203.0.113.9'], '203.0.113.9'],
  ['the last line holds the nearest hop', '10.0.0.2', ['203.0.113.9', '198.51.100.7'], '198.51.100.7'],
  ['no header: the socket', '10.0.0.2', undefined, '10.0.0.2'],
  ['an empty header: the socket', '10.0.0.2', '', '10.0.0.2'],
  ['empty entries are skipped', '10.0.0.2', '198.51.100.7, ,,203.0.113.9,,', '203.0.113.9'],
  ['IPv6 entries, canonical spelling', '10.0.0.2', '2001:DB8:0000::0:1', '2001:db8::1'],
  ['IPv4-mapped entries are their IPv4 address', '10.0.0.2', '::FFFF:203.0.113.9', '203.0.113.9'],
  ['an IPv4 entry with a port', '10.0.0.2', '203.0.113.9:5678', '203.0.113.9'],
  ['a bracketed IPv6 entry with a port', '10.0.0.2', '[2001:db8::1]:80', '2001:db8::1'],
  ['a bracketed IPv6 entry', '10.0.0.2', '[::1]', '::1'],
  ['spaces and tabs around entries', '10.0.0.2', ' \t203.0.113.9\t ', '203.0.113.9'],
  ['markup is not an address: the proxy that reported it', '10.0.0.2', '<script>,"', '10.0.0.2'],
  ['a quoted address is malformed', '10.0.0.2', '"203.0.113.9"', '10.0.0.2'],
  ['a hostname is malformed', '10.0.0.2', 'client.example.com', '10.0.0.2'],
  ['an IPv6 address with a bare port is malformed', '10.0.0.2', '2001:db8::1:80:99999', '10.0.0.2'],
  ['an unbracketed IPv6 entry with a port is malformed', '10.0.0.2', '::1]:80', '10.0.0.2'],
  ['leading zeros are malformed', '10.0.0.2', '010.0.0.1', '10.0.0.2'],
  ['a zone id with markup is malformed', '10.0.0.2', 'fe80::1%<b>', '10.0.0.2'],
  ['a port out of range syntax is malformed', '10.0.0.2', '203.0.113.9:123456', '10.0.0.2'],
  ['malformed text left of the client is never read', '10.0.0.2', '<script>, 203.0.113.9', '203.0.113.9'],
  ['a 100 KiB entry is malformed', '10.0.0.2', 'a'.repeat(100 * 1024), '10.0.0.2'],
  ['a 100 KiB entry left of the client is never read', '10.0.0.2', `${'a'.repeat(100 * 1024)},203.0.113.9`, '203.0.113.9'],
  ['a million commas', '10.0.0.2', ','.repeat(1_000_000), '10.0.0.2'],
];

const twoHops: Case[] = [
  ['two hops from the socket', '10.0.0.2', '198.51.100.7, 203.0.113.9, 10.0.0.1', '203.0.113.9'],
  ['a chain shorter than the count: the leftmost', '10.0.0.2', '203.0.113.9', '203.0.113.9'],
  ['no header: the socket', '10.0.0.2', undefined, '10.0.0.2'],
  ['a malformed first hop: the socket', '10.0.0.2', '203.0.113.9, junk', '10.0.0.2'],
  ['a malformed second hop: the proxy that reported it', '10.0.0.2', 'junk, 10.0.0.1', '10.0.0.1'],
  ['the second of two header lines', '10.0.0.2', ['203.0.113.9', '10.0.0.1'], '203.0.113.9'],
];

const ranges: Case[] = [
  ['an untrusted peer: its header is ignored', '192.0.2.1', '203.0.113.9', '192.0.2.1'],
  ['a trusted peer: the entry next to it', '10.1.2.3', '203.0.113.9', '203.0.113.9'],
  ['trusted hops are skipped; the first untrusted is the client', '10.1.2.3', '198.51.100.7, 203.0.113.9, 10.9.9.9', '203.0.113.9'],
  ['every hop trusted: the leftmost', '10.1.2.3', '10.3.3.3, 10.9.9.9', '10.3.3.3'],
  ['a trusted peer without the header: the peer', '10.1.2.3', undefined, '10.1.2.3'],
  ['a single trusted address', '192.0.2.200', '203.0.113.9', '203.0.113.9'],
  ['a trusted IPv4-mapped peer', '::ffff:10.1.2.3', '203.0.113.9', '203.0.113.9'],
  ['a trusted IPv6 peer in another spelling', '2001:DB8:0:0::7', '203.0.113.9', '203.0.113.9'],
  ['an IPv6 client behind a trusted IPv6 proxy', '2001:db8::7', '2001:db9:ffff::1, [2001:db9:1:2::3]:443', '2001:db9:1:2::3'],
  ['an IPv6 address outside the /32', '2001:db9::7', '203.0.113.9', '2001:db9::7'],
  ['a trusted IPv6 hop is skipped', '2001:db8::7', '2001:db9:1:2::3, 2001:db8:ffff::1', '2001:db9:1:2::3'],
  ['a mapped entry that is trusted is skipped', '10.1.2.3', '203.0.113.9, ::ffff:10.4.4.4', '203.0.113.9'],
  ['a malformed entry right of the client: the proxy that reported it', '10.1.2.3', '203.0.113.9, <script>', '10.1.2.3'],
  ['the finding: <script>," never becomes "', '10.1.2.3', '<script>,"', '10.1.2.3'],
  ['empty entries between hops are skipped', '10.1.2.3', '203.0.113.9, , 10.9.9.9', '203.0.113.9'],
  [
    `at most ${maxForwardedEntries} entries are examined`,
    '10.1.2.3',
    [...Array<string>(100).fill('203.0.113.9'), ...Array<string>(maxForwardedEntries).fill('10.5.5.5')].join(','),
    '10.5.5.5',
  ],
  ['100 000 trusted entries: bounded, the leftmost examined', '10.1.2.3', Array<string>(100_000).fill('10.5.5.5').join(','), '10.5.5.5'],
];

const settings: [string, TrustProxySetting, Case[]][] = [
  ['false', false, none],
  ['0 hops', 0, none],
  ['1 hop', 1, oneHop],
  ['2 hops', 2, twoHops],
  ['10.0.0.0/8, 192.0.2.200, 2001:db8::/32', ['10.0.0.0/8', '192.0.2.200', '2001:db8::/32'], ranges],
];

describe('resolveClientAddress', () => {
  for (const [name, setting, cases] of settings) {
    it(`TESSERA_TRUST_PROXY=${name}`, () => {
      const trust = proxyTrust(setting);
      for (const [label, socket, forwarded, expected] of cases) {
        assert.equal(resolveClientAddress(socket, forwarded, trust), expected, label);
      }
    });
  }

  it('never answers anything but an address or "unknown", whatever the header holds', () => {
    const hostile = ['"', '<script>', "'; DROP TABLE", '\u0000', '1.2.3.4\r\nX: y', '[', ']', '[]:80', ':80', '%', '::ffff:', '1.2.3.4/8'];
    for (const setting of [1, 3, ['0.0.0.0/1', '128.0.0.0/1']] as TrustProxySetting[]) {
      const trust = proxyTrust(setting);
      for (const text of hostile) {
        for (const forwarded of [text, `${text},${text}`, `203.0.113.9,${text}`, [text, text]]) {
          const resolved = resolveClientAddress('10.0.0.2', forwarded, trust);
          assert.ok(resolved === '10.0.0.2' || resolved === '203.0.113.9', `${JSON.stringify(forwarded)} -> ${resolved}`);
        }
      }
    }
  });
});

describe('IP addresses and ranges', () => {
  it('spells every address one way', () => {
    const cases: [string, string | undefined][] = [
      ['203.0.113.9', '203.0.113.9'],
      ['::ffff:203.0.113.9', '203.0.113.9'],
      ['::ffff:cb00:7109', '203.0.113.9'],
      ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
      ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['2001:db8::0:1:0:0:0', '2001:db8:0:0:1::'],
      ['2001:db8:1:2:3:4:0:5', '2001:db8:1:2:3:4:0:5'],
      ['::', '::'],
      ['::1', '::1'],
      ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
      ['1.2.3', undefined],
      ['1.2.3.4:80', undefined],
      ['', undefined],
    ];
    for (const [text, expected] of cases) assert.equal(canonicalIp(text), expected, text);
  });

  it('parses ranges, and says why a range is refused', () => {
    const good: [string, string][] = [
      ['10.0.0.0/8', '10.0.0.0/8'],
      ['10.1.2.3', '10.1.2.3'],
      ['10.1.2.3/32', '10.1.2.3'],
      ['2001:DB8::/32', '2001:db8::/32'],
      ['::ffff:10.0.0.0/104', '10.0.0.0/8'],
      ['::1', '::1'],
    ];
    for (const [text, expected] of good) {
      const range = parseRange(text);
      assert.ok(!('error' in range), text);
      assert.equal(formatRange(range), expected, text);
    }
    const bad: [string, RegExp][] = [
      ['10.0.0.0/33', /prefix length/],
      ['2001:db8::/129', /prefix length/],
      ['10.0.0.0/', /prefix length/],
      ['10.0.0.0/-1', /prefix length/],
      ['10.0.0.0/8/8', /prefix length/],
      ['10.0.0.1/8', /bits set/],
      ['proxy.example.com', /not an IP/],
      ['fe80::1%eth0', /not an IP/],
      ['', /not an IP/],
    ];
    for (const [text, message] of bad) {
      const range = parseRange(text);
      assert.ok('error' in range, text);
      assert.match(range.error, message, text);
    }
  });
});
