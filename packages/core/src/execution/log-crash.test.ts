import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../store/sqlite.js';
import type { Store } from '../store/types.js';
import { createTestPostgresUrl, postgresSkipReason } from '../test/postgres.js';

/**
 * A call answers only once its execution log entry has committed: a real child process makes calls
 * (8 callers at once, each writing a call's log id to a file as soon as it is answered) and kills
 * itself with SIGKILL right after writing its Nth answer, with other calls and commits under way;
 * every answer written has its entry in the database. Also: a process that wrote its log on SQLite ends by itself,
 * with or without `mux.close()` (the checkpoint worker, idle, does not keep it alive), every answered
 * call logged.
 */
const dist = resolve(import.meta.dirname, '../../dist/index.js');
const packageDirectory = resolve(import.meta.dirname, '../..');
const directory = mkdtempSync(join(tmpdir(), 'toolmux-log-crash-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
const skipPostgres = await postgresSkipReason();
const secretKey = Buffer.alloc(32, 7).toString('base64');

function script(
  store: string,
  {
    callers,
    calls,
    close,
    killAfter,
  }: { callers: number; calls?: number; close?: boolean; killAfter?: number },
) {
  return `
    const { openSync, writeSync } = await import('node:fs');
    const answers = openSync(process.env.ANSWERS_PATH, 'a');
    const { ToolMux, defineTool, defineToolkit } = await import(${JSON.stringify(dist)});
    const { z } = await import('zod');
    const echo = defineTool({
      slug: 'CRASH_ECHO',
      description: 'Echo a number',
      inputSchema: z.object({ n: z.number() }),
      execute: async ({ n }) => ({ n }),
    });
    const toolkit = defineToolkit({ slug: 'crash', description: 'Crash test toolkit', tools: [echo] });
    const mux = new ToolMux({
      toolkits: [toolkit],
      store: ${JSON.stringify(store)},
      secretKey: ${JSON.stringify(secretKey)},
      logger: { debug() {}, warn() {}, error: (message) => process.stderr.write(message + '\\n') },
    });
    const session = await mux.create('user_1', { toolkits: ['crash'] });
    let next = 0;
    let answered = 0;
    await Promise.all(Array.from({ length: ${callers} }, async () => {
      while (${calls === undefined ? 'true' : `next < ${calls}`}) {
        const result = await session.execute('CRASH_ECHO', { n: next++ });
        if (!result.successful) {
          process.stderr.write('call failed: ' + result.error + '\\n');
          continue;
        }
        // A file write is in the kernel once writeSync returns, so the parent reads it after a
        // kill. (Not stdout: a pipe takes many small writes only as long as its buffer has room; a
        // write it cannot take waits in the process, and a kill loses it.)
        writeSync(answers, result.logId + '\\n');
        // killed at once after this answer: no event-loop turn in between, other calls under way
        if (++answered === ${killAfter ?? -1}) process.kill(process.pid, 'SIGKILL');
      }
    }));
    ${close ? 'await mux.close();' : ''}
  `;
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  ids: string[];
  stderr: string;
  timedOut: boolean;
}

/** Runs the script, collecting the log ids it wrote as answered (complete lines only). */
function run(source: string): Promise<Run> {
  const answers = join(mkdtempSync(join(directory, 'answers-')), 'ids.txt');
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', source], {
      cwd: packageDirectory,
      env: { ...process.env, ANSWERS_PATH: answers },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, 20_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const written = existsSync(answers) ? readFileSync(answers, 'utf8').split('\n') : [];
      // a line without its newline was cut by the kill: not an answer the child finished writing
      const ids = written.slice(0, -1).filter((line) => line.length > 0);
      done({ code, signal, ids, stderr, timedOut });
    });
  });
}

async function missingEntries(
  store: Required<Pick<Store, 'getLog'>>,
  ids: readonly string[],
): Promise<string[]> {
  const missing: string[] = [];
  for (const id of ids) if ((await store.getLog(id)) === undefined) missing.push(id);
  return missing;
}

describe('an answered call keeps its execution log entry through a kill -9', () => {
  it('SQLite file', async () => {
    // a kill lands at a different point of the commits each time: a few runs, each killed elsewhere
    for (const killAfter of [1, 60, 200, 333]) {
      const path = join(mkdtempSync(join(directory, 'sqlite-')), 'toolmux.db');
      const killed = await run(script(`sqlite:${path}`, { callers: 8, killAfter }));
      expect(killed.timedOut).toBe(false);
      expect(killed.stderr).not.toContain('call failed');
      expect(killed.signal).toBe('SIGKILL');
      expect(killed.ids).toHaveLength(killAfter);
      const store = new SqliteStore({ path });
      try {
        expect(await missingEntries(store, killed.ids)).toEqual([]);
      } finally {
        await store.close();
      }
    }
  }, 60_000);

  it.skipIf(skipPostgres !== undefined)(
    'PostgreSQL',
    async () => {
      const database = await createTestPostgresUrl();
      try {
        const killed = await run(script(database.url, { callers: 8, killAfter: 200 }));
        expect(killed.timedOut).toBe(false);
        expect(killed.stderr).not.toContain('call failed');
        expect(killed.signal).toBe('SIGKILL');
        expect(killed.ids).toHaveLength(200);
        const { PostgresStore } = await import('../store/postgres.js');
        const store = await PostgresStore.create({ connectionString: database.url, poolSize: 1 });
        try {
          expect(await missingEntries(store, killed.ids)).toEqual([]);
        } finally {
          await store.close();
        }
      } finally {
        await database.cleanup();
      }
    },
    30_000,
  );
});

describe('a process that wrote its execution log on SQLite', () => {
  it('ends by itself, with or without mux.close(), every answered call logged', async () => {
    for (const close of [true, false]) {
      const path = join(mkdtempSync(join(directory, 'exit-')), 'toolmux.db');
      const ended = await run(script(`sqlite:${path}`, { callers: 4, calls: 300, close }));
      expect(ended.timedOut).toBe(false);
      expect(ended.stderr).toBe('');
      expect(ended.code).toBe(0);
      expect(ended.ids).toHaveLength(300);
      const store = new SqliteStore({ path });
      try {
        expect(await missingEntries(store, ended.ids)).toEqual([]);
      } finally {
        await store.close();
      }
    }
  }, 60_000);
});
