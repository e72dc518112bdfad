import { Pruner, type PruneTask } from '../store/pruner.js';
import type { Store } from '../store/types.js';
import type { Logger } from '../util/logger.js';
import { ABANDONED_ATTEMPT_MS } from './connection-requests.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * A connection request is deleted this long after it expired: until then a late callback, the
 * connect page and `connectionRequests.get()` still say precisely that it expired (or how it ended),
 * rather than that no such request exists. A day covers a user who comes back to a tab left open
 * overnight; a request is used within its 10 minutes, so one a day past its expiry is finished or
 * abandoned, and its encrypted code verifier of no use to anyone.
 */
export const CONNECTION_REQUEST_GRACE_MS = DAY_MS;
/**
 * An account that never held credentials (an attempt that expired or failed before it was ever
 * ACTIVE) is deleted this long after its last change: long enough to look into why connections fail
 * (its `statusReason` keeps the provider's words), short enough that abandoned attempts do not pile up.
 */
export const NEVER_CONNECTED_ACCOUNT_MS = 30 * DAY_MS;
/**
 * How often stale connection state is looked for, besides once when the store opens: an abandoned
 * attempt reads INITIATED at most this long after {@link ABANDONED_ATTEMPT_MS}.
 */
export const CONNECTION_PRUNE_INTERVAL_MS = 10 * 60_000;

/**
 * Cleans up connection state that can never complete, when the store opens and every 10 minutes:
 * OAuth attempts (INITIATED accounts) whose request expired become EXPIRED, connection requests are
 * deleted a day after they expired, and accounts that never held credentials 30 days after their last
 * change. An account that ever held credentials is never deleted. Each step runs only when the store
 * has its method (stores of your own may leave them out); undefined when it has none.
 */
export function connectionStatePruner(store: Store, logger: Logger): Pruner | undefined {
  const tasks: PruneTask[] = [];
  const { expireAbandonedAttempts, deleteConnectionRequestsBefore, deleteNeverConnectedAccountsBefore } =
    store;
  if (expireAbandonedAttempts) {
    tasks.push({
      batch: (limit, now) =>
        expireAbandonedAttempts.call(store, new Date(now - ABANDONED_ATTEMPT_MS), new Date(now), limit),
      doing: 'mark the OAuth attempts whose connection request expired EXPIRED',
      done: (count) => `marked ${count} OAuth attempts whose connection request expired EXPIRED`,
    });
  }
  if (deleteConnectionRequestsBefore) {
    tasks.push({
      batch: (limit, now) =>
        deleteConnectionRequestsBefore.call(store, new Date(now - CONNECTION_REQUEST_GRACE_MS), limit),
      doing: 'delete the connection requests that expired more than a day ago',
      done: (count) => `deleted ${count} connection requests that expired more than a day ago`,
    });
  }
  if (deleteNeverConnectedAccountsBefore) {
    tasks.push({
      batch: (limit, now) =>
        deleteNeverConnectedAccountsBefore.call(store, new Date(now - NEVER_CONNECTED_ACCOUNT_MS), limit),
      doing: 'delete the connected accounts that never held credentials, unchanged for 30 days',
      done: (count) =>
        `deleted ${count} connected accounts that never held credentials, unchanged for 30 days`,
    });
  }
  return tasks.length > 0 ? new Pruner(tasks, logger, CONNECTION_PRUNE_INTERVAL_MS) : undefined;
}
