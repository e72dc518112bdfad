import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../store/sqlite.js';
import type { ExecutionLogRecord, Store } from '../store/types.js';
import { batchRecordingStore, recordLogBatches, sampleToolMux } from '../test/log-batches.js';
import { logRecord } from '../test/log-records.js';
import { createTestPostgresStore, postgresSkipReason } from '../test/postgres.js';
import { recordingLogger } from '../test/recording-logger.js';
import { ExecutionLogWriter, HeldLogEntries } from './log-writer.js';

const directory = mkdtempSync(join(tmpdir(), 'toolmux-log-writer-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const skipPostgres = await postgresSkipReason();

function entry(userId: string, changes: Partial<ExecutionLogRecord> = {}): ExecutionLogRecord {
  return logRecord({
    sessionId: null,
    userId,
    toolSlug: 'TASKS_LIST_TASKS',
    toolkit: 'tasks',
    callId: `call_${userId}`,
    parentId: undefined,
    ...changes,
  });
}

/** Every stored entry, read past the writer. */
async function storedIds(store: Store): Promise<Set<string>> {
  const ids = new Set<string>();
  let cursor: string | undefined;
  do {
    const page = await store.listLogs({ limit: 1000, cursor });
    for (const item of page.items) ids.add(item.id);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return ids;
}

interface Backend {
  name: string;
  skip: string | undefined;
  open(): Promise<{ store: Store; close(): Promise<void> }>;
  /** Entries this database refuses, besides a repeated id. */
  refused: (userId: string) => ExecutionLogRecord[];
}

const backends: Backend[] = [
  {
    name: 'sqlite',
    skip: undefined,
    async open() {
      const store = new SqliteStore({ path: join(mkdtempSync(join(directory, 'db-')), 'toolmux.db') });
      await store.migrate();
      return { store, close: () => store.close() };
    },
    // SQLite's NOT NULL: a record that lost its user id
    refused: (userId) => [entry(userId, { userId: null as unknown as string })],
  },
  {
    name: 'postgres',
    skip: skipPostgres,
    async open() {
      const database = await createTestPostgresStore();
      await database.store.migrate();
      return { store: database.store, close: () => database.cleanup() };
    },
    // PostgreSQL's NOT NULL and CHECK constraints
    refused: (userId) => [
      entry(userId, { userId: null as unknown as string }),
      entry(userId, { status: 'pending' as 'success' }),
    ],
  },
];

for (const backend of backends) {
  describe.skipIf(backend.skip !== undefined)(`ExecutionLogWriter on ${backend.name}`, () => {
    it("stores every good entry of a batch when the database refuses one (other users' entries survive)", async () => {
      const { store, close } = await backend.open();
      try {
        const logger = recordingLogger();
        const { errors } = logger;
        const writer = new ExecutionLogWriter(store, logger);
        const existing = entry('user_0');
        await store.insertLogs([existing]);
        const good = Array.from({ length: 160 }, (_, index) => entry(`user_${index}`));
        const bad = [entry('user_bad', { id: existing.id }), ...backend.refused('user_bad')];
        // all written in one turn: one batch, with the bad entries in the middle
        const results = await Promise.all([
          ...good.slice(0, 80).map((record) => writer.write(record)),
          ...bad.map((record) => writer.write(record)),
          ...good.slice(80).map((record) => writer.write(record)),
        ]);
        expect(results.filter((stored) => !stored)).toHaveLength(bad.length);
        const ids = await storedIds(store);
        for (const record of good) expect(ids.has(record.id)).toBe(true);
        expect(ids.size).toBe(good.length + 1);
        expect(errors).toHaveLength(1);
        expect(errors[0]).toContain(`could not write ${bad.length} execution log entries`);
        expect(errors[0]).toContain(existing.id);
      } finally {
        await close();
      }
    });

    it('resolves each write once its entry is stored, sharing one insert among the writes of a turn', async () => {
      const { store, close } = await backend.open();
      try {
        const batches: number[] = [];
        const writer = new ExecutionLogWriter(
          {
            insertLogs: async (records) => {
              batches.push(records.length);
              await store.insertLogs(records);
            },
          },
          recordingLogger(),
        );
        const records = Array.from({ length: 50 }, (_, index) => entry(`user_${index}`));
        const seen = await Promise.all(
          records.map(async (record) => {
            expect(await writer.write(record)).toBe(true);
            // read right away, past the writer: the entry is already there
            return (await store.listLogs({ userId: record.userId, limit: 10 })).items.map((item) => item.id);
          }),
        );
        expect(seen.map((ids) => ids[0])).toEqual(records.map((record) => record.id));
        expect(batches).toEqual([50]);
        // entries written while a batch is being stored form the next one
        const first = writer.write(entry('late_0'));
        await new Promise((resolve) => setImmediate(resolve));
        const more = Array.from({ length: 20 }, (_, index) => writer.write(entry(`late_${index + 1}`)));
        await Promise.all([first, ...more]);
        expect(batches.slice(1).reduce((sum, size) => sum + size, 0)).toBe(21);
        expect(batches.length).toBeLessThanOrEqual(3);
      } finally {
        await close();
      }
    });
  });
}

describe('ExecutionLogWriter', () => {
  it('flush() waits for queued entries; close() flushes, then reports later entries as lost', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    await store.migrate();
    const logger = recordingLogger();
    const { errors } = logger;
    const writer = new ExecutionLogWriter(store, logger, { durable: false });
    const queued = entry('user_1');
    // not durable: resolves before the entry is stored
    expect(await writer.write(queued)).toBe(true);
    expect((await store.listLogs({ limit: 10 })).items).toHaveLength(0);
    await writer.flush();
    expect((await store.listLogs({ limit: 10 })).items.map((item) => item.id)).toEqual([queued.id]);
    const last = entry('user_2');
    void writer.write(last);
    await writer.close();
    expect((await store.listLogs({ limit: 10 })).items).toHaveLength(2);
    const late = entry('user_3');
    expect(await writer.write(late)).toBe(false);
    expect(errors).toEqual([
      expect.stringContaining(`${late.id} was written after the log writer was closed`),
    ]);
    await store.close();
  });

  it('with flushBeforeExit, starts storing queued entries on beforeExit', async () => {
    const batches: number[] = [];
    const writer = new ExecutionLogWriter(
      { insertLogs: async (records) => void batches.push(records.length) },
      recordingLogger(),
      { durable: false, flushBeforeExit: true },
    );
    void writer.write(entry('user_1'));
    void writer.write(entry('user_2'));
    process.emit('beforeExit', 0);
    // started at once, before the writer's own turn came
    expect(batches).toEqual([2]);
    await writer.close();
  });

  it('writes the entries of one turn as one batch, each write resolving once it is stored', async () => {
    const batches: number[] = [];
    const writer = new ExecutionLogWriter(
      { insertLogs: async (records) => void batches.push(records.length) },
      recordingLogger(),
    );
    const writes = Array.from({ length: 64 }, (_, index) => writer.write(entry(`user_${index}`)));
    expect(batches).toEqual([]);
    await Promise.all(writes);
    expect(batches).toEqual([64]);
  });

  it('with batchSize, starts a batch as soon as that many entries wait, up to four at once, the rest at the end of the turn', async () => {
    const started: number[] = [];
    const commits: Array<() => void> = [];
    const writer = new ExecutionLogWriter(
      {
        insertLogs: (records) => {
          started.push(records.length);
          return new Promise<void>((resolve) => commits.push(resolve));
        },
      },
      recordingLogger(),
      { batchSize: 16 },
    );
    const writes = Array.from({ length: 100 }, (_, index) => writer.write(entry(`user_${index}`)));
    // within the turn: four batches of 16 commit while the next entries are still being made
    expect(started).toEqual([16, 16, 16, 16]);
    await new Promise((resolve) => setImmediate(resolve));
    // four in flight: the other 36 wait for one of them, and then go as one batch
    expect(started).toEqual([16, 16, 16, 16]);
    commits.shift()!();
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual([16, 16, 16, 16, 36]);
    for (const commit of commits.splice(0)) commit();
    expect(await Promise.all(writes)).toEqual(writes.map(() => true));
  });

  it('refuses a store whose logBatchSize is not a whole number from 1 to 500, naming the value', async () => {
    for (const logBatchSize of [0, -1, 2.5, Number.NaN, 501]) {
      const store = Object.assign(new SqliteStore({ path: ':memory:' }), { logBatchSize });
      const mux = sampleToolMux(store);
      const refused = await mux.create('user_1').then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(refused).toMatchObject({ code: 'STORE_CONFIG_INVALID' });
      expect((refused as Error).message).toContain(
        `logBatchSize must be a whole number of entries from 1 to 500, got ${logBatchSize}`,
      );
      await mux.close();
    }
    // 500 is the end-of-turn batching it would do anyway
    const writer = new ExecutionLogWriter({ insertLogs: async () => {} }, recordingLogger(), {
      batchSize: 500,
    });
    expect(await writer.write(entry('user_1'))).toBe(true);
  });

  it('writeTogether() keeps its entries in one batch, and retries them together when a batch is refused', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    await store.migrate();
    const batches: string[][] = [];
    let refuse = 0;
    const writer = new ExecutionLogWriter(
      {
        insertLogs: async (records) => {
          batches.push(records.map((record) => record.userId));
          if (refuse-- > 0) throw new Error('request refused');
          await store.insertLogs(records);
        },
      },
      recordingLogger(),
      { durable: false },
    );
    // 498 entries wait: a batch of 500 would end inside the five written together
    for (let index = 0; index < 498; index++) void writer.write(entry(`single_${index}`));
    const group = Array.from({ length: 5 }, (_, index) => entry(`group_${index}`));
    expect(await writer.writeTogether(group)).toBe(true);
    await writer.flush();
    expect(batches.map((batch) => batch.length)).toEqual([498, 5]);
    expect(batches[1]).toEqual(group.map((record) => record.userId));

    // a refused batch is retried entry by entry, but the entries written together as one
    batches.length = 0;
    refuse = 1;
    void writer.write(entry('alone_1'));
    void writer.writeTogether([entry('parent'), entry('child_1'), entry('child_2')]);
    void writer.write(entry('alone_2'));
    await writer.flush();
    expect(batches).toEqual([
      ['alone_1', 'parent', 'child_1', 'child_2', 'alone_2'],
      ['alone_1'],
      ['parent', 'child_1', 'child_2'],
      ['alone_2'],
    ]);
    expect((await storedIds(store)).size).toBe(498 + 5 + 5);
    await writer.close();
    await store.close();
  });

  it("a cell's held entries and its own go in one batch, also where logBatchSize is small; a refused one is retried entry by entry", async () => {
    const batches: string[][] = [];
    let refuse = 0;
    const writer = new ExecutionLogWriter(
      {
        insertLogs: async (records) => {
          batches.push(records.map((record) => record.userId));
          if (refuse-- > 0) throw new Error('request refused');
          if (records.length === 1 && records[0]!.userId === 'bad') throw new Error('bad entry');
        },
      },
      recordingLogger(),
      // PostgreSQL starts a batch at 8 queued entries
      { batchSize: 8 },
    );
    const held = new HeldLogEntries(writer);
    for (let index = 0; index < 11; index++) held.hold(entry(`call_${index}`));
    await held.storedWith(entry('cell'));
    expect(batches).toEqual([[...Array.from({ length: 11 }, (_, index) => `call_${index}`), 'cell']]);

    batches.length = 0;
    refuse = 1;
    const next = new HeldLogEntries(writer);
    next.hold(entry('call_a'));
    next.hold(entry('bad'));
    await next.storedWith(entry('cell_2'));
    expect(batches).toEqual([['call_a', 'bad', 'cell_2'], ['call_a'], ['bad'], ['cell_2']]);
    await writer.close();
  });

  it('retries a lone entry once, for a dropped connection', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    await store.migrate();
    let failures = 1;
    const writer = new ExecutionLogWriter(
      {
        insertLogs: async (records) => {
          if (failures-- > 0) throw new Error('connection terminated');
          await store.insertLogs(records);
        },
      },
      recordingLogger(),
    );
    expect(await writer.write(entry('user_1'))).toBe(true);
    expect((await store.listLogs({ limit: 10 })).items).toHaveLength(1);
    await store.close();
  });
});

