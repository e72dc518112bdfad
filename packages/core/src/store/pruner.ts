import { quotedMessage } from '../errors.js';
import type { Logger } from '../util/logger.js';

/**
 * Rows changed per statement: a short write (about 5 ms on SQLite, in the event loop), so that calls
 * and their own commits are not held up.
 */
export const PRUNE_BATCH = 500;

/** One kind of rows a {@link Pruner} deletes (or changes), a batch at a time. */
export interface PruneTask {
  /**
   * Deletes (or changes) at most `limit` rows that are due at `now` (the run's start, in ms) and
   * answers how many: the pruner asks again while a batch is full.
   */
  batch(limit: number, now: number): Promise<number>;
  /** What the task does, for the log: `delete the execution log entries older than 7 days (…)`. */
  readonly doing: string;
  /** What a run that changed `count` rows did, for the debug log. */
  done(count: number): string;
}

/** `60 minutes` as the warnings say it: "within an hour", "within 10 minutes". */
function within(intervalMs: number): string {
  const minutes = Math.round(intervalMs / 60_000);
  return minutes === 60 ? 'an hour' : `${minutes} minutes`;
}

/** Ends the timer of a {@link Pruner} collected without `stop()`. */
const timersOfDroppedPruners = new FinalizationRegistry<NodeJS.Timeout>((timer) => clearInterval(timer));

/**
 * Runs {@link PruneTask}s when it starts (the store just opened) and then every `intervalMs`, in
 * order, {@link PRUNE_BATCH} rows per statement, giving the event loop and the database back between
 * statements. Instances sharing a database each prune; the stores' statements are written so that
 * theirs do not wait for each other (PostgreSQL skips rows another one holds). A task's failure is
 * logged and tried again at the next run (the next task still runs): it never reaches a call.
 */
export class Pruner {
  readonly #tasks: readonly PruneTask[];
  readonly #logger: Logger;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<number> | undefined;
  #stopped = false;

  constructor(tasks: readonly PruneTask[], logger: Logger, intervalMs: number) {
    this.#tasks = tasks;
    this.#logger = logger;
    this.#intervalMs = intervalMs;
  }

  start(): void {
    // The timer holds the pruner only weakly, and ends once it is collected: a ToolMux dropped
    // without close() (a module evaluated again on a hot reload, a handler's ToolMux) is not kept,
    // with its store and the store's connections, by a timer that prunes it every hour.
    const pruner = new WeakRef(this);
    const timer = setInterval(() => void pruner.deref()?.run(), this.#intervalMs);
    timer.unref();
    timersOfDroppedPruners.register(this, timer, this);
    this.#timer = timer;
    void this.run();
  }

  /** Runs every task now (a run already going is waited for instead); answers how many rows they changed. */
  run(): Promise<number> {
    this.#running ??= this.#prune().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #prune(): Promise<number> {
    const now = Date.now();
    let total = 0;
    for (const task of this.#tasks) {
      let changed = 0;
      try {
        while (!this.#stopped) {
          const count = await task.batch(PRUNE_BATCH, now);
          changed += count;
          if (count < PRUNE_BATCH) break;
          await new Promise((resolve) => setImmediate(resolve));
        }
      } catch (error) {
        if (!this.#stopped) {
          this.#logger.warn(
            `toolmux: could not ${task.doing}: ${quotedMessage(error)}. Trying again within ${within(this.#intervalMs)}.`,
          );
        }
      }
      if (changed > 0) this.#logger.debug(`toolmux: ${task.done(changed)}`);
      total += changed;
    }
    return total;
  }

  /** Stops the runs; resolves once a run going on has ended (before its store is closed). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    timersOfDroppedPruners.unregister(this);
    await this.#running;
  }
}
