import { ToolMuxError } from '../errors.js';
import { pause } from '../util/abort.js';

/** The first wait before a write is tried again after the store failed; the waits double up to the last. */
const FIRST_WAIT_MS = 100;
const LONGEST_WAIT_MS = 2_000;

/**
 * Runs the store calls that keep tokens a provider just issued (a refresh's, an OAuth callback's),
 * which exist nowhere else: one that fails with `STORE_ERROR` (the database unreachable or not
 * answering: a failover, a network blip) is tried again, after 100 ms, then twice as long each time up
 * to 2 s, until `deadline` (epoch milliseconds). `retrying` is told each failure it waits after
 * (for a warning), `givingUp` the one it throws. Any other error is thrown at once.
 */
export function retryingStoreErrors(options: {
  deadline: number;
  retrying(error: ToolMuxError, waitMs: number): void;
  givingUp(error: ToolMuxError): void;
}): <T>(write: () => Promise<T>) => Promise<T> {
  let wait = FIRST_WAIT_MS;
  return async (write) => {
    for (;;) {
      try {
        return await write();
      } catch (error) {
        if (!ToolMuxError.isInstance(error) || error.code !== 'STORE_ERROR') throw error;
        if (Date.now() + wait >= options.deadline) {
          options.givingUp(error);
          throw error;
        }
        options.retrying(error, wait);
        await pause(wait, undefined);
        wait = Math.min(wait * 2, LONGEST_WAIT_MS);
      }
    }
  };
}
