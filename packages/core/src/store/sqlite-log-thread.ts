import { once } from 'node:events';
import { Worker } from 'node:worker_threads';

/**
 * The worker: its own connection to the file; inserts the rows posted to it and commits them before
 * it answers. Messages that wait while it commits are committed together next (group commit on the
 * worker's side); if that transaction is refused, each message is committed alone, so a bad row
 * costs only its own message (whose entries the log writer then retries one by one).
 */
const WORKER_SOURCE = `
const { parentPort, workerData, receiveMessageOnPort } = require('node:worker_threads');
const { DatabaseSync } = require('node:sqlite');
let database;
let insert;
let begin;
let commit;
let rollback;
try {
  database = new DatabaseSync(workerData.path);
  database.exec(workerData.pragmas);
  insert = database.prepare(workerData.insertSql);
  begin = database.prepare('BEGIN');
  commit = database.prepare('COMMIT');
  rollback = database.prepare('ROLLBACK');
} catch (error) {
  parentPort.postMessage({ failed: describe(error) });
  process.exit(0);
}
const COLUMNS = workerData.columns;
const run = new Function('insert', 'v', 'i', 'return insert.run(' + Array.from({ length: COLUMNS }, (_, k) => 'v[i + ' + k + ']').join(', ') + ')');

function describe(error) {
  return {
    message: String((error && error.message) || error),
    code: error && error.code,
    errcode: error && error.errcode,
    errstr: error && error.errstr,
  };
}

function insertAll(values) {
  for (let i = 0; i < values.length; i += COLUMNS) run(insert, values, i);
}

/** Commits the rows of \`batches\` in one transaction (one row: one autocommitted statement). */
function store(batches) {
  const rows = batches.reduce((sum, batch) => sum + batch.values.length, 0) / COLUMNS;
  if (rows === 1) return insertAll(batches[0].values);
  begin.run();
  try {
    for (const batch of batches) insertAll(batch.values);
    commit.run();
  } catch (error) {
    if (database.isTransaction) rollback.run();
    throw error;
  }
}

function handle(first) {
  const batches = [first];
  let closing = false;
  for (let next; (next = receiveMessageOnPort(parentPort)) !== undefined; ) {
    if (next.message === 'close') closing = true;
    else batches.push(next.message);
  }
  try {
    store(batches);
    parentPort.postMessage({ stored: batches.map((batch) => batch.id) });
  } catch (error) {
    if (batches.length === 1) parentPort.postMessage({ stored: [], refused: [{ id: first.id, error: describe(error) }] });
    else {
      const stored = [];
      const refused = [];
      for (const batch of batches) {
        try {
          store([batch]);
          stored.push(batch.id);
        } catch (error) {
          refused.push({ id: batch.id, error: describe(error) });
        }
      }
      parentPort.postMessage({ stored, refused });
    }
  }
  if (closing) close();
}

function close() {
  database.close();
  process.exit(0);
}

parentPort.on('message', (message) => (message === 'close' ? close() : handle(message)));
parentPort.postMessage({ ready: true });
`;

interface WorkerError {
  message: string;
  code?: string;
  errcode?: number;
  errstr?: string;
}

type WorkerMessage =
  | { ready: true }
  | { failed: WorkerError }
  | { stored: number[]; refused?: { id: number; error: WorkerError }[] };

interface PendingBatch {
  rows: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

export interface SqliteLogThreadOptions {
  /** The database file. */
  path: string;
  /** Run on the worker's connection before anything else (per-connection settings). */
  pragmas: string;
  /** The INSERT statement, with one `?` per column. */
  insertSql: string;
  /** Its number of columns: the posted values are flat, this many per row. */
  columns: number;
  /** Called with the rows of every committed batch, once it has committed (checkpoint scheduling). */
  onCommitted: (rows: number) => void;
}

/** Node refuses to start a worker with the options of `node -e` / `--input-type`; such a process starts it with none. */
function startsWithoutOptions(): boolean {
  return process.execArgv.some((arg) => /^(-e|-p|-pe|--eval|--print|--input-type)(=|$)/.test(arg));
}

/**
 * Stores execution log rows on a worker thread with its own connection to the SQLite file, so that
 * the inserts and commits of the log run beside the event loop, not on it. `insert()` resolves once
 * the worker's commit of those rows has returned (the rows are then in the `-wal` file and survive a
 * kill of the process), and rejects with the database's error if they were refused.
 *
 * Until the worker has opened the file and prepared its statement, `ready` is false and the store
 * writes on its own connection; if the worker fails (cannot start, dies), the batches it held are
 * rejected (the log writer retries their entries, then on the store's connection) and `failed` is set.
 * An idle worker does not keep the process alive; one with batches to commit does.
 */
export class SqliteLogThread {
  readonly #options: SqliteLogThreadOptions;
  readonly #worker: Worker | undefined;
  readonly #pending = new Map<number, PendingBatch>();
  #nextId = 0;
  #ready = false;
  #failed = false;
  readonly #started = Promise.withResolvers<boolean>();
  #closing: Promise<void> | undefined;
  /** `exclusive()` calls waiting or running: batches inserted meanwhile wait in `#held`. */
  #holds = 0;
  #held: { values: unknown[]; batch: PendingBatch }[] = [];
  /** Resolves when nothing is pending (set while something is). */
  #drained: { promise: Promise<void>; resolve: () => void } | undefined;

