import { quotedMessage, ToolMuxError } from '../errors.js';
import type { Store } from '../store/types.js';
import { idBefore } from '../util/ids.js';
import type { Logger } from '../util/logger.js';
import { wholeNumberOf } from '../util/whole-number.js';

/** The most days `logRetentionDays` takes (a hundred years). */
export const MAX_LOG_RETENTION_DAYS = 36_500;
/** Entries deleted per statement: a short write (about 5 ms on SQLite, in the event loop), so that calls and their own log commits are not held up. */
export const LOG_PRUNE_BATCH = 500;
/** How often old entries are looked for, besides once when the store opens. */
export const LOG_PRUNE_INTERVAL_MS = 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

/** `logRetentionDays` checked: a whole number of days from 1, or undefined (every entry is kept). */
export function logRetentionDaysOf(option: unknown): number | undefined {
  if (option === undefined) return undefined;
  return wholeNumberOf(option, {
    name: 'logRetentionDays',
    code: 'CONFIG_INVALID',
    unit: 'days',
    min: 1,
    max: MAX_LOG_RETENTION_DAYS,
    purpose: 'how long execution log entries are kept',
    leaveOut: 'Leave it out for no limit (every entry is kept).',
  });
}

/**
 * Deletes the execution log entries older than `days` days: when it starts (the store just opened)
 * and then every hour, {@link LOG_PRUNE_BATCH} entries per statement, giving the event loop and the
 * database back between statements. Instances sharing a database each prune; their deletes do not
 * wait for each other (PostgreSQL skips rows another one holds). A failure is logged and tried again
 * at the next run: it never reaches a call.
 */
export class LogPruner {
  readonly #store: Store & Required<Pick<Store, 'deleteLogsBefore'>>;
  readonly #days: number;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<number> | undefined;
  #stopped = false;

  constructor(store: Store, days: number, logger: Logger) {
    if (typeof store.deleteLogsBefore !== 'function') {
      throw new ToolMuxError({
        code: 'STORE_CONFIG_INVALID',
        message: `logRetentionDays needs a store that deletes old execution log entries (deleteLogsBefore); this store has none. Add it to the store, or leave logRetentionDays out.`,
      });
    }
    this.#store = store as Store & Required<Pick<Store, 'deleteLogsBefore'>>;
    this.#days = days;
    this.#logger = logger;
  }

  start(): void {
    this.#timer = setInterval(() => void this.run(), LOG_PRUNE_INTERVAL_MS);
    this.#timer.unref();
    void this.run();
  }

  /** Deletes what is old now (a run already going is waited for instead); answers how many. */
  run(): Promise<number> {
    this.#running ??= this.#prune().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #prune(): Promise<number> {
    const before = idBefore('log', Date.now() - this.#days * DAY_MS);
    let deleted = 0;
    try {
      while (!this.#stopped) {
        const count = await this.#store.deleteLogsBefore(before, LOG_PRUNE_BATCH);
        deleted += count;
        if (count < LOG_PRUNE_BATCH) break;
        await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (error) {
      if (!this.#stopped) {
        this.#logger.warn(
          `toolmux: could not delete the execution log entries older than ${this.#days} days (logRetentionDays): ${quotedMessage(error)}. Trying again within an hour.`,
        );
      }
    }
    if (deleted > 0) {
      this.#logger.debug(
        `toolmux: deleted ${deleted} execution log entries older than ${this.#days} days (logRetentionDays)`,
      );
    }
    return deleted;
  }

  /** Stops the runs; resolves once a run going on has ended (before its store is closed). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#running;
  }
}
