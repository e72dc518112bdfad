import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestPostgresUrl } from './test/postgres.js';
import { createSampleToolkits } from './test/sample-toolkits.js';
import { ToolMux } from './toolmux.js';

const run = promisify(execFile);
const dist = resolve(import.meta.dirname, '../dist');
const quiet = { debug() {}, warn() {}, error() {} };

/**
 * A second Node process (the built package, as a user would load it) resumes a session this process
 * created, runs a tool through it, and writes to the same execution log.
 */
async function useFromAnotherProcess(
  store: string,
  sessionId: string,
  secretKey?: string,
): Promise<{ userId: string; toolkits: unknown; result: unknown }> {
  const script = `
    import { ToolMux } from ${JSON.stringify(join(dist, 'index.js'))};
    import { createSampleToolkits } from ${JSON.stringify(join(dist, 'test/index.js'))};
    const mux = new ToolMux({ toolkits: createSampleToolkits().toolkits, store: process.env.STORE, logger: { debug() {}, warn() {}, error() {} } });
    const session = await mux.use(process.env.SESSION_ID);
    const result = await session.execute('TASKS_CREATE_TASK', { title: 'from the other process' });
    console.log(JSON.stringify({ userId: session.userId, toolkits: session.config.toolkits, result }));
    await mux.close();
  `;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
    env: {
      ...process.env,
      STORE: store,
      SESSION_ID: sessionId,
      ...(secretKey ? { TOOLMUX_SECRET_KEY: secretKey } : {}),
    },
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('sessions survive a restart', () => {
  it('on SQLite: created here, used from another process', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'toolmux-restart-'));
    dirs.push(dir);
    const store = `sqlite:${join(dir, 'toolmux.db')}`;
    const mux = new ToolMux({ toolkits: createSampleToolkits().toolkits, store, logger: quiet });
    const session = await mux.create('user_42', { toolkits: ['tasks'] });
    expect(statSync(join(dir, 'secret.key')).mode & 0o777).toBe(0o600);
    const other = await useFromAnotherProcess(store, session.sessionId);
    expect(other.userId).toBe('user_42');
    expect(other.toolkits).toEqual({ mode: 'enable', slugs: ['tasks'] });
    expect(other.result).toMatchObject({ successful: true, data: { title: 'from the other process' } });
    const [log] = (await session.logs()).items;
    expect(log).toMatchObject({
      toolSlug: 'TASKS_CREATE_TASK',
      sessionId: session.sessionId,
      status: 'success',
    });
    await mux.close();
  });

  it('on PostgreSQL: created here, used from another process', async () => {
    const { url, cleanup } = await createTestPostgresUrl();
    try {
      const secretKey = Buffer.alloc(32, 3).toString('base64');
      const mux = new ToolMux({
        toolkits: createSampleToolkits().toolkits,
        store: url,
        secretKey,
        logger: quiet,
      });
      const session = await mux.create('user_pg', { toolkits: ['tasks'], metadata: { via: 'pg' } });
      const other = await useFromAnotherProcess(url, session.sessionId, secretKey);
      expect(other).toMatchObject({ userId: 'user_pg', result: { successful: true } });
      expect((await session.logs()).items).toHaveLength(1);
      await mux.close();
    } finally {
      await cleanup();
    }
  });
});
