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
 * The WAL size (in frames, one per page written) from which the store holds its writes for one
 * checkpoint that completes, so that the next commit starts the WAL over (see `SqliteCheckpointer`).
 * 4,000 pages of 4 KB: 16 MB, well below the safety net.
 */
export const WAL_RESET_FRAMES = 4_000;

/**
 * A checkpoint not answered after this many commits (or rows) holds the writes until it is, and
 * until the WAL has been reset after it: twice the commits (rows) between two checkpoints.
 */
const UNANSWERED_COMMITS_LIMIT = 2 * CHECKPOINT_EVERY_COMMITS;
const UNANSWERED_ROWS_LIMIT = 2 * CHECKPOINT_EVERY_ROWS;

/** The longest the store's writes wait for a checkpoint that resets the WAL; then they go on. */
export const WAL_RESET_HOLD_LIMIT_MS = 500;

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

/** Internal settings (tests lower them). */
export interface SqliteCheckpointerOptions {
  /**
   * {@link WAL_RESET_FRAMES} unless set; `Infinity` never holds the writes (benchmarks: the
   * behaviour before the WAL was reset under sustained writes).
   */
  resetFrames?: number;
  /** {@link WAL_RESET_HOLD_LIMIT_MS} unless set. */
  holdLimitMs?: number;
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
 * SQLite starts the WAL over (writes from its first frame again) only at the first commit after a
 * checkpoint that copied every frame, and a PASSIVE checkpoint copies only the frames committed
 * before it began: under sustained writes a commit always lands while it runs, so the WAL never
 * started over and grew to the safety net, where the store's connection checkpointed on the event
 * loop. So once a checkpoint finds the WAL past {@link WAL_RESET_FRAMES} frames and not all copied,
 * the store holds its writes (`held`: a promise they wait for, the event loop runs on) while the
 * worker runs one more checkpoint, which then copies every frame (only the few committed since the
 * last one), and lets them go: the first of them starts the WAL over. Writes wait at most
 * {@link WAL_RESET_HOLD_LIMIT_MS} for it.
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
  readonly #resetFrames: number;
  readonly #holdLimitMs: number;
  /** While the store's writes wait for a checkpoint that resets the WAL: resolves when they may go. */
  #held: Promise<void> | undefined;
  #release: (() => void) | undefined;
  /**
   * The WAL's frames when the last checkpoint with the writes held ran. Should the WAL not have
   * started over after it (a reader of another connection keeps old frames in use), the writes are
   * not held again until it has grown by the threshold once more.
   */
  #lastHeldLog: number | undefined;
  /** While checkpoints run back to back (writes not held): the WAL's frames when the last one began. */
  #catchingUp: number | undefined;
  readonly #tailFrames: number;
  /** The checkpoint in flight was started with the writes held (they may have gone on since). */
  #holding = false;
  /** Checkpoints run with the writes held, and those the writes stopped waiting for (time limit). */
  #holds = 0;
  #expiredHolds = 0;
  /** How long the writes were held (ms): in all, the longest time, and since when now. */
  #heldMs = 0;
  #longestHoldMs = 0;
  #heldSince = 0;

  constructor(path: string, onFailure: (error: Error) => void, options: SqliteCheckpointerOptions = {}) {
    this.#path = path;
    this.#onFailure = onFailure;
    this.#resetFrames = options.resetFrames ?? WAL_RESET_FRAMES;
    this.#holdLimitMs = options.holdLimitMs ?? WAL_RESET_HOLD_LIMIT_MS;
    this.#tailFrames = Math.max(1, Math.floor(this.#resetFrames / 8));
  }

  /** While a checkpoint that resets the WAL runs: the store's writes wait for this before they write. */
  get held(): Promise<void> | undefined {
    return this.#held;
  }

  /**
   * Checkpoints run to reset the WAL with the store's writes held, how many of them outlasted the
   * time limit (the writes went on before they had copied every frame), and how long the writes
   * were held (for these and while the worker did not answer): in all and the longest time (ms).
   */
  get holds(): { held: number; expired: number; heldMs: number; longestMs: number } {
    return {
      held: this.#holds,
      expired: this.#expiredHolds,
      heldMs: this.#heldMs,
      longestMs: this.#longestHoldMs,
    };
  }

