import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const realBin = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url));

/** A checkout in miniature: bin/tessera.js, and whichever of src/ and dist/ the case writes. */
function checkout(root: string, files: Record<string, number>): void {
  rmSync(root, { recursive: true, force: true });
  mkdirSync(join(root, 'bin'), { recursive: true });
  copyFileSync(realBin, join(root, 'bin', 'tessera.js'));
  writeFileSync(join(root, 'package.json'), '{"type":"module"}');
  writeFileSync(join(root, 'tsconfig.build.json'), JSON.stringify({ exclude: ['src/**/*.test.ts', 'src/test-support/**', 'src/docs/**'] }));
  for (const [path, mtimeSeconds] of Object.entries(files)) {
    const file = join(root, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, path.endsWith('entry.js') ? "process.stdout.write('entry ran\\n');\n" : '\n');
    utimesSync(file, mtimeSeconds, mtimeSeconds);
  }
}

describe('bin/tessera.js', () => {
  const root = mkdtempSync(join(tmpdir(), 'tessera-bin-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const built = { 'dist/cli/entry.js': 2000, 'dist/service.js': 2000 };

  const cases: { name: string; files: Record<string, number>; refused?: RegExp }[] = [
    { name: 'dist/ missing', files: { 'src/cli/entry.ts': 1000 }, refused: /dist\/ is missing/ },
    { name: 'a source newer than its output', files: { ...built, 'src/cli/entry.ts': 1000, 'src/service.ts': 3000 }, refused: /older than src\/ \(src\/service\.ts/ },
    { name: 'a source with no output', files: { ...built, 'src/cli/entry.ts': 1000, 'src/new.ts': 1000 }, refused: /older than src\/ \(src\/new\.ts/ },
    { name: 'a current build', files: { ...built, 'src/cli/entry.ts': 1000, 'src/service.ts': 1000 } },
    { name: 'only files the build excludes changed', files: { ...built, 'src/cli/entry.ts': 1000, 'src/a.test.ts': 3000, 'src/test-support/app.ts': 3000, 'src/docs/generate.ts': 3000 } },
    { name: 'an installed package (no src/)', files: built },
  ];

  for (const { name, files, refused } of cases) {
    it(`${refused ? 'refuses' : 'runs'}: ${name}`, () => {
      checkout(root, files);
      const run = spawnSync(process.execPath, [join(root, 'bin', 'tessera.js'), 'serve'], { encoding: 'utf8' });
      if (refused) {
        assert.equal(run.status, 1);
        assert.match(run.stderr, refused);
        assert.match(run.stderr, /run `npm run build`/);
        assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
        assert.equal(run.stdout, '');
      } else {
        assert.equal(run.status, 0, run.stderr);
        assert.equal(run.stdout, 'entry ran\n');
      }
    });
  }
});
