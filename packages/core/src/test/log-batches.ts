import { expect } from 'vitest';
import { MetaToolSlug } from '../meta-tools/meta-tools.js';
import { SqliteStore } from '../store/sqlite.js';
import type { ExecutionLogRecord, Store } from '../store/types.js';
import { ToolMux } from '../toolmux.js';
import { createSampleToolkits } from './sample-toolkits.js';

/**
 * An in-memory SQLite store that records each batch of execution log entries it is asked to insert
 * (one `insertLogs` call is one transaction): which tools' entries were committed together.
 */
export function batchRecordingStore(): { store: SqliteStore; batches: ExecutionLogRecord[][] } {
  const store = new SqliteStore({ path: ':memory:' });
  return { store, batches: recordLogBatches(store) };
}

/** Records each batch of execution log entries `store` is asked to insert, from now on. */
export function recordLogBatches(store: Store): ExecutionLogRecord[][] {
  const batches: ExecutionLogRecord[][] = [];
  const insertLogs = store.insertLogs.bind(store);
  store.insertLogs = async (records) => {
    batches.push([...records]);
    await insertLogs(records);
  };
  return batches;
}

/** A ToolMux over the sample toolkits (tasks, …) on `store`, with a fixed key and a silent logger. */
export function sampleToolMux(store: Store): ToolMux {
  return new ToolMux({
    toolkits: createSampleToolkits().toolkits,
    store,
    secretKey: Buffer.alloc(32, 5).toString('base64'),
    logger: { debug() {}, warn() {}, error() {} },
  });
}

/**
 * Runs a workbench cell that makes eleven tool calls (each in a turn of its own) on a store that
 * records its log batches, and checks that the calls' entries were committed in one transaction
 * with the cell's own entry (last), before the cell answered.
 */
export async function expectCellLogsCommittedTogether(): Promise<void> {
  const { store, batches } = batchRecordingStore();
  const mux = sampleToolMux(store);
  try {
    const session = await mux.create('user_1', { workbench: {} });
    batches.length = 0;
    const cell = await session.execute(MetaToolSlug.WORKBENCH, {
      code: `for (let i = 0; i < 10; i++) await toolmux.execute('TASKS_CREATE_TASK', { title: 't' + i });
             await toolmux.execute('NOT_A_TOOL', {});
             return 'ok'`,
    });
    expect((cell.data as { result: unknown }).result).toBe('ok');
    expect(batches.map((batch) => batch.map((entry) => entry.parentId === cell.logId))).toEqual([
      [...Array.from({ length: 11 }, () => true), false],
    ]);
    expect(batches[0]![11]!.id).toBe(cell.logId);
  } finally {
    await mux.close();
  }
}