/** A writer that counts the entries handed to `given` (as the metrics of a server's ToolMux do). */
class CountingLogWriter extends ExecutionLogWriter {
  readonly given_: string[] = [];
  protected override given(record: ExecutionLogRecord): void {
    this.given_.push(record.id);
  }
}

describe('ExecutionLogWriter.given (what metrics count)', () => {
  it('sees every entry once, whichever way it is written: write, writeAll (held cell calls), writeTogether, and after close', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    await store.migrate();
    const logger = recordingLogger();
    const writer = new CountingLogWriter(store, logger);
    const held = new HeldLogEntries(writer);
    const written: string[] = [];
    const next = (userId: string) => {
      const record = entry(userId);
      written.push(record.id);
      return record;
    };
    await writer.write(next('user_write'));
    // a workbench cell: its calls are held and written with writeAll, its own entry last
    for (let index = 0; index < 3; index++) held.hold(next(`user_cell_${index}`));
    await held.storedWith(next('user_cell'));
    // a remote client's multi-execute with its calls, and a lone entry written together
    await writer.writeTogether([next('user_multi'), next('user_multi_1'), next('user_multi_2')]);
    await writer.writeTogether([next('user_alone')]);
    await writer.writeAll([next('user_all_1'), next('user_all_2')]);
    expect((await storedIds(store)).size).toBe(written.length);
    // lost entries were still calls answered: counted once as well
    await writer.close();
    await writer.writeAll([next('user_late_1'), next('user_late_2')]);
    await writer.writeTogether([next('user_late_3')]);
    await writer.writeTogether([next('user_late_4'), next('user_late_5')]);
    await writer.write(next('user_late_6'));
    // on the old code only write() told listeners: the cell's calls and writeTogether's entries were missed
    expect(writer.given_).toEqual(written);
    await store.close();
  });
});

