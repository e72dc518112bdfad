import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { logRecord } from '../test/log-records.js';
import { SqliteStore } from './sqlite.js';
import { SAFETY_NET_AUTOCHECKPOINT_PAGES, SqliteCheckpointer } from './sqlite-checkpointer.js';
import type { ExecutionLogRecord } from './types.js';

const dirs: string[] = [];
function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'toolmux-checkpoint-'));
  dirs.push(dir);
  return join(dir, 'toolmux.db');
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function entry(): ExecutionLogRecord {
  return logRecord({ input: '{"text":"hello"}', output: '{"text":"hello"}' });
}

describe('SQLite WAL checkpoints on a worker thread', () => {
  it("copy the store's commits into the database file, off the store's connection", async () => {
    const path = tempPath();
    const store = new SqliteStore({ path });
    await store.migrate();
    const own = store as unknown as { database: DatabaseSync };
    // the store's connection checkpoints only as a safety net
    expect(own.database.prepare('PRAGMA wal_autocheckpoint').get()).toEqual({
      wal_autocheckpoint: SAFETY_NET_AUTOCHECKPOINT_PAGES,
    });
    for (let batch = 0; batch < 10; batch++) await store.insertLogs([entry(), entry(), entry()]);
    const outcome = await store.checkpoint();
    expect(outcome?.log).toBeGreaterThan(0);
    // nothing wrote meanwhile: every frame of the WAL is in the database file now
    expect(outcome?.checkpointed).toBe(outcome?.log);
    await store.close();

    // the file holds every entry after the store is closed
    const reopened = new DatabaseSync(path);
    expect(reopened.prepare('SELECT count(*) AS n FROM toolmux_execution_logs').get()).toEqual({ n: 30 });
    reopened.close();
  });

  it('are asked for by the writes themselves, and the store keeps reading its own writes', async () => {
    const store = new SqliteStore({ path: tempPath() });
    await store.migrate();
    const checkpointer = (store as unknown as { checkpointer: SqliteCheckpointer }).checkpointer;
    const started: Array<Promise<unknown>> = [];
    const checkpoint = checkpointer.checkpoint.bind(checkpointer);
    checkpointer.checkpoint = () => {
      const running = checkpoint();
      started.push(running);
      return running;
    };
    const written: ExecutionLogRecord[] = [];
    for (let call = 0; call < 250; call++) {
      const record = entry();
      written.push(record);
      await store.insertLogs([record]);
    }
    expect(started.length).toBeGreaterThanOrEqual(1);
    await Promise.all(started);
    const page = await store.listLogs({ sessionId: written[0]!.sessionId!, limit: 1000, cursor: undefined });
    expect(page.items.map((item) => item.id).sort()).toEqual(written.map((record) => record.id).sort());
    await store.close();
  });

  it('run in a process whose main script is a module given with --input-type=module', async () => {
    // the worker's code is evaluated as the main script's kind: a module here, where `require` is not defined
    const dist = resolve(import.meta.dirname, '../../dist');
    const script = `
      import { SqliteStore } from ${JSON.stringify(join(dist, 'store/sqlite.js'))};
      const store = new SqliteStore({ path: process.env.DB_PATH });
      await store.migrate();
      console.log(JSON.stringify(await store.checkpoint()));
      await store.close();
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, DB_PATH: tempPath() },
    });
    const outcome = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(outcome).toEqual({ log: expect.any(Number), checkpointed: expect.any(Number) });
  });

  /** A checkpointer whose worker cannot open its file, and the failures it reported. */
  function failingCheckpointer() {
    const failures: Error[] = [];
    const checkpointer = new SqliteCheckpointer(join(tempPath(), 'missing-dir', 'x.db'), (error) =>
      failures.push(error),
    );
    return { checkpointer, failures };
  }

  it('gives way to the store’s own checkpoints when the worker cannot open the file', async () => {
    const { checkpointer, failures } = failingCheckpointer();
    expect(await checkpointer.checkpoint()).toBeUndefined();
    expect(failures).toHaveLength(1);
    expect(failures[0]!.message).toMatch(/unable to open|cannot open/i);
    // later writes ask for nothing more
    for (let commit = 0; commit < 200; commit++) checkpointer.written(1);
    expect(await checkpointer.checkpoint()).toBeUndefined();
    expect(failures).toHaveLength(1);
    await checkpointer.close();
  });

  it('closes when its worker failed and its thread has already ended', async () => {
    const { checkpointer, failures } = failingCheckpointer();
    expect(await checkpointer.checkpoint()).toBeUndefined();
    expect(failures).toHaveLength(1);
    // the failed thread ends on its own; close() afterwards must not wait for an 'exit' that came
    await new Promise((resolve) => setTimeout(resolve, 500));
    const closed = await Promise.race([
      checkpointer.close().then(() => 'closed'),
      new Promise((resolve) => setTimeout(() => resolve('still waiting'), 3_000)),
    ]);
    expect(closed).toBe('closed');
  });

  it('is not used for an in-memory database', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    await store.migrate();
    expect(await store.checkpoint()).toBeUndefined();
    await store.close();
  });
});