  constructor(options: SqliteLogThreadOptions) {
    this.#options = options;
    let worker: Worker;
    try {
      worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: {
          path: options.path,
          pragmas: options.pragmas,
          insertSql: options.insertSql,
          columns: options.columns,
        },
        ...(startsWithoutOptions() ? { execArgv: [] } : {}),
      });
    } catch {
      this.#failed = true;
      this.#started.resolve(false);
      return;
    }
    worker.unref();
    worker.on('message', (message: WorkerMessage) => this.#receive(message));
    worker.on('error', (error) => this.#fail(error));
    worker.on('exit', (code) => {
      if (this.#closing === undefined)
        this.#fail(new Error(`the SQLite log worker exited with code ${code}`));
    });
    this.#worker = worker;
  }

  /** Resolves true once the worker takes batches, false if it could not start. Never rejects. */
  get started(): Promise<boolean> {
    return this.#started.promise;
  }

  /** The worker has prepared its statement and takes batches. */
  get ready(): boolean {
    return this.#ready && !this.#failed && this.#closing === undefined;
  }

  /** The worker could not start or died: the store writes on its own connection. */
  get failed(): boolean {
    return this.#failed;
  }

  /** Posts `values` (`columns` per row) and resolves once they have committed. */
  insert(values: unknown[]): Promise<void> {
    if (!this.ready || this.#worker === undefined) {
      return Promise.reject(new Error('the SQLite log worker is not running'));
    }
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const batch = { rows: values.length / this.#options.columns, resolve, reject };
    if (this.#holds > 0) this.#held.push({ values, batch });
    else this.#post(values, batch);
    return promise;
  }

  /**
   * Runs `work` (a write on another connection to the file) while the worker holds no write lock:
   * after the batches posted so far have committed, with batches inserted meanwhile held back until
   * `work` is done. A write that found the worker's lock taken would block the event loop in SQLite's
   * busy handler (sleeps of 1 ms and more); this waits for a commit (about 0.1 ms) instead.
   */
  async exclusive<T>(work: () => T): Promise<T> {
    if (this.#pending.size === 0 && this.#holds === 0) return work();
    this.#holds++;
    try {
      while (this.#pending.size > 0) await this.#drained?.promise;
      return work();
    } finally {
      if (--this.#holds === 0) {
        const held = this.#held;
        this.#held = [];
        for (const { values, batch } of held) {
          if (this.#failed) batch.reject(new Error('the SQLite log worker is not running'));
          else this.#post(values, batch);
        }
      }
    }
  }

  #post(values: unknown[], batch: PendingBatch): void {
    const worker = this.#worker!;
    const id = this.#nextId++;
    if (this.#pending.size === 0) {
      // a batch being committed keeps the process alive until its answer is in
      worker.ref();
      this.#drained = Promise.withResolvers<void>();
    }
    this.#pending.set(id, batch);
    worker.postMessage({ id, values });
  }

  /** Waits for every posted batch, then stops the worker. A second call joins the first. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      while (this.#pending.size > 0 || this.#held.length > 0) {
        await (this.#drained?.promise ?? new Promise((resolve) => setImmediate(resolve)));
      }
      const worker = this.#worker;
      if (worker === undefined || this.#failed) return;
      worker.ref();
      const exited = once(worker, 'exit');
      worker.postMessage('close');
      await exited;
    })();
    return this.#closing;
  }

  #receive(message: WorkerMessage): void {
    if ('ready' in message) {
      this.#ready = true;
      this.#started.resolve(true);
      return;
    }
    if ('failed' in message) {
      this.#fail(toError(message.failed));
      return;
    }
    let rows = 0;
    for (const id of message.stored) {
      const batch = this.#settled(id);
      if (batch === undefined) continue;
      rows += batch.rows;
      batch.resolve();
    }
    if (rows > 0) this.#options.onCommitted(rows);
    for (const { id, error } of message.refused ?? []) this.#settled(id)?.reject(toError(error));
  }

  #settled(id: number): PendingBatch | undefined {
    const batch = this.#pending.get(id);
    if (batch === undefined) return undefined;
    this.#pending.delete(id);
    if (this.#pending.size === 0) {
      if (this.#closing === undefined) this.#worker?.unref();
      this.#drained?.resolve();
      this.#drained = undefined;
    }
    return batch;
  }

  #fail(error: Error): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#started.resolve(false);
    const failure = new Error(`the SQLite log worker failed: ${error.message}`, { cause: error });
    for (const id of [...this.#pending.keys()]) this.#settled(id)?.reject(failure);
    if (this.#closing === undefined) void this.#worker?.terminate();
  }
}

function toError(described: WorkerError): Error {
  const error = new Error(described.message) as Error & { code?: string; errcode?: number; errstr?: string };
  if (described.code !== undefined) error.code = described.code;
  if (described.errcode !== undefined) error.errcode = described.errcode;
  if (described.errstr !== undefined) error.errstr = described.errstr;
  return error;
}
