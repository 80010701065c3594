import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

/*
 * tessera/verify's `default` condition (web.ts) is for runtimes without Node's modules (Cloudflare
 * Workers, Deno without its node: layer): every module it loads, followed through the source,
 * imports only other modules of the package at run time. `import type` is erased by the compiler,
 * so the Web Crypto types may come from @types/node.
 */

const folder = dirname(fileURLToPath(import.meta.url));
// import/export … from '…' that is not type-only, and side-effect imports.
const runtimeImport = /(?:^|\n)\s*(?:import|export)\s+(?!type\s)[^'";]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function runtimeGraph(entry: string): { files: string[]; external: string[] } {
  const seen = new Set<string>();
  const external: string[] = [];
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const match of readFileSync(file, 'utf8').matchAll(runtimeImport)) {
      const to = match[1] ?? match[2] ?? match[3]!;
      if (!to.startsWith('.')) {
        external.push(`${file.slice(folder.length - 'verify/sdk'.length)} -> ${to}`);
        continue;
      }
      const target = resolve(dirname(file), to.replace(/\.js$/, '.ts'));
      assert.ok(existsSync(target), `${file} imports ${to}, which does not exist`);
      pending.push(target);
    }
  }
  return { files: [...seen], external };
}

describe('tessera/verify for runtimes without node: modules', () => {
  it('loads, from web.ts, no node: built-in and no other package at run time', () => {
    const { files, external } = runtimeGraph(join(folder, 'web.ts'));
    assert.deepEqual(external, []);
    assert.ok(files.some((file) => file.endsWith('web-jws.ts')) && files.some((file) => file.endsWith('verifier.ts')), 'the graph was followed');
    assert.ok(!files.some((file) => /\/(jws|keys|node-backend|algorithms)\.ts$/.test(file)), `no node:crypto module: ${files.join(', ')}`);
  });

  it('the Node entry does load node:crypto (the pattern sees runtime imports)', () => {
    const { external } = runtimeGraph(join(folder, 'index.ts'));
    assert.ok(external.some((line) => line.endsWith('-> node:crypto')), external.join(', '));
  });
});
