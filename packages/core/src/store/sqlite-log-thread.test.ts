import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { ToolMuxError } from '../errors.js';
import { logRecord } from '../test/log-records.js';
import { SqliteStore } from './sqlite.js';
import type { ExecutionLogRecord } from './types.js';

const dirs: string[] = [];
function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'toolmux-log-thread-'));
  dirs.push(dir);
  return join(dir, 'toolmux.db');
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function openStore(path = tempPath()): Promise<SqliteStore> {
  const store = new SqliteStore({ path });
  await store.migrate();
  return store;
}

function entries(count: number, changes: Partial<ExecutionLogRecord> = {}): ExecutionLogRecord[] {
  return Array.from({ length: count }, () => logRecord(changes));
}

/** Rows of the log table, read on a connection of the test's own. */
function countRows(path: string): number {
  const database = new DatabaseSync(path);
  try {
    return (database.prepare('SELECT count(*) AS n FROM toolmux_execution_logs').get() as { n: number }).n;
  } finally {
    database.close();
  }
}

/** `PRAGMA data_version` of the store's own connection: it changes only with another connection's commits. */
function dataVersion(store: SqliteStore): number {
  const { database } = store as unknown as { database: DatabaseSync };
  return (database.prepare('PRAGMA data_version').get() as { data_version: number }).data_version;
}

describe('SQLite execution log commits on a worker thread', () => {
  it("commits log batches on the worker's own connection, and answers once they have committed", async () => {
    const store = await openStore();
    try {
      expect(store.cheapLogBatches).toBe(true);
      const before = dataVersion(store);
      const batch = entries(3);
      await store.insertLogs(batch);
      // committed by another connection (the worker's), and readable on the store's as soon as answered
      expect(dataVersion(store)).toBeGreaterThan(before);
      for (const record of batch) expect((await store.getLog(record.id))?.id).toBe(record.id);
      const lone = logRecord();
      await store.insertLogs([lone]);
      expect((await store.getLog(lone.id))?.output).toBe(lone.output);
    } finally {
      await store.close();
    }
  });

  it('a :memory: store writes its log on its own connection', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    await store.migrate();
    expect(store.cheapLogBatches).toBe(false);
    const record = logRecord();
    await store.insertLogs([record]);
    expect((await store.getLog(record.id))?.id).toBe(record.id);
    await store.close();
  });

  it('batches posted while it commits are committed together; a refused batch costs only itself', async () => {
    const path = tempPath();
    const store = await openStore(path);
    try {
      const existing = logRecord();
      await store.insertLogs([existing]);
      const batches = Array.from({ length: 20 }, () => entries(5));
      // a repeated id in the middle of batch 7, a NOT NULL column left empty in batch 13
      batches[7]!.splice(2, 0, logRecord({ id: existing.id }));
      batches[13]!.push(logRecord({ userId: null as unknown as string }));
      const outcomes = await Promise.allSettled(batches.map((batch) => store.insertLogs(batch)));
      const refused = outcomes.flatMap((outcome, index) => (outcome.status === 'rejected' ? [index] : []));
      expect(refused).toEqual([7, 13]);
      for (const index of refused) {
        const { reason } = outcomes[index] as PromiseRejectedResult;
        expect(ToolMuxError.isInstance(reason) && reason.code).toBe('STORE_ERROR');
        // the database's own error, carried over from the worker
        expect(String((reason as { cause: Error }).cause.message)).toMatch(/constraint/i);
      }
      // nothing of a refused batch is stored (its transaction rolled back), everything else is
      expect(countRows(path)).toBe(1 + 18 * 5);
      for (const record of batches[7]!)
        if (record.id !== existing.id) expect(await store.getLog(record.id)).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it("a write on the store's connection waits for the log commits in flight, not in SQLite's busy handler", async () => {
    const store = await openStore();
    try {
      let committed = 0;
      const writes = Array.from({ length: 30 }, () => store.insertLogs(entries(4)).then(() => committed++));
      // the session insert runs once the worker holds no lock: after every batch posted before it
      await store.insertSession({
        id: `ses_${'2'.repeat(38)}`,
        userId: 'user_2',
        config: {},
        configVersion: 1,
        tokenHash: 'hash',
        tokenVersion: 0,
        metadata: {},
        createdAt: new Date(),
        updatedAt: new Date(),
      });
      expect(committed).toBe(30);
      await Promise.all(writes);
    } finally {
      await store.close();
    }
  });

  it('close() waits for every posted batch, then stops the worker', async () => {
    const path = tempPath();
    const store = await openStore(path);
    let committed = 0;
    for (let batch = 0; batch < 50; batch++) void store.insertLogs(entries(3)).then(() => committed++);
    await store.close();
    expect(committed).toBe(50);
    expect(countRows(path)).toBe(150);
    // a later insert is refused (the store is closed), not lost silently
    await expect(store.insertLogs(entries(1))).rejects.toMatchObject({ code: 'STORE_ERROR' });
  });
});