describe('HeldLogEntries (a workbench cell’s calls)', () => {
  it('writes held entries 64 to a transaction, the rest when asked, and resolves once all are stored or reported', async () => {
    const { batches, store } = batchRecordingStore();
    await store.migrate();
    const logger = recordingLogger();
    const { errors } = logger;
    const held = new HeldLogEntries(new ExecutionLogWriter(store, logger));
    const entries = Array.from({ length: 150 }, (_, index) => entry(`user_${index}`));
    // one the database refuses (SQLite's NOT NULL): it costs only itself
    entries[140] = entry('user_bad', { userId: null as unknown as string });
    // as a cell's calls come: each in a turn of its own
    for (const record of entries) {
      held.hold(record);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await held.stored();
    const stored = await storedIds(store);
    expect(stored.size).toBe(149);
    expect(stored.has(entries[140]!.id)).toBe(false);
    // 64, 64, then the 22 left (refused as a batch, then written one by one)
    expect(batches.slice(0, 3).map((batch) => batch.length)).toEqual([64, 64, 22]);
    expect(errors).toHaveLength(1);
    await store.close();
  });

  it('writes an entry held after the cell’s last write at once (a call that ended after its cell)', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    await store.migrate();
    const logger = recordingLogger();
    const { errors } = logger;
    const writer = new ExecutionLogWriter(store, logger);
    const held = new HeldLogEntries(writer);
    held.hold(entry('user_early'));
    await held.storedWith(entry('user_cell'));
    expect((await storedIds(store)).size).toBe(2);
    // the cell's call ends later (it was aborted, or its tool did not heed the abort): no write of the
    // cell is to come, so its entry is written as it comes (on the old code it stayed held, unwritten)
    const late = entry('user_late');
    held.hold(late);
    await writer.flush();
    expect((await storedIds(store)).has(late.id)).toBe(true);
    expect(errors).toEqual([]);
    await writer.close();
    await store.close();
  });
});

