import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

/*
 * The verification core runs in the SDK, the gateway and gRPC, without the server: its files
 * import node:crypto and each other, nothing else (no server errors, key ring, events, store,
 * Fastify or pino). Tests may also use the other node: built-ins and the independent JOSE libraries.
 */
const folder = dirname(fileURLToPath(import.meta.url));
const importPattern = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)/g;
const sibling = /^\.\/[a-z0-9-]+\.js$/;

function importsOf(file: string): string[] {
  return [...readFileSync(`${folder}/${file}`, 'utf8').matchAll(importPattern)].map((match) => match[1] ?? match[2] ?? match[3] ?? match[4]!);
}

describe('verification core: imports', () => {
  const files = readdirSync(folder).filter((name) => name.endsWith('.ts'));

  it('its source files import only node:crypto and each other', () => {
    const sources = files.filter((name) => !name.endsWith('.test.ts'));
    assert.ok(sources.length >= 6 && sources.includes('jws.ts') && sources.includes('index.ts'), `read ${sources.join(', ')}`);
    const outside = sources.flatMap((file) => importsOf(file).filter((to) => to !== 'node:crypto' && !sibling.test(to)).map((to) => `${file} -> ${to}`));
    assert.deepEqual(outside, []);
    assert.ok(importsOf('jws.ts').includes('node:crypto') && importsOf('jws.ts').includes('./algorithms.js'), 'the pattern sees both kinds');
  });

  it('its tests import only node: built-ins, jose and each other', () => {
    const outside = files
      .filter((name) => name.endsWith('.test.ts'))
      .flatMap((file) => importsOf(file).filter((to) => !to.startsWith('node:') && to !== 'jose' && !sibling.test(to)).map((to) => `${file} -> ${to}`));
    assert.deepEqual(outside, []);
  });

  it('the pattern catches every form of import', () => {
    // Spelled through variables, so this file's own imports stay what the test above reads.
    const [im, ex] = ['import', 'export'];
    const text = `${im} a from 'fastify';\n${im} type { B } from '../errors/codes.js';\n${ex} { c } from "../keys/key-ring.js";\n${im} 'pino';\nconst d = await ${im}('../store/stores.js');`;
    const found = [...text.matchAll(importPattern)].map((match) => match[1] ?? match[2] ?? match[3] ?? match[4]);
    assert.deepEqual(found, ['fastify', '../errors/codes.js', '../keys/key-ring.js', 'pino', '../store/stores.js']);
  });
});
