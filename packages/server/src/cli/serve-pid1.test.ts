import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  API_KEY,
  api,
  CLI,
  cleanEnv,
  eventually,
  forStarts,
  SECRET_KEY,
  SLOW,
  serveTestHooks,
  startServe,
  tempDirectory,
} from '../test-serve.js';

/**
 * `toolmux serve` as PID 1, as in a container without an init (`docker run` without `--init`): the
 * kernel ignores a signal that PID 1 does not handle, its own `process.kill` included. On the code
 * before, SIGINT / SIGTERM while the store opened did nothing (the start went on, or failed at
 * startupTimeoutMs), and the second signal during the drain printed "exiting now" and then drained on.
 * `unshare --pid --fork` runs Node.js as PID 1 of a new PID namespace (root only: skipped elsewhere).
 */
serveTestHooks();

const PID1 = ['unshare', '--pid', '--fork'];
const noNamespace = spawnSync(PID1[0]!, [...PID1.slice(1), 'true']).status !== 0;

/** The process `unshare` forked: Node.js, PID 1 of its namespace. */
function nodeUnder(unshare: number): number {
  return Number(readFileSync(`/proc/${unshare}/task/${unshare}/children`, 'utf8').trim().split(' ')[0]);
}

describe.skipIf(noNamespace)('toolmux serve as PID 1 (unshare --pid)', () => {
  it('ends at a second SIGTERM during the drain, cutting the call off, exit 143', forStarts(2), async () => {
    const cwd = tempDirectory();
    writeFileSync(
      join(cwd, 'toolmux.config.json'),
      JSON.stringify({
        toolkits: [SLOW],
        store: 'sqlite:./data/toolmux.db',
        port: 0,
        shutdownTimeoutMs: 30_000,
      }),
    );
    const served = await startServe(['--log-format', 'json'], {
      cwd,
      env: { TOOLMUX_API_KEY: API_KEY },
      prefix: PID1,
    });
    expect(served.lines()[0]).toMatchObject({ pid: 1 });
    const node = nodeUnder(served.child.pid!);
    const exited = new Promise<number | null>((resolve) => served.child.once('exit', resolve));
    const session = await api(served.url, 'POST', '/sessions', {
      user_id: 'pid1_user',
      config: { toolkits: ['slow'] },
    });
    // a call the drain would wait 10 s for
    const call = api(served.url, 'POST', `/sessions/${session.json.session_id}/execute`, {
      tool_slug: 'SLOW_WAIT',
      arguments: { ms: 10_000 },
    }).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 300));
    process.kill(node, 'SIGTERM');
    await eventually(async () =>
      expect(served.lines().some((line) => String(line.msg).includes('stopping'))).toBe(true),
    );
    process.kill(node, 'SIGTERM');
    // on the code before, the drain went on: the call was answered and the exit code was 0
    expect(await exited).toBe(143);
    expect(await call).toBeInstanceOf(Error);
  });

  it('ends at SIGTERM while the store opens, exit 143', forStarts(2), async () => {
    // a database that takes connections and never answers: the start waits for it
    const connected: Socket[] = [];
    const blackHole = createServer((socket) => {
      connected.push(socket);
    });
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
    const { port } = blackHole.address() as { port: number };
    const cwd = tempDirectory();
    writeFileSync(join(cwd, 'toolmux.config.json'), JSON.stringify({ port: 0, startupTimeoutMs: 30_000 }));
    const child = spawn(PID1[0]!, [...PID1.slice(1), process.execPath, CLI, 'serve'], {
      cwd,
      env: cleanEnv({
        TOOLMUX_API_KEY: API_KEY,
        TOOLMUX_SECRET_KEY: SECRET_KEY,
        TOOLMUX_STORE: `postgres://toolmux@127.0.0.1:${port}/toolmux`,
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      await eventually(async () => expect(connected.length).toBeGreaterThan(0));
      process.kill(nodeUnder(child.pid!), 'SIGTERM');
      // on the code before, the signal was ignored: the start failed when pg gave up connecting (exit 1)
      expect(await exited).toBe(143);
      expect(stderr).toBe('');
    } finally {
      child.kill('SIGKILL');
      for (const socket of connected) socket.destroy();
      blackHole.close();
    }
  });
});
