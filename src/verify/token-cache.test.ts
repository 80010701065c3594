import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenCache } from './token-cache.js';

describe('token cache', () => {
  it('holds at least half its size, keeps what is used, and drops the rest a generation at a time', () => {
    const cache = new TokenCache<number>(4);
    for (const [i, token] of ['a', 'b', 'c', 'd'].entries()) cache.set(token, i);
    assert.equal(cache.size, 4);
    assert.equal(cache.get('a'), 0, 'moved to the newer generation');
    cache.set('e', 4);
    // The newer generation held c, d (2 = half): it became the older, then a and e went in.
    assert.equal(cache.get('b'), undefined, 'b was in the generation dropped');
    assert.deepEqual(['a', 'e'].map((token) => cache.get(token)), [0, 4], 'the newer generation');
    assert.equal(cache.size, 4, 'c and d still in the older');
    assert.equal(cache.get('c'), 2, 'c moves up, turning the generations over');
    assert.equal(cache.get('d'), undefined, 'd went with the older generation');
    cache.delete('e');
    assert.equal(cache.get('e'), undefined);
    assert.ok(cache.size <= 4);
  });
});
