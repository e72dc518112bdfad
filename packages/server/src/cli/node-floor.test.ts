import { spawn, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  API_KEY,
  CLI,
  cleanEnv,
  expectOneLine,
  forStarts,
  SECRET_KEY,
  serveTestHooks,
  tempDirectory,
} from '../test-serve.js';

/**
 * The `toolmux` CLI runs on the Node.js every package's `engines` names (22.13: `node:sqlite`),
 * and refuses an older one in one line. It refused every Node.js before 22.18, though only a
 * TypeScript config file needs more (type stripping, on by default from 22.18): such a file is
 * refused by itself, naming the fix. These run the built CLI on each older Node.js found on the
 * machine: `/usr/bin/node` and `/usr/local/bin/node` (CI images and the dev container carry one),
 * and `TOOLMUX_TEST_OLD_NODE` (a path) for one installed elsewhere.
 */
serveTestHooks();

const CANDIDATES = [process.env.TOOLMUX_TEST_OLD_NODE, '/usr/bin/node', '/usr/local/bin/node'];

/** The Node.js binaries found whose version is at least `from` and below `to`. */
function nodesBetween(from: string, to: string): Array<{ path: string; version: string }> {
  const found: Array<{ path: string; version: string }> = [];
  for (const path of new Set(CANDIDATES)) {
    if (!path || path === process.execPath || !existsSync(path)) continue;
    const version = spawnSync(path, ['--version'], { encoding: 'utf8' }).stdout.trim();
    if (atLeast(version, from) && !atLeast(version, to)) found.push({ path, version });
  }
  if (found.length === 0)
    console.warn(`no Node.js from ${from} below ${to} found (${CANDIDATES.join(', ')})`);
  return found;
}

function atLeast(version: string, floor: string): boolean {
  const have = version.replace(/^v/, '').split('.').map(Number);
  const need = floor.split('.').map(Number);
  for (let index = 0; index < need.length; index++) {
    if ((have[index] ?? 0) !== need[index]) return (have[index] ?? 0) > need[index]!;
  }
  return true;
}

/** Runs the CLI on `node` until it exits, or until `until` is seen on stdout (then answers with the child running). */
function run(node: string, cwd: string, until?: string) {
  const child = spawn(node, [CLI, 'serve', '--port', '0'], {
    cwd,
    env: cleanEnv({ TOOLMUX_API_KEY: API_KEY, TOOLMUX_SECRET_KEY: SECRET_KEY }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  return new Promise<{ code: number | null; stdout: string; stderr: string; stop(): Promise<unknown> }>(
    (resolve) => {
      const stop = () => {
        if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
        const exited = new Promise((done) => child.once('exit', done));
        child.kill('SIGTERM');
        return exited;
      };
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (until !== undefined && stdout.includes(until)) resolve({ code: null, stdout, stderr, stop });
      });
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      child.once('exit', (code) => setImmediate(() => resolve({ code, stdout, stderr, stop })));
    },
  );
}

describe('the Node.js the CLI runs on', forStarts(3), () => {
  // skipped, not passed, where the machine has no such Node.js (`.ci/run` installs a 22.13 and
  // names it in TOOLMUX_TEST_OLD_NODE; Debian's /usr/bin/node is older than the floor)
  const older = nodesBetween('18.0.0', '22.13.0');
  const between = nodesBetween('22.13.0', '22.18.0');

  it.skipIf(older.length === 0)(
    'refuses one older than the engines floor in one line that names it',
    async () => {
      for (const { path, version } of older) {
        const result = await run(path, tempDirectory());
        expect(result.code).toBe(1);
        expect(expectOneLine(result)).toContain('Node.js >= 22.13.0 is required');
        expect(result.stderr).toContain(`this is ${version}`);
      }
    },
  );

  it.skipIf(between.length === 0)(
    'serves a JSON config from 22.13 on, and refuses a TypeScript one below 22.18 naming the fix',
    async () => {
      for (const { path, version } of between) {
        const cwd = tempDirectory();
        writeFileSync(join(cwd, 'toolmux.config.json'), JSON.stringify({ store: 'sqlite:./from-json.db' }));
        const served = await run(path, cwd, 'listening on');
        const url = /listening on (http:\/\/[^"\s]+)/.exec(served.stdout)?.[1];
        try {
          expect(url, served.stdout + served.stderr).toBeDefined();
          const created = await fetch(`${url}/api/v1/sessions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
            body: JSON.stringify({ user_id: 'old_node_user' }),
          });
          expect([version, created.status]).toEqual([version, 201]);
          // the config was read: its store is the one made
          expect(existsSync(join(cwd, 'from-json.db'))).toBe(true);
        } finally {
          await served.stop();
        }
        const typescript = tempDirectory();
        writeFileSync(join(typescript, 'toolmux.config.ts'), 'export default { port: 0 };\n');
        const refused = await run(path, typescript);
        expect(refused.code).toBe(2);
        expect(expectOneLine(refused)).toContain(
          `toolmux.config.ts: loading TypeScript needs type stripping, on by default from Node.js 22.18 (this is ${version}); upgrade Node.js, run with NODE_OPTIONS=--experimental-strip-types, or use a .mjs / .js / .json file.`,
        );
      }
    },
  );
});
