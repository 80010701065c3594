/**
 * The parts of docs/ that are written from code, so they cannot drift from it: each lives between
 * `<!-- generated:<name> begin … -->` and `<!-- generated:<name> end -->` in its document, and
 * everything outside the markers stays hand-written. `npm run docs` rewrites them; docs.test.ts
 * fails when a committed document differs from what this produces.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { settings, settingsOf } from '../config/schema.js';
import { errorCodes } from '../errors/codes.js';
import { eventCatalogue, type EventDescription } from '../events/catalogue.js';

export interface GeneratedSection {
  /** Path of the document, relative to the repository root. */
  doc: string;
  name: string;
  render(): string;
}

/** A table cell: pipes would end the cell and line breaks the row. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((row) => `| ${row.map(cell).join(' | ')} |`),
  ].join('\n');
}

export function renderErrorCatalogue(): string {
  return table(
    ['code', 'status', 'default description'],
    Object.entries(errorCodes).map(([code, { status, description }]) => [`\`${code}\``, String(status), description]),
  );
}

/** The README's configuration table: every variable of the config schema, in its order. */
export function renderConfigReference(): string {
  return table(
    ['variable', 'default', 'meaning', 'status'],
    settingsOf(settings).map(({ setting }) => [`\`${setting.variable}\``, setting.defaultText, setting.description, setting.status]),
  );
}

function recorded({ outcome, severity, severityNote, sampled }: EventDescription): string {
  const notes = [sampled ? 'sampled' : undefined, severityNote].filter((note) => note !== undefined);
  return `${outcome} · ${severity}${notes.map((note) => ` (${note})`).join('')}`;
}

/** docs/events.md's catalogue: every event type of the bus and every audit anchor. */
export function renderEventCatalogue(): string {
  return table(
    ['type', 'outcome · severity', 'payload (details)', 'emitted when'],
    Object.entries(eventCatalogue).map(([type, event]) => [`\`${type}\``, recorded(event), event.payload, event.when]),
  );
}

export const sections: readonly GeneratedSection[] = [
  { doc: 'docs/errors.md', name: 'errors', render: renderErrorCatalogue },
  { doc: 'docs/events.md', name: 'events', render: renderEventCatalogue },
  { doc: 'README.md', name: 'config', render: renderConfigReference },
];

/** `text` with the section `name` replaced by `content`; throws when its markers are missing. */
export function fillSection(text: string, name: string, content: string): string {
  const begin = new RegExp(`<!-- generated:${name} begin[^\\n]*-->\\n`);
  const end = `<!-- generated:${name} end -->`;
  const start = begin.exec(text);
  const stop = text.indexOf(end);
  if (!start || stop < start.index) throw new Error(`the markers of the generated section "${name}" are missing or out of order`);
  const from = start.index + start[0].length;
  return `${text.slice(0, from)}${content}\n${text.slice(stop)}`;
}

export const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));

/** `text` of the document `doc` with each of its generated sections written from the code. */
export function regenerate(doc: string, text: string): string {
  return sections.filter((section) => section.doc === doc).reduce((written, section) => fillSection(written, section.name, section.render()), text);
}

/** Each document as it is committed and as the generator would write it. */
export function generatedDocs(root = repositoryRoot): { doc: string; committed: string; generated: string }[] {
  const docs = [...new Set(sections.map((section) => section.doc))];
  return docs.map((doc) => {
    const committed = readFileSync(new URL(doc, `file://${root}`), 'utf8');
    return { doc, committed, generated: regenerate(doc, committed) };
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const { doc, committed, generated } of generatedDocs()) {
    if (generated === committed) continue;
    writeFileSync(new URL(doc, `file://${repositoryRoot}`), generated);
    process.stdout.write(`updated ${doc}\n`);
  }
}
