import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSampleToolkits } from '../test/sample-toolkits.js';
import { ToolMux } from '../toolmux.js';

const root = mkdtempSync(join(tmpdir(), 'toolmux-sqlite-write-lock-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** How long the other process holds the file's write lock: less than SQLite's 5 s wait of a write. */
const HOLD_MS = 2_500;

/**
 * Another process (a second server on the file, a backup, the sqlite3 shell) that takes the write
 * lock of `path` and holds it for {@link HOLD_MS}. Resolves once it holds it; `released` once it let go.
 */
async function holdWriteLock(path: string): Promise<{ released: Promise<void> }> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const { DatabaseSync } = require('node:sqlite');
       const database = new DatabaseSync(${JSON.stringify(path)});
       database.exec('BEGIN IMMEDIATE');
       console.log('locked');
       setTimeout(() => { database.exec('COMMIT'); database.close(); console.log('released'); }, ${HOLD_MS});`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let output = '';
  const released = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`exit ${code}`))));
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('locked')) resolve();
    });
    child.once('exit', () => reject(new Error(`the lock holder exited first: ${output}`)));
  });
  return { released };
}

describe('SQLite: a write while another process holds the write lock', () => {
  it("waits for the lock without holding the event loop (it held it for the whole wait, up to 5 s a statement: every other request of the process stood still), then writes: the call's log entry, a session, an update", async () => {
    const path = join(mkdtempSync(join(root, 'case-')), 'toolmux.db');
    const mux = new ToolMux({
      toolkits: createSampleToolkits().toolkits,
      store: `sqlite:${path}`,
      secretKey: randomBytes(32).toString('base64'),
      logger: { debug() {}, warn() {}, error() {} },
    });
    try {
      const session = await mux.create('user_1', { toolkits: ['tasks'] });
      const { released } = await holdWriteLock(path);
      // the longest the event loop went without running a 10 ms timer while the writes waited
      let longestGap = 0;
      let last = performance.now();
      const ticker = setInterval(() => {
        const now = performance.now();
        longestGap = Math.max(longestGap, now - last);
        last = now;
      }, 10);
      const started = performance.now();
      try {
        const [result, created, version] = await Promise.all([
          session.execute('TASKS_CREATE_TASK', { title: 'during the lock' }),
          mux.create('user_2', { toolkits: ['notes'] }),
          session.update({ metadata: { during: 'lock' } }),
        ]);
        const answeredAt = performance.now();
        expect(result).toMatchObject({ successful: true });
        expect(version).toBe(2);
        // they waited for the other process (which held the lock from before \`started\`), and wrote
        expect(answeredAt - started).toBeGreaterThan(HOLD_MS - 500);
        await released;
        expect((await session.logs()).items.map((entry) => entry.id)).toContain(result.logId);
        expect((await mux.use(created.sessionId)).userId).toBe('user_2');
      } finally {
        clearInterval(ticker);
      }
      // a liveness bound, far above a loaded machine's pauses and far below the lock's HOLD_MS
      expect(longestGap).toBeLessThan(1_000);
    } finally {
      await mux.close();
    }
  }, 30_000);
});
