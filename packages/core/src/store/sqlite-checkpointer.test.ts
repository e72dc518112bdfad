import { execFile } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { ExecutionLogWriter } from '../execution/log-writer.js';
import { logRecord, sessionRecord } from '../test/log-records.js';
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

  /** Bytes of one WAL frame: its 24-byte header and a 4 KB page. */
  const FRAME_BYTES = 24 + 4096;

  it('start the WAL over under sustained concurrent writes, and the store’s connection never checkpoints', async () => {
    const path = tempPath();
    const resetFrames = 500;
    const store = new SqliteStore({ path, checkpoints: { resetFrames } });
    await store.migrate();
    // The WAL's frame count (mxFrame of the wal-index header, which SQLite keeps in the -shm file):
    // read from the file, not through a connection, so measuring runs no checkpoint.
    const header = Buffer.alloc(48);
    let shm: number | undefined;
    const frames = () => {
      shm ??= openSync(`${path}-shm`, 'r');
      readSync(shm, header, 0, 48, 0);
      return header.readUInt32LE(16);
    };
    let written = 0;
    let startedOver = 0;
    let last = 0;
    const sample = () => {
      const now = frames();
      if (now < last) startedOver++;
      written += now < last ? now : now - last;
      last = now;
    };
    // 16 callers, each waiting for its entry's commit (group commit, as session.execute does)
    const writer = new ExecutionLogWriter(
      {
        insertLogs: async (records) => {
          await store.insertLogs(records);
          sample();
        },
      },
      { debug() {}, warn() {}, error() {} },
    );
    const target = 2 * SAFETY_NET_AUTOCHECKPOINT_PAGES;
    let entries = 0;
    const callers = Array.from({ length: 16 }, async () => {
      while (written < target) {
        expect(await writer.write(logRecord({ input: JSON.stringify({ text: 'x'.repeat(200) }) }))).toBe(
          true,
        );
        entries++;
      }
    });
    // meanwhile other writes of the store go on (sessions): they wait with the log batches, no deadlock
    let sessionWrites = 0;
    const sessions = (async () => {
      while (written < target) {
        const record = sessionRecord();
        await store.insertSession(record);
        await store.updateSession(record.id, { config: { n: 1 }, metadata: {}, expectedVersion: 1 });
        sessionWrites++;
        sample();
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    })();
    await Promise.all([...callers, sessions]);
    await writer.close();
    closeSync(shm!);
    // the -wal file is never cut short, so its size records the largest the WAL has been; the store's
    // connection checkpoints when one of its commits leaves the WAL at wal_autocheckpoint frames
    // or more (SQLite's WAL hook): below that, it never did
    const largest = (statSync(`${path}-wal`).size - 32) / FRAME_BYTES;
    expect(largest).toBeLessThan(SAFETY_NET_AUTOCHECKPOINT_PAGES);
    // it started over again and again
    expect(startedOver).toBeGreaterThanOrEqual(5);
    expect(sessionWrites).toBeGreaterThan(0);
    const database = new DatabaseSync(path);
    expect(database.prepare('SELECT count(*) AS n FROM toolmux_execution_logs').get()).toEqual({
      n: entries,
    });
    database.close();
    await store.close();
  }, 60_000);

  it('hold the writes once per threshold only while a reader keeps the WAL from starting over', async () => {
    const path = tempPath();
    const resetFrames = 2_000;
    const store = new SqliteStore({ path, checkpoints: { resetFrames } });
    await store.migrate();
    await store.insertLogs([entry()]);
    // a read transaction of another connection: checkpoints cannot copy the frames after its snapshot
    const reader = new DatabaseSync(path);
    reader.exec('BEGIN');
    reader.prepare('SELECT count(*) AS n FROM toolmux_execution_logs').get();
    const checkpointer = (store as unknown as { checkpointer: SqliteCheckpointer }).checkpointer;
    const outcomes: number[] = [];
    const checkpoint = checkpointer.checkpoint.bind(checkpointer);
    checkpointer.checkpoint = () => {
      const running = checkpoint();
      void running.then((outcome) => outcomes.push(outcome?.log ?? -1));
      return running;
    };
    const writer = new ExecutionLogWriter(store, { debug() {}, warn() {}, error() {} });
    const target = 4 * resetFrames;
    const largest = () => Math.max(0, ...outcomes);
    await Promise.all([
      ...Array.from({ length: 16 }, async () => {
        while (largest() < target) expect(await writer.write(entry())).toBe(true);
      }),
      // checkpoints asked for besides the writes': many chances to hold the writes per threshold
      (async () => {
        while (largest() < target) {
          await store.checkpoint();
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      })(),
    ]);
    await writer.close();
    reader.exec('COMMIT');
    reader.close();
    const { held } = checkpointer.holds;
    expect(held).toBeGreaterThanOrEqual(1);
    // once per threshold's frames, not at every checkpoint past it
    const bound = Math.ceil(Math.max(...outcomes) / resetFrames);
    expect(outcomes.filter((log) => log >= resetFrames).length).toBeGreaterThan(bound);
    expect(held).toBeLessThanOrEqual(bound);
    await store.close();
  }, 60_000);

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

  it.skipIf(!existsSync('/proc/self/status'))(
    'start no thread for a store that writes little (a script, a test, a ToolMux per request), whose close() then waits for none',
    async () => {
      // a child process: the threads of this one (the test runner's) come and go
      const dist = resolve(import.meta.dirname, '../../dist');
      const script = `
      import { readFileSync } from 'node:fs';
      import { SqliteStore } from ${JSON.stringify(join(dist, 'store/sqlite.js'))};
      import { logRecord, sessionRecord } from ${JSON.stringify(join(dist, 'test/log-records.js'))};
      const threads = () => Number(/Threads:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
      const before = threads();
      const store = new SqliteStore({ path: process.env.DB_PATH });
      await store.migrate();
      const session = sessionRecord();
      await store.insertSession(session);
      for (let index = 0; index < 20; index++) await store.insertLogs([logRecord({ sessionId: session.id })]);
      const during = threads();
      await store.close();
      console.log(JSON.stringify({ before, during }));
    `;
      const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
        env: { ...process.env, DB_PATH: tempPath() },
      });
      const { before, during } = JSON.parse(stdout.trim().split('\n').at(-1)!);
      // on the old code: one thread more, started at the first write
      expect(during).toBe(before);
    },
  );

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

  /**
   * A checkpointer on a file another connection holds with `locking_mode = EXCLUSIVE`: its worker's
   * checkpoint waits for the lock (its busy timeout, 5 s) and then fails. Its writes are held (200
   * commits with the checkpoint unanswered), as when the worker is slow to answer.
   */
  function stuckCheckpointer(holdLimitMs: number) {
    const path = tempPath();
    const owner = new DatabaseSync(path);
    owner.exec('PRAGMA journal_mode = WAL; CREATE TABLE t (x); INSERT INTO t VALUES (1)');
    owner.exec('PRAGMA locking_mode = EXCLUSIVE; INSERT INTO t VALUES (2)');
    const failures: Error[] = [];
    const checkpointer = new SqliteCheckpointer(path, (error) => failures.push(error), { holdLimitMs });
    const outcome = checkpointer.checkpoint().then((done) => ({ done }));
    for (let commit = 0; commit < 200; commit++) checkpointer.written(1);
    return { checkpointer, failures, outcome, owner };
  }

  it('let the held writes go after the time limit while the worker has not answered', async () => {
    const { checkpointer, failures, outcome, owner } = stuckCheckpointer(300);
    try {
      const held = checkpointer.held;
      expect(held).toBeDefined();
      // the writes go on before the worker answers (without the limit they waited for its failure, 5 s on)
      const first = await Promise.race([
        held!.then(() => 'writes go on'),
        outcome.then(() => 'worker answered'),
      ]);
      expect(first).toBe('writes go on');
      expect(failures).toEqual([]);
      expect(checkpointer.held).toBeUndefined();
      expect(checkpointer.holds.longestMs).toBeGreaterThanOrEqual(250);
      // then the worker fails: reported once, and the store checkpoints itself from then on
      expect((await outcome).done).toBeUndefined();
      expect(failures.map(String)).toEqual([expect.stringMatching(/locked/)]);
    } finally {
      owner.close();
      await checkpointer.close();
    }
  }, 20_000);

  it('let the held writes go when the worker fails while it holds them', async () => {
    // a time limit far past the worker's failure: only the failure can let the writes go
    const { checkpointer, failures, outcome, owner } = stuckCheckpointer(60_000);
    try {
      await checkpointer.held;
      expect(failures.map(String)).toEqual([expect.stringMatching(/locked/)]);
      expect((await outcome).done).toBeUndefined();
      expect(checkpointer.held).toBeUndefined();
      // no hold after the failure
      for (let commit = 0; commit < 400; commit++) checkpointer.written(1);
      expect(checkpointer.held).toBeUndefined();
    } finally {
      owner.close();
      await checkpointer.close();
    }
  }, 20_000);

  it('closes when its worker, still starting, cannot open the file any more (its directory was removed)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'toolmux-checkpoint-gone-'));
    const path = join(dir, 'toolmux.db');
    new DatabaseSync(path).close();
    const failures: Error[] = [];
    const checkpointer = new SqliteCheckpointer(path, (error) => failures.push(error));
    // the writes halfway to the first checkpoint start the worker's thread; the directory goes
    // before the thread opens the file
    for (let commit = 0; commit < 50; commit++) checkpointer.written(1);
    rmSync(dir, { recursive: true, force: true });
    // on the old code close() rejected with the worker's "unable to open database file"
    await expect(checkpointer.close()).resolves.toBeUndefined();
    // a failure after close() is not reported: nothing uses the checkpointer any more
    expect(failures).toEqual([]);
  });

  it('is not used for an in-memory database', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    await store.migrate();
    expect(await store.checkpoint()).toBeUndefined();
    await store.close();
  });
});
