import { MetaToolSlug } from '../meta-tools/meta-tools.js';
import { SqliteStore } from '../store/sqlite.js';
import type { ExecutionLogRecord } from '../store/types.js';
import { ToolMux } from '../toolmux.js';
import { createSampleToolkits } from './sample-toolkits.js';

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

/**
 * Runs a workbench cell that makes eleven tool calls (each in a turn of its own) on a store that
 * records its log batches: for each batch, which of its entries have the cell as their parent, and
 * the cell's result and log id.
 */
export async function cellLogBatches(): Promise<{
  result: unknown;
  logId: string;
  batches: ExecutionLogRecord[][];
}> {
  const { store, batches } = batchRecordingStore();
  const mux = new ToolMux({
    toolkits: createSampleToolkits().toolkits,
    store,
    secretKey: Buffer.alloc(32, 5).toString('base64'),
    logger: { debug() {}, warn() {}, error() {} },
  });
  try {
    const session = await mux.create('user_1', { workbench: {} });
    batches.length = 0;
    const cell = await session.execute(MetaToolSlug.WORKBENCH, {
      code: `for (let i = 0; i < 10; i++) await toolmux.execute('TASKS_CREATE_TASK', { title: 't' + i });
             await toolmux.execute('NOT_A_TOOL', {});
             return 'ok'`,
    });
    return { result: (cell.data as { result: unknown }).result, logId: cell.logId, batches };
  } finally {
    await mux.close();
  }
}
