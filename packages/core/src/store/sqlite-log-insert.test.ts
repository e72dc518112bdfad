import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { logRecord } from '../test/log-records.js';
import { LOG_ROWS_PER_INSERT, SqliteStore } from './sqlite.js';
import type { ExecutionLogRecord } from './types.js';

/**
 * How the SQLite store writes a batch of execution log entries: one multi-row INSERT per
 * {@link LOG_ROWS_PER_INSERT} entries (a durable call waits for the commit of its turn's batch, so
 * the statements of a batch are on every call's path), and still all or nothing.
 */

/** A store on a fresh in-memory database whose connection records every statement it runs, by SQL. */
async function countingStore(): Promise<{ store: SqliteStore; runs: string[] }> {
  const store = new SqliteStore({ path: ':memory:' });
  await store.migrate();
  const database = (store as unknown as { database: DatabaseSync }).database;
  const runs: string[] = [];
  const prepare = database.prepare.bind(database);
  database.prepare = ((text: string, ...rest: unknown[]) => {
    const statement = (prepare as (text: string, ...rest: unknown[]) => StatementSync)(text, ...rest);
    const run = statement.run.bind(statement) as (...values: unknown[]) => ReturnType<StatementSync['run']>;
    statement.run = ((...values: unknown[]) => {
      runs.push(text);
      return run(...values);
    }) as StatementSync['run'];
    return statement;
  }) as DatabaseSync['prepare'];
  return { store, runs };
}

/** Entries with ascending ids, every column set (nulls included), `parentId` on every third. */
function entries(count: number, tag: string): ExecutionLogRecord[] {
  return Array.from({ length: count }, (_, index) =>
    logRecord({
      id: `log_${tag}${String(index).padStart(30, '0')}`,
      userId: `user_${tag}`,
      callId: index % 2 === 0 ? `call_${index}` : null,
      connectedAccountId: index % 5 === 0 ? `ca_${index}` : null,
      status: index % 7 === 0 ? 'error' : 'success',
      errorCode: index % 7 === 0 ? 'TOOL_EXECUTION_FAILED' : null,
      errorMessage: index % 7 === 0 ? `failure ${index}` : null,
      durationMs: index + 0.25,
      input: JSON.stringify({ index }),
      output: JSON.stringify({ tag, index }),
      createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, index)),
      parentId: index % 3 === 0 ? `log_parent_${index}` : null,
    }),
  );
}

const isLogInsert = (text: string) => text.startsWith('INSERT INTO toolmux_execution_logs');

describe('SQLite execution log batches', () => {
  it(`are one INSERT statement per ${LOG_ROWS_PER_INSERT} entries: a turn's batch of up to ${LOG_ROWS_PER_INSERT} is one autocommitted statement, a larger one runs between BEGIN and COMMIT`, async () => {
    const { store, runs } = await countingStore();
    try {
      for (const size of [1, 16, LOG_ROWS_PER_INSERT]) {
        runs.length = 0;
        await store.insertLogs(entries(size, `a${size}_`));
        // one statement, no BEGIN and COMMIT of its own (a statement is atomic by itself)
        expect(runs, `${size} entries`).toHaveLength(1);
        expect(isLogInsert(runs[0]!)).toBe(true);
      }
      runs.length = 0;
      await store.insertLogs(entries(3 * LOG_ROWS_PER_INSERT + 4, 'b_'));
      expect(runs.map((text) => (isLogInsert(text) ? 'INSERT' : text))).toEqual([
        'BEGIN',
        'INSERT',
        'INSERT',
        'INSERT',
        'INSERT',
        'COMMIT',
      ]);
    } finally {
      await store.close();
    }
  });

  it('store every field of every entry across the statements of a batch, in order', async () => {
    const { store } = await countingStore();
    try {
      for (const size of [2, LOG_ROWS_PER_INSERT - 1, LOG_ROWS_PER_INSERT + 1, 2 * LOG_ROWS_PER_INSERT + 7]) {
        const written = entries(size, `c${size}_`);
        await store.insertLogs(written);
        const read = await store.listLogs({ userId: `user_c${size}_`, limit: 500 });
        expect(read.items).toEqual([...written].reverse());
      }
    } finally {
      await store.close();
    }
  });

  it('store none of a batch that has a refused entry, in any of its statements', async () => {
    const { store } = await countingStore();
    try {
      const size = 2 * LOG_ROWS_PER_INSERT + 7;
      for (const refused of [0, LOG_ROWS_PER_INSERT - 1, LOG_ROWS_PER_INSERT, size - 1]) {
        const tag = `d${refused}_`;
        const batch = entries(size, tag);
        // the status CHECK refuses it
        batch[refused] = { ...batch[refused]!, status: 'bogus' as ExecutionLogRecord['status'] };
        await expect(store.insertLogs(batch)).rejects.toMatchObject({ code: 'STORE_ERROR' });
        expect((await store.listLogs({ userId: `user_${tag}`, limit: 500 })).items).toEqual([]);
        // a batch as large as one statement holds, refused, is not stored either
        const one = entries(LOG_ROWS_PER_INSERT, `e${refused}_`);
        const at = refused % LOG_ROWS_PER_INSERT;
        // a duplicate id: the primary key refuses it
        one[at] = { ...one[at]!, id: one[(at + 1) % LOG_ROWS_PER_INSERT]!.id };
        await expect(store.insertLogs(one)).rejects.toMatchObject({ code: 'STORE_ERROR' });
        expect((await store.listLogs({ userId: `user_e${refused}_`, limit: 500 })).items).toEqual([]);
      }
      // the store goes on writing
      await store.insertLogs(entries(3, 'f_'));
      expect((await store.listLogs({ userId: 'user_f_', limit: 10 })).items).toHaveLength(3);
    } finally {
      await store.close();
    }
  });

  it(`prepare at most ${LOG_ROWS_PER_INSERT} INSERT statements, whatever the sizes of the batches`, async () => {
    const { store } = await countingStore();
    const database = (store as unknown as { database: DatabaseSync }).database;
    const prepared: string[] = [];
    const prepare = database.prepare.bind(database);
    database.prepare = ((text: string, ...rest: unknown[]) => {
      prepared.push(text);
      return (prepare as (text: string, ...rest: unknown[]) => StatementSync)(text, ...rest);
    }) as DatabaseSync['prepare'];
    try {
      for (let size = 1; size <= 3 * LOG_ROWS_PER_INSERT; size++) {
        await store.insertLogs(entries(size, `g${size}_`));
      }
      const inserts = prepared.filter(isLogInsert);
      expect(inserts.length).toBeLessThanOrEqual(LOG_ROWS_PER_INSERT);
      expect(new Set(inserts).size).toBe(inserts.length);
    } finally {
      await store.close();
    }
  });
});
