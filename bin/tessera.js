#!/usr/bin/env node
// The tessera command. The TypeScript sources are compiled to dist/ by `npm run build` (run by
// `npm ci`); `npm start` runs dist/ as it is, so a checkout edited since the last build is refused
// here rather than served stale. `npm run dev` runs the sources directly and restarts on change.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = join(root, 'src');
const dist = join(root, 'dist');

function fail(message) {
  process.stderr.write(`tessera: ${message}; run \`npm run build\` first (or \`npm run dev\` to run the sources)\n`);
  process.exit(1);
}

// tsconfig.build.json's exclude globs (src/**/*.test.ts and the like) as regular expressions.
function buildExcludes() {
  const config = join(root, 'tsconfig.build.json');
  const { exclude = [] } = existsSync(config) ? JSON.parse(readFileSync(config, 'utf8')) : {};
  return exclude.map((glob) => {
    const pattern = glob
      .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
      .replace(/\*\*\//g, '\0')
      .replace(/\*\*/g, '.*')
      .replace(/\*/g, '[^/]*')
      .replaceAll('\0', '(?:.*/)?');
    return new RegExp(`^${pattern}$`);
  });
}

/** The sources the build compiles: every .ts under src/ that tsconfig.build.json does not exclude. */
function* builtSources(dir, excludes) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const name = relative(root, path).split(sep).join('/');
    if (entry.isDirectory()) yield* builtSources(path, excludes);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts') && !excludes.some((exclude) => exclude.test(name))) yield path;
  }
}

/**
 * The first source newer than its compiled file, if any. A build rewrites every output, so one
 * stat pair per file (a few ms for the whole tree) tells a stale dist/ from a current one.
 * Installed packages ship no src/, and have nothing to compare.
 */
function staleSource() {
  if (!existsSync(src)) return undefined;
  for (const source of builtSources(src, buildExcludes())) {
    const compiled = join(dist, relative(src, source)).replace(/\.ts$/, '.js');
    if (!existsSync(compiled) || statSync(compiled).mtimeMs < statSync(source).mtimeMs) return relative(root, source);
  }
  return undefined;
}

const entry = join(dist, 'cli', 'entry.js');
if (!existsSync(entry)) fail('dist/ is missing');
const stale = staleSource();
if (stale !== undefined) fail(`dist/ is older than src/ (${stale} changed since the last build)`);
await import(new URL('../dist/cli/entry.js', import.meta.url).href);
