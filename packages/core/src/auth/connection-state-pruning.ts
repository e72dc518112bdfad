import { Pruner, type PruneTask } from '../store/pruner.js';
import type { Store } from '../store/types.js';
import type { Logger } from '../util/logger.js';
import { ABANDONED_ATTEMPT_MS, ATTEMPTS_PER_USER_AND_CONFIG } from './connection-requests.js';

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
 * How far before the start of its last run the count bound of accounts never connected looks for
 * users and auth configs that have a new one: an account's `updatedAt` is the clock of the instance
 * that changed it, and its transaction may commit a little after, so a run that looked from its own
 * start only could miss one written by an instance whose clock runs behind.
 */
export const NEVER_CONNECTED_BOUND_MARGIN_MS = 60 * 60_000;
/**
 * How often stale connection state is looked for, besides once when the store opens: an abandoned
 * attempt reads INITIATED at most this long after {@link ABANDONED_ATTEMPT_MS}.
 */
export const CONNECTION_PRUNE_INTERVAL_MS = 10 * 60_000;

/**
 * Cleans up connection state that can never complete, when the store opens and every 10 minutes:
 * OAuth attempts (INITIATED accounts) whose request expired become EXPIRED, connection requests are
 * deleted a day after they expired, and accounts that never held credentials 30 days after their last
 * change, or as soon as their user has 10 newer ones through the same auth config. An account that
 * ever held credentials is never deleted. Each step runs only when the store has its method (stores
 * of your own may leave them out); undefined when it has none.
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
  const { deleteNeverConnectedAccountsBeyond } = store;
  if (deleteNeverConnectedAccountsBeyond) {
    // The count bound of accounts never connected lives here rather than in the start's transaction
    // (`insertConnectionAttempt`), which ends the pending attempts past theirs:
    // - an attempt that newer ones replaced keeps its account and request until a run after it was
    //   replaced, so its waiter, a late callback and the connect page still say precisely that it was
    //   replaced. In the start's transaction, a loop of 20 starts would have deleted the first
    //   attempts' requests at once, and their waiters and callbacks would answer that no such request
    //   exists;
    // - accounts never connected come from failed callbacks and from the expiry above as well as from
    //   starts: every one of them is bounded here, even for a user who starts nothing after;
    // - a start stays one insert and (in the steady state) one update: deleting accounts and their
    //   requests is the heavier write, made in the background, 500 rows a statement.
    // A run looks only at the users and auth configs with such an account changed since the last run
    // (less a margin), each from its own index: its cost follows what changed, not the table. The
    // first run of a process looks at all of them, once.
    let lastRun: number | undefined;
    tasks.push({
      batch: async (limit, now) => {
        const since = lastRun === undefined ? 0 : lastRun - NEVER_CONNECTED_BOUND_MARGIN_MS;
        const count = await deleteNeverConnectedAccountsBeyond.call(
          store,
          ATTEMPTS_PER_USER_AND_CONFIG,
          new Date(since),
          limit,
        );
        // a batch that was not full saw every user and auth config changed since: the next run starts here
        if (count < limit) lastRun = now;
        return count;
      },
      doing: `delete the connected accounts that never held credentials beyond the newest ${ATTEMPTS_PER_USER_AND_CONFIG} of each user and auth config`,
      done: (count) =>
        `deleted ${count} connected accounts that never held credentials beyond the newest ${ATTEMPTS_PER_USER_AND_CONFIG} of their user and auth config`,
    });
  }
  return tasks.length > 0 ? new Pruner(tasks, logger, CONNECTION_PRUNE_INTERVAL_MS) : undefined;
}
