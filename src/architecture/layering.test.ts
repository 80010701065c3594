// The layering of src/, held by its imports: each rule names who may import what. The next
// features (an SDK that runs without the server, a gateway, gRPC) depend on these staying true.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const srcRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

interface ImportEdge {
  from: string;
  /** A path under src/ (`tokens/jws.ts`), or the bare specifier of a package or builtin. */
  to: string;
  local: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Static imports, `import type`, re-exports and literal `import('…')` calls. */
const importPattern = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function importsOf(file: string): ImportEdge[] {
  const text = readFileSync(file, 'utf8');
  const from = relative(srcRoot, file);
  const edges: ImportEdge[] = [];
  for (const match of text.matchAll(importPattern)) {
    const specifier = match[1] ?? match[2] ?? match[3]!;
    if (specifier.startsWith('.')) {
      const to = relative(srcRoot, resolve(dirname(file), specifier)).replace(/\.js$/, '.ts');
      edges.push({ from, to, local: true });
    } else {
      edges.push({ from, to: specifier, local: false });
    }
  }
  return edges;
}

const files = sourceFiles(srcRoot).filter((file) => !relative(srcRoot, file).startsWith('test-support/'));
const edges = files.flatMap(importsOf);
const under = (path: string, ...folders: string[]) => folders.some((folder) => path === folder || path.startsWith(`${folder}/`));
const show = (list: ImportEdge[]) => list.map((edge) => `${edge.from} -> ${edge.to}`);

describe('layering of src/', () => {
  it('reads the imports it judges (the walker is not blind)', () => {
    assert.ok(files.length > 100, `only ${files.length} source files found`);
    assert.ok(edges.some((edge) => edge.from === 'app/create-tessera.ts' && edge.to === 'app/storage.ts'));
    assert.ok(edges.some((edge) => edge.from === 'app/storage.ts' && edge.to === 'store/sql/postgres-db.ts'), 'dynamic import() is followed');
    for (const edge of edges.filter((edge) => edge.local)) {
      assert.ok(files.some((file) => relative(srcRoot, file) === edge.to), `${edge.from} imports ${edge.to}, which does not exist`);
    }
  });

  it('the HTTP layer never touches a store', () => {
    assert.deepEqual(show(edges.filter((edge) => under(edge.from, 'server') && under(edge.to, 'store'))), []);
  });

  it('only the entry points import the composition root, the HTTP layer or the CLI', () => {
    const entry = ['app', 'server', 'cli', 'index.ts', 'docs'];
    const upward = edges.filter((edge) => edge.local && under(edge.to, 'app', 'server', 'cli') && !under(edge.from, ...entry));
    assert.deepEqual(show(upward), []);
    // The server is built from the app, never the other way round.
    assert.deepEqual(show(edges.filter((edge) => under(edge.from, 'app') && under(edge.to, 'server', 'cli'))), []);
  });

  it('features take the stores they touch, never the aggregates or an adapter', () => {
    const wiring = ['store', 'app', 'cli'];
    const aggregates = ['store/stores.ts', 'store/hot/hot-state.ts'];
    const reaching = edges.filter(
      (edge) => edge.local && !under(edge.from, ...wiring) && (aggregates.includes(edge.to) || under(edge.to, 'store/sql', 'store/hot/redis-hot-state.ts', 'store/hot/memory-hot-state.ts')),
    );
    assert.deepEqual(show(reaching), []);
  });

  it('the verification core imports nothing but itself and node:crypto', () => {
    const core = edges.filter((edge) => under(edge.from, 'verify'));
    assert.ok(core.length > 0, 'src/verify/ exists and imports something');
    // Each middleware adapter may name its own framework (for types: the SDK's test proves none is loaded).
    const framework = (edge: { from: string; to: string }) => edge.from === `verify/sdk/middleware/${edge.to}.ts`;
    const outside = core.filter((edge) => (edge.local ? !under(edge.to, 'verify') : !['node:crypto', 'node:buffer'].includes(edge.to) && !framework(edge)));
    assert.deepEqual(show(outside), []);
  });

  it('has no import circles', () => {
    const next = new Map<string, string[]>();
    for (const edge of edges.filter((edge) => edge.local)) next.set(edge.from, [...(next.get(edge.from) ?? []), edge.to]);
    const circles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const path: string[] = [];
    const visit = (file: string) => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        circles.push([...path.slice(path.indexOf(file)), file].join(' -> '));
        return;
      }
      state.set(file, 'open');
      path.push(file);
      for (const to of next.get(file) ?? []) visit(to);
      path.pop();
      state.set(file, 'done');
    };
    for (const file of next.keys()) visit(file);
    assert.deepEqual(circles, []);
  });
});