describe.skipIf(skipPostgres !== undefined)('the log of a ToolMux on PostgreSQL', () => {
  it('commits the entries of many concurrent calls in several batches, the first of at most 8, each call answering after its own', async () => {
    const database = await createTestPostgresStore();
    const store = database.store;
    const recorded = recordLogBatches(store);
    const mux = sampleToolMux(store);
    try {
      expect(store.logBatchSize).toBe(8);
      const session = await mux.create('user_1', { toolkits: ['tasks'] });
      recorded.length = 0;
      const results = await Promise.all(
        Array.from({ length: 64 }, (_, index) =>
          session.execute('TASKS_CREATE_TASK', { title: `task ${index}` }).then(async (result) => {
            // answered: its entry is there already
            expect(await store.getLog(result.logId)).toBeDefined();
            return result;
          }),
        ),
      );
      expect(results.every((result) => result.successful)).toBe(true);
      const batches = recorded.map((batch) => batch.length);
      expect(batches.reduce((sum, size) => sum + size, 0)).toBe(64);
      expect(batches.length).toBeGreaterThan(1);
      // a batch starts once 8 entries wait (or at the end of the turn, with fewer)
      expect(batches[0]).toBeLessThanOrEqual(8);
    } finally {
      await mux.close();
      await database.cleanup();
    }
  });
});
