import { once } from 'node:events';
import { Worker } from 'node:worker_threads';

/** A checkpoint is asked for after this many write transactions… */
const CHECKPOINT_EVERY_COMMITS = 100;
/** …or this many rows written, whichever comes first. */
const CHECKPOINT_EVERY_ROWS = 2_000;

/**
 * The WAL size (in pages) at which the store's own connection checkpoints anyway: a safety net for
 * when the checkpointer falls behind. 10,000 pages of 4 KB: 40 MB.
 */
export const SAFETY_NET_AUTOCHECKPOINT_PAGES = 10_000;

/**
 * The worker: its own connection to the file, running PASSIVE checkpoints when asked. Evaluated as
 * the main script's kind (a module under `node --input-type=module -e`), so it uses no `require`.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = process.getBuiltinModule('node:worker_threads');
const { DatabaseSync } = process.getBuiltinModule('node:sqlite');
const database = new DatabaseSync(workerData.path);
database.exec('PRAGMA busy_timeout = 5000');
const checkpoint = database.prepare('PRAGMA wal_checkpoint(PASSIVE)');
parentPort.on('message', (message) => {
  if (message === 'close') {
    database.close();
    process.exit(0);
  }
  try {
    const row = checkpoint.get();
    parentPort.postMessage({ log: row.log, checkpointed: row.checkpointed });
  } catch (error) {
    parentPort.postMessage({ error: String((error && error.message) || error) });
  }
});
`;

/** What one checkpoint did: WAL frames in the log, and frames copied to the database file. */
export interface CheckpointOutcome {
  log: number;
  checkpointed: number;
}

/**
 * Runs the WAL checkpoints of an SQLite file on a worker thread with a connection of its own.
 *
 * A commit in WAL mode only appends to the `-wal` file; a checkpoint later copies the pages into the
 * database file and fsyncs both (`synchronous = NORMAL`). SQLite's automatic checkpoint runs in the
 * connection whose commit crossed the threshold, so in toolmux it ran on the event loop: every ~1,000
 * pages a commit stalled the process on two fsyncs (2–5 ms each on a shared disk) and the page copy,
 * and a call that waited for its execution log entry waited for that too. Here the event loop only
 * posts a message; the checkpoint (PASSIVE: it never blocks a writer) runs beside it.
 *
 * Durability does not change: a commit is in the `-wal` file before it returns, whoever checkpoints.
 * If the worker cannot run, `onFailure` is called once and the store's connection checkpoints itself
 * again (SQLite's default).
 */
export class SqliteCheckpointer {
  readonly #path: string;
  readonly #onFailure: (error: Error) => void;
  #worker: Worker | undefined;
  #commits = 0;
  #rows = 0;
  #inFlight: Promise<CheckpointOutcome | undefined> | undefined;
  #settle: ((outcome: CheckpointOutcome | undefined) => void) | undefined;
  #failed = false;
  #closed = false;
  /** The worker's thread has ended (it failed, or it was closed). */
  #exited = false;

  constructor(path: string, onFailure: (error: Error) => void) {
    this.#path = path;
    this.#onFailure = onFailure;
  }

  /** Counts a committed write transaction of `rows` rows; asks for a checkpoint every so often. */
  written(rows: number): void {
    this.#commits++;
    this.#rows += rows;
    if (this.#commits < CHECKPOINT_EVERY_COMMITS && this.#rows < CHECKPOINT_EVERY_ROWS) return;
    if (this.#inFlight !== undefined || this.#failed || this.#closed) return;
    void this.checkpoint();
  }

  /**
   * Runs a checkpoint now (or joins the one running) and resolves with what it did; undefined when
   * the worker cannot run (the store checkpoints itself then). Never rejects.
   */
  checkpoint(): Promise<CheckpointOutcome | undefined> {
    if (this.#inFlight !== undefined) return this.#inFlight;
    if (this.#failed || this.#closed) return Promise.resolve(undefined);
    this.#commits = 0;
    this.#rows = 0;
    const worker = this.#spawn();
    this.#inFlight = new Promise((resolve) => {
      this.#settle = resolve;
    });
    worker.ref();
    worker.postMessage('checkpoint');
    return this.#inFlight;
  }

  /** Stops the worker (after the checkpoint it is running, if any). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const worker = this.#worker;
    // a thread that has ended emits no more 'exit' to wait for
    if (worker === undefined || this.#exited) return;
    if (this.#failed) {
      // it may never have come up to read a message: stop it
      await worker.terminate();
      return;
    }
    worker.ref();
    const exited = once(worker, 'exit');
    worker.postMessage('close');
    await exited;
  }

  #spawn(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path: this.#path } });
    worker.unref();
    worker.on('message', (message: { log: number; checkpointed: number } | { error: string }) => {
      if ('error' in message) this.#fail(new Error(message.error));
      else this.#finish({ log: message.log, checkpointed: message.checkpointed });
    });
    worker.on('error', (error) => this.#fail(error));
    worker.on('exit', (code) => {
      this.#exited = true;
      if (!this.#closed) this.#fail(new Error(`the checkpoint worker exited with code ${code}`));
    });
    this.#worker = worker;
    return worker;
  }

  #finish(outcome: CheckpointOutcome | undefined): void {
    const settle = this.#settle;
    this.#inFlight = undefined;
    this.#settle = undefined;
    // idle between checkpoints: the worker does not keep the process alive
    if (!this.#closed) this.#worker?.unref();
    settle?.(outcome);
  }

  #fail(error: Error): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#finish(undefined);
    if (!this.#closed) {
      void this.#worker?.terminate();
      this.#onFailure(error);
    }
  }
}
