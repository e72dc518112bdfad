import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const packageDir = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(packageDir, 'bin', 'toolmux.js');
const repoRoot = join(packageDir, '..', '..');

describe('the toolmux bin', () => {
  it('is a committed file, so installing links it before anything is built', () => {
    const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
    expect(manifest.bin).toEqual({ toolmux: './bin/toolmux.js' });
    expect(manifest.files).toContain('bin');
    expect(readFileSync(BIN, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('runs the built CLI', async () => {
    const { stdout } = await run(process.execPath, [BIN, 'toolkits', 'list', '--json']);
    const slugs = (JSON.parse(stdout) as Array<{ slug: string }>).map((toolkit) => toolkit.slug);
    expect(slugs).toEqual(expect.arrayContaining(['github', 'hackernews']));
  });

  it('says to build first, in one line, when dist/ is missing', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'toolmux-bin-'));
    try {
      mkdirSync(join(copy, 'bin'));
      copyFileSync(BIN, join(copy, 'bin', 'toolmux.js'));
      const failed = await run(process.execPath, [join(copy, 'bin', 'toolmux.js'), '--help']).then(
        () => undefined,
        (error: { code: number; stderr: string }) => error,
      );
      expect(failed?.code).toBe(1);
      expect(failed?.stderr).toBe(
        'toolmux: @toolmux/server is not built yet. Run `pnpm build` in the toolmux repository first.\n',
      );
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it('`pnpm toolmux …` runs it from the repository root', async () => {
    const { stdout } = await run('pnpm', ['--silent', 'toolmux', 'toolkits', 'list', '--json'], {
      cwd: repoRoot,
    });
    expect((JSON.parse(stdout) as unknown[]).length).toBeGreaterThan(5);
  });
});
