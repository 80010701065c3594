import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { anchorTypes } from '../audit/anchor.js';
import { envSchema } from '../config/schema.js';
import { errorCodes } from '../errors/codes.js';
import { migrations } from '../store/sql/migrate.js';
import { startTestApp } from '../test-support/app.js';
import { testBackends } from '../test-support/databases.js';
import { fillSection, generatedDocs, regenerate, repositoryRoot, sections } from './generate.js';

function readDoc(path: string): string {
  return readFileSync(new URL(path, `file://${repositoryRoot}`), 'utf8');
}

/** "METHOD /path" of every route the app serves, HEAD left out (Fastify adds it to each GET). */
function servedRoutes(printed: string): string[] {
  const routes: string[] = [];
  const parents: string[] = [];
  for (const line of printed.split('\n')) {
    const match = /^([│ ]*)[├└]── (\S+) \(([A-Z, ]+)\)$/.exec(line) ?? /^([│ ]*)[├└]── (\S+)$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    const path = (parents[depth - 1] ?? '') + match[2]!;
    parents[depth] = path;
    parents.length = depth + 1;
    for (const method of (match[3] ?? '').split(', ').filter((m) => m && m !== 'HEAD')) routes.push(`${method} ${path}`);
  }
  return routes.sort();
}

describe('generated documentation', () => {
  it('every generated section matches what `npm run docs` writes', () => {
    for (const { doc, committed, generated } of generatedDocs()) {
      if (committed === generated) continue;
      // Name the first line that differs: assert's diff of a long document says too little.
      const [had, wants] = [committed.split('\n'), generated.split('\n')];
      const line = had.findIndex((text, index) => text !== wants[index]);
      assert.fail(`${doc} drifted from the code at line ${line + 1}: run npm run docs\n  committed: ${had[line]}\n  generated: ${wants[line]}`);
    }
  });

  it('the error catalogue, the event catalogue and the configuration reference are generated', () => {
    assert.deepEqual(
      sections.map((section) => `${section.doc}#${section.name}`).sort(),
      ['README.md#config', 'docs/errors.md#errors', 'docs/events.md#events'],
    );
  });

  for (const section of sections) {
    it(`a hand edit of ${section.doc}'s "${section.name}" section is caught and undone`, () => {
      const committed = readDoc(section.doc);
      const body = fillSection(committed, section.name, section.render());
      const rows = section.render().split('\n');
      const edited = body.replace(rows.at(-1)!, `${rows.at(-1)!.slice(0, -2)} (edited) |`);
      assert.notEqual(edited, body, 'the edit changed the section');
      assert.equal(regenerate(section.doc, edited), body);
      // Text outside the markers stays as it is.
      const outside = `${edited}\nA hand-written line.\n`;
      assert.equal(regenerate(section.doc, outside), `${body}\nA hand-written line.\n`);
    });
  }

  it('a section that drifted is rewritten and markers that are missing are refused', () => {
    const cases = [
      { text: 'a\n<!-- generated:x begin (note) -->\nold\n<!-- generated:x end -->\nb', want: 'a\n<!-- generated:x begin (note) -->\nnew\n<!-- generated:x end -->\nb' },
      { text: 'a\n<!-- generated:x begin -->\n<!-- generated:x end -->\n', want: 'a\n<!-- generated:x begin -->\nnew\n<!-- generated:x end -->\n' },
    ];
    for (const { text, want } of cases) assert.equal(fillSection(text, 'x', 'new'), want);
    for (const text of ['no markers', '<!-- generated:x end -->\n<!-- generated:x begin -->\n', '<!-- generated:y begin -->\n<!-- generated:y end -->']) {
      assert.throws(() => fillSection(text, 'x', 'new'), /markers of the generated section "x"/);
    }
  });

  it('errors.md says when each registered code is raised, and lists as unregistered only codes that are', () => {
    const errors = readDoc('docs/errors.md');
    for (const code of Object.keys(errorCodes)) assert.match(errors, new RegExp(`^- \`${code}\`: \\S`, 'm'), `${code} has no "when" entry`);
    const later = /## Codes in the specification that are not in the registry yet\n\n([\s\S]*?)(\n## |$)/.exec(errors)?.[1] ?? '';
    for (const [, code] of later.matchAll(/`([a-z_]+)`/g)) assert.ok(!(code! in errorCodes), `${code} is registered but listed as not yet`);
  });

  it('README and operations.md name the current schema version', () => {
    const current = Math.max(...migrations.map((migration) => migration.version));
    const cases = [
      { doc: 'README.md', pattern: /schema is up to date \(version (\d+)\)/g },
      { doc: 'README.md', pattern: /schema is at version (\d+)/g },
      { doc: 'docs/operations.md', pattern: /at schema version (\d+)/g },
    ];
    for (const { doc, pattern } of cases) {
      const found = [...readDoc(doc).matchAll(pattern)].map((match) => Number(match[1]));
      assert.ok(found.length > 0, `${doc} no longer matches ${pattern}`);
      assert.deepEqual(new Set(found), new Set([current]), `${doc}: ${pattern}`);
    }
  });

  it("the README's configuration table lists exactly the variables of the config schema", () => {
    const readme = readDoc('README.md');
    const table = readme.slice(readme.indexOf('| variable | default |'), readme.indexOf('\n\n', readme.indexOf('| variable | default |')));
    const documented = [...table.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((match) => match[1]!).sort();
    assert.deepEqual(documented, Object.keys(envSchema.shape).sort());
  });

  it("events.md's catalogue lists exactly the event types of the bus and the audit anchors", () => {
    const bus = readFileSync(new URL('src/events/bus.ts', `file://${repositoryRoot}`), 'utf8');
    const payloads = bus.slice(bus.indexOf('export interface SecurityEventPayloads {'), bus.indexOf('\n}\n', bus.indexOf('export interface SecurityEventPayloads {')));
    const emitted = [...payloads.matchAll(/^ {2}'?([a-z_]+(?:\.[a-z_]+)?)'?: \{/gm)].map((match) => match[1]!);
    assert.ok(emitted.includes('login.succeeded') && emitted.includes('rate_limited'), 'the bus catalogue was parsed');
    const events = readDoc('docs/events.md');
    const table = events.slice(events.indexOf('| type |'), events.indexOf('\n\n', events.indexOf('| type |')));
    const documented = [...table.matchAll(/^\| (`[a-z_.]+`(?: · `[a-z_.]+`)*) \|/gm)].flatMap((match) => [...match[1]!.matchAll(/`([a-z_.]+)`/g)].map((type) => type[1]!));
    assert.deepEqual(documented.sort(), [...new Set([...emitted, ...anchorTypes])].sort());
  });

  for (const backend of testBackends()) {
    it(`api.md's route table lists exactly the routes served (${backend.name})`, async () => {
      const t = await startTestApp(backend);
      try {
        const served = servedRoutes(t.app.printRoutes({ commonPrefix: false }));
        assert.ok(served.includes('GET /auth/verify') && served.includes('DELETE /auth/sessions/:id'), 'the route listing was parsed');
        const api = readDoc('docs/api.md');
        const table = api.slice(api.indexOf('| method and path |'), api.indexOf('\n\n', api.indexOf('| method and path |')));
        const documented = [...table.matchAll(/^\| \[`([A-Z]+ \S+)`\]/gm)].map((match) => match[1]!).sort();
        assert.deepEqual(documented, served);
      } finally {
        await t.close();
      }
    });
  }
});
