import { SqliteStore } from '../store/sqlite.js';
import type { ExecutionLogRecord } from '../store/types.js';

/**
 * An in-memory SQLite store that records each batch of execution log entries it is asked to insert
 * (one `insertLogs` call is one transaction): which tools' entries were committed together.
 */
export function batchRecordingStore(): { store: SqliteStore; batches: ExecutionLogRecord[][] } {
  const store = new SqliteStore({ path: ':memory:' });
  const batches: ExecutionLogRecord[][] = [];
  const insertLogs = store.insertLogs.bind(store);
  store.insertLogs = async (records) => {
    batches.push([...records]);
    await insertLogs(records);
  };
  return { store, batches };
}