  /** Counts a committed write transaction of `rows` rows; asks for a checkpoint every so often. */
  written(rows: number): void {
    this.#commits++;
    this.#rows += rows;
    if (this.#failed || this.#closed) return;
    if (this.#inFlight !== undefined) {
      // The worker has not answered for this many commits (its thread is starting, or the machine
      // is busy): the WAL grows with nothing copied. The writes wait for its answer and for the
      // checkpoint that resets the WAL after it, or the WAL would reach the safety net.
      if (
        this.#held === undefined &&
        this.#resetFrames !== Number.POSITIVE_INFINITY &&
        (this.#commits >= UNANSWERED_COMMITS_LIMIT || this.#rows >= UNANSWERED_ROWS_LIMIT)
      ) {
        this.#holdWrites();
      }
      return;
    }
    if (this.#commits < CHECKPOINT_EVERY_COMMITS && this.#rows < CHECKPOINT_EVERY_ROWS) {
      // the worker's thread takes a while to start (tens of milliseconds, more on a busy machine):
      // started halfway to the first checkpoint, it is there when that is asked for. Not at the
      // first write: a store that writes little (a script, a test, a ToolMux per request) starts no
      // thread, and its close() does not wait for one to start and end (60-140 ms each)
      if (
        this.#worker === undefined &&
        (this.#commits >= CHECKPOINT_EVERY_COMMITS / 2 || this.#rows >= CHECKPOINT_EVERY_ROWS / 2)
      ) {
        this.#spawn();
      }
      return;
    }
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
    if (worker === undefined) return Promise.resolve(undefined);
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
    this.#letWritesGo();
    const worker = this.#worker;
    // a thread that has ended emits no more 'exit' to wait for
    if (worker === undefined || this.#exited) return;
    if (this.#failed) {
      // it may never have come up to read a message: stop it
      await worker.terminate();
      return;
    }
    worker.ref();
    // not `once(worker, 'exit')`, which rejects on an 'error' first: a thread still starting may fail
    // to open the file meanwhile (its directory removed), which `#fail` notes, and the close is done
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage('close');
    await exited;
  }

  /** The worker, started unless it runs; undefined when this process may not start one (it failed then). */
  #spawn(): Worker | undefined {
    if (this.#worker !== undefined) return this.#worker;
    let worker: Worker;
    try {
      worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path: this.#path } });
    } catch (error) {
      // Node.js's permission model without --allow-worker: the connection checkpoints itself. The
      // throw reached the write that counted its commit here, which reported a committed log entry
      // as not written
      this.#fail(error instanceof Error ? error : new Error(String(error)));
      return undefined;
    }
    worker.on('message', (message: { log: number; checkpointed: number } | { error: string }) => {
      if ('error' in message) this.#fail(new Error(message.error));
      else this.#finish({ log: message.log, checkpointed: message.checkpointed });
    });
    worker.on('error', (error) => this.#fail(error));
    worker.on('exit', (code) => {
      this.#exited = true;
      if (!this.#closed) this.#fail(new Error(`the checkpoint worker exited with code ${code}`));
    });
    // after its listeners: a 'message' listener keeps a worker's port (and the process) alive again
    worker.unref();
    this.#worker = worker;
    return worker;
  }

  #finish(outcome: CheckpointOutcome | undefined): void {
    const settle = this.#settle;
    this.#inFlight = undefined;
    this.#settle = undefined;
    settle?.(outcome);
    const running = outcome !== undefined && !this.#failed && !this.#closed;
    // fewer frames than at the last hold: the WAL has started over since
    if (outcome !== undefined && this.#lastHeldLog !== undefined && outcome.log < this.#lastHeldLog) {
      this.#lastHeldLog = undefined;
    }
    if (this.#holding) {
      // the checkpoint run with the writes held (past the time limit they went on meanwhile)
      this.#holding = false;
      this.#lastHeldLog = outcome !== undefined && outcome.log >= 0 ? outcome.log : undefined;
      this.#letWritesGo();
    } else if (this.#held !== undefined) {
      // the writes were held for the worker's answer: now the checkpoint that resets the WAL
      if (running) this.#resetWithWritesHeld();
      else this.#letWritesGo();
      return;
    } else if (
      running &&
      outcome.log >= this.#resetFrames / 2 &&
      !(
        this.#lastHeldLog !== undefined &&
        outcome.log >= this.#lastHeldLog &&
        outcome.log < this.#lastHeldLog + this.#resetFrames
      )
    ) {
      // The WAL has not started over for this many frames. A checkpoint copies the frames in the WAL
      // when it begins (`checkpointed` equals `log` then), not the commits that land while it runs:
      // only one run with no commit landing copies every frame. The writes wait for that one, so it
      // should have few frames to copy: from half the threshold on, checkpoints run back to back
      // (writes not held), each copying what landed while the one before ran, and the writes are
      // held for the next once one copied few frames or the WAL reached the threshold.
      const copied =
        this.#catchingUp === undefined ? Number.POSITIVE_INFINITY : outcome.log - this.#catchingUp;
      if (copied <= this.#tailFrames || outcome.log >= this.#resetFrames) {
        this.#catchingUp = undefined;
        this.#holdWrites();
        this.#resetWithWritesHeld();
      } else {
        this.#catchingUp = outcome.log;
        void this.checkpoint();
      }
      return;
    }
    this.#catchingUp = undefined;
    // idle between checkpoints: the worker does not keep the process alive
    if (!this.#closed) this.#worker?.unref();
  }

  /** Holds the store's writes (`held`) until `#letWritesGo`, at most for the time limit. */
  #holdWrites(): void {
    const held = new Promise<void>((resolve) => {
      this.#release = resolve;
    });
    this.#held = held;
    this.#heldSince = performance.now();
    const limit = setTimeout(() => {
      if (this.#held !== held) return;
      if (this.#holding) this.#expiredHolds++;
      this.#letWritesGo();
    }, this.#holdLimitMs);
    limit.unref();
    void held.then(() => clearTimeout(limit));
  }

  /** Runs the checkpoint that copies every frame, the writes held; `#finish` lets them go. */
  #resetWithWritesHeld(): void {
    this.#holds++;
    this.#holding = true;
    void this.checkpoint();
  }

  #letWritesGo(): void {
    if (this.#held !== undefined) {
      const heldMs = performance.now() - this.#heldSince;
      this.#heldMs += heldMs;
      this.#longestHoldMs = Math.max(this.#longestHoldMs, heldMs);
    }
    const release = this.#release;
    this.#held = undefined;
    this.#release = undefined;
    release?.();
  }

  #fail(error: Error): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#finish(undefined);
    this.#letWritesGo();
    if (!this.#closed) {
      void this.#worker?.terminate();
      this.#onFailure(error);
    }
  }
}
