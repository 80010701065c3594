/**
 * The parts of docs/ that are written from code, so they cannot drift from it: each lives between
 * `<!-- generated:<name> begin … -->` and `<!-- generated:<name> end -->` in its document, and
 * everything outside the markers stays hand-written. `npm run docs` rewrites them; docs.test.ts
 * fails when a committed document differs from what this produces.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { errorCodes } from '../errors/codes.js';

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

export const sections: readonly GeneratedSection[] = [{ doc: 'docs/errors.md', name: 'errors', render: renderErrorCatalogue }];

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

/** Each document as it is committed and as the generator would write it. */
export function generatedDocs(root = repositoryRoot): { doc: string; committed: string; generated: string }[] {
  const docs = [...new Set(sections.map((section) => section.doc))];
  return docs.map((doc) => {
    const committed = readFileSync(new URL(doc, `file://${root}`), 'utf8');
    const generated = sections
      .filter((section) => section.doc === doc)
      .reduce((text, section) => fillSection(text, section.name, section.render()), committed);
    return { doc, committed, generated };
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const { doc, committed, generated } of generatedDocs()) {
    if (generated === committed) continue;
    writeFileSync(new URL(doc, `file://${repositoryRoot}`), generated);
    process.stdout.write(`updated ${doc}\n`);
  }
}
