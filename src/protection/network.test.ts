import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { networkOf } from './network.js';

describe('networkOf', () => {
  it('keeps IPv4, folds IPv4-mapped IPv6, and reduces IPv6 to its /64', () => {
    const cases: Array<[string, string]> = [
      ['203.0.113.9', '203.0.113.9'],
      ['::ffff:203.0.113.9', '203.0.113.9'],
      ['::FFFF:198.51.100.1', '198.51.100.1'],
      ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
      ['2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'],
      ['2001:0db8:0001:0002:0000:0000:0000:0009', '2001:db8:1:2::/64'],
      ['2001:db8::1', '2001:db8:0:0::/64'],
      ['::1', '0:0:0:0::/64'],
      ['fe80::1%eth0', 'fe80:0:0:0::/64'],
      ['64:ff9b::192.0.2.33', '64:ff9b:0:0::/64'],
      ['unknown', 'unknown'],
    ];
    for (const [ip, network] of cases) assert.equal(networkOf(ip), network, ip);
  });

  it('gives every address of one /64 the same network, and neighbours different ones', () => {
    const one = new Set(Array.from({ length: 20 }, (_, i) => networkOf(`2001:db8:aa:bb:${i.toString(16)}::${i + 1}`)));
    assert.equal(one.size, 1);
    assert.notEqual(networkOf('2001:db8:aa:bb::1'), networkOf('2001:db8:aa:bc::1'));
  });
});
