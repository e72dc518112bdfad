import { ToolMuxError } from '../errors.js';
import { PRUNE_BATCH, Pruner, type PruneTask } from '../store/pruner.js';
import type { Store } from '../store/types.js';
import { idBefore } from '../util/ids.js';
import type { Logger } from '../util/logger.js';
import { wholeNumberOf } from '../util/whole-number.js';

/** The most days `logRetentionDays` takes (a hundred years). */
export const MAX_LOG_RETENTION_DAYS = 36_500;
/** Entries deleted per statement (see {@link PRUNE_BATCH}). */
export const LOG_PRUNE_BATCH = PRUNE_BATCH;
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
 * Deletes the execution log entries older than `days` days: when the store opens and then every hour
 * (a {@link Pruner}). Throws STORE_CONFIG_INVALID for a store that cannot delete them.
 */
export function logPruner(store: Store, days: number, logger: Logger): Pruner {
  const { deleteLogsBefore } = store;
  if (typeof deleteLogsBefore !== 'function') {
    throw new ToolMuxError({
      code: 'STORE_CONFIG_INVALID',
      message: `logRetentionDays needs a store that deletes old execution log entries (deleteLogsBefore); this store has none. Add it to the store, or leave logRetentionDays out.`,
    });
  }
  const task: PruneTask = {
    batch: (limit, now) => deleteLogsBefore.call(store, idBefore('log', now - days * DAY_MS), limit),
    doing: `delete the execution log entries older than ${days} days (logRetentionDays)`,
    done: (count) => `deleted ${count} execution log entries older than ${days} days (logRetentionDays)`,
  };
  return new Pruner([task], logger, LOG_PRUNE_INTERVAL_MS);
}
