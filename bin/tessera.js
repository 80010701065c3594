#!/usr/bin/env node
// The tessera command. The TypeScript sources are compiled to dist/ by `npm run build`
// (run automatically by `npm ci` and `npm start`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/entry.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('tessera: dist/ is missing; run `npm run build` first\n');
  process.exit(1);
}
await import(entry.href);
