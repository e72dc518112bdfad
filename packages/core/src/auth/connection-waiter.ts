/**
 * Waiting for the user to finish connecting toolkits: `session.waitForConnections()` and the
 * meta-tool TOOLMUX_WAIT_FOR_CONNECTIONS.
 *
 * How a wait learns that a connection finished, possibly in another process (docs/sessions.md,
 * "Waiting for connections"):
 *
 * - PostgreSQL: LISTEN/NOTIFY. Triggers on the accounts and connection requests tables (migration 8)
 *   notify at the commit of any change of status, whichever instance or code path made it (and, since
 *   migration 14, one on the sessions table at a session's deletion), so a wait on server B wakes
 *   within a round trip of the OAuth callback or hosted form handled by server A.
 *   Each store holds one LISTEN connection, opened by its first wait; a notification wakes only the
 *   waits of that user. Notifications are not durable (one sent while the listening connection is
 *   down is lost), so a wait also re-reads every 5 s while listening, and polls (250 ms growing to
 *   2 s) while the connection is down or could not be opened.
 * - SQLite: no notification crosses processes, so a wait polls: 100 ms growing to 500 ms. One poll is
 *   two indexed reads per toolkit in a local file, a few microseconds each, so short polling costs
 *   less than any cross-process signal would (a file watcher sees every log write, too).
 *
 * Polling with backoff everywhere would be simpler, but on PostgreSQL each poll is a network round
 * trip per toolkit from every waiting instance, and a wait of 120 s should not cost hundreds of
 * queries. The work of a wait is bounded: at most 20 toolkits, at most 120 s, one read per toolkit per
 * wake (wakes at least 50 ms apart however many notifications arrive). A wait ends at its timeout, when
 * no toolkit is PENDING any more, when its abort signal fires, when the ToolMux closes, or when its
 * session is deleted (at once in the same process, at the next wake on another instance: the delete's
 * notification on PostgreSQL, the next poll on SQLite). A wait of a session a
 * {@link ConnectionWaitScope} adopted (a server's) answers early, with what it reads then, when the
 * scope ends (the server began shutting down).
 */

import { apiRef } from '../api-refs.js';
import { ToolMuxError } from '../errors.js';
import { applicationReader, type HintReader, inWordsOf, mustChooseText } from '../meta-tools/hints.js';
import { MetaToolSlug } from '../meta-tools/meta-tools.js';
import type { ConnectionRequestRecord, ConnectionWatch } from '../store/types.js';
import { untilAborted } from '../util/abort.js';
import { requestStatusAt } from './connection-request.js';
import { authConfigRefusedIn } from './oauth.js';

/** How one toolkit of a wait stands. */
export type ToolkitConnectionStatus = 'CONNECTED' | 'PENDING' | 'FAILED' | 'EXPIRED' | 'NOT_STARTED';

/** One toolkit's entry in what `waitForConnections` returns. */
export interface ToolkitConnectionState {
  /**
   * `CONNECTED`: the session's calls of the toolkit have an ACTIVE account (or need none).
   * `PENDING`: the user has a link and has not finished. `FAILED`: the user's last attempt failed
   * (denied at the provider, bad credentials). `EXPIRED`: the link expired before the user finished,
   * or the account expired. `NOT_STARTED`: no connection was started.
   */
  status: ToolkitConnectionStatus;
  /**
   * The account the session's calls use (CONNECTED; null for a toolkit that needs no account, and
   * where each call must name one: `accountSelectionRequired`).
   */
  account?: { id: string; status: string } | null;
  /**
   * CONNECTED with `multiAccount.requireExplicitSelection` and several ACTIVE accounts: no call runs
   * without naming one of `accounts` (`account` is null).
   */
  accountSelectionRequired?: true;
  /** With `accountSelectionRequired`: the accounts a call may name, by id or alias. */
  accounts?: Array<{ id: string; alias: string | null; isDefault: boolean }>;
  /** The user's newest connection request of the toolkit, where there is one. */
  connectionRequestId?: string;
  /** Until when the link of a PENDING request works. */
  expiresAt?: Date;
  /** What the model (or the application) should do next, in words. */
  message: string;
}

/** What `session.waitForConnections()` resolves with. */
export interface WaitForConnectionsResult {
  /** By toolkit slug, in the order asked. */
  toolkits: Record<string, ToolkitConnectionState>;
  /**
   * True when the wait ended with a toolkit still PENDING: at its timeout, or before it because the
   * server that held the wait began shutting down (a remote-mode wait, the meta-tool over MCP or
   * REST). Either way: wait again (a new request goes to an instance that runs), or ask the user.
   */
  timedOut: boolean;
}

/** @default 60 seconds */
export const DEFAULT_CONNECTIONS_WAIT_MS = 60_000;
/** The longest wait: 120 seconds. */
export const MAX_CONNECTIONS_WAIT_MS = 120_000;
/** The most toolkits one wait may name. */
export const MAX_WAIT_TOOLKITS = 20;

const SQLITE_FIRST_POLL_MS = 100;
const SQLITE_MAX_POLL_MS = 500;
const POSTGRES_FIRST_POLL_MS = 250;
const POSTGRES_MAX_POLL_MS = 2_000;
/** While LISTEN works: a re-read in case a notification was lost. */
const LISTENING_POLL_MS = 5_000;
/** Wakes of one wait are at least this far apart. */
const MIN_WAKE_GAP_MS = 50;

/** Checks `timeoutMs` of `waitForConnections`: 0 (look once) to 120 000. */
export function checkConnectionsWaitTimeout(timeoutMs: unknown, field = 'timeoutMs'): number {
  if (timeoutMs === undefined) return DEFAULT_CONNECTIONS_WAIT_MS;
  if (
    typeof timeoutMs !== 'number' ||
    !Number.isFinite(timeoutMs) ||
    timeoutMs < 0 ||
    timeoutMs > MAX_CONNECTIONS_WAIT_MS
  ) {
    throw new ToolMuxError({
      code: 'INVALID_REQUEST',
      message: `${field} must be a number of milliseconds from 0 to ${MAX_CONNECTIONS_WAIT_MS} (2 minutes), not ${typeof timeoutMs === 'number' ? String(timeoutMs) : (JSON.stringify(timeoutMs) ?? String(timeoutMs))}; wait again after a timeout if the user needs longer.`,
    });
  }
  return timeoutMs;
}

/** Checks the toolkit list of a wait: 1 to 20 slugs, duplicates dropped. */
export function checkWaitToolkits(toolkits: unknown): string[] {
  if (
    !Array.isArray(toolkits) ||
    toolkits.length === 0 ||
    toolkits.length > MAX_WAIT_TOOLKITS ||
    toolkits.some((slug) => typeof slug !== 'string' || slug.length === 0)
  ) {
    throw new ToolMuxError({
      code: 'INVALID_REQUEST',
      message: `toolkits must be a list of 1 to ${MAX_WAIT_TOOLKITS} toolkit slugs, e.g. ["github"], not ${JSON.stringify(toolkits)?.slice(0, 200) ?? String(toolkits)}.`,
    });
  }
  return [...new Set(toolkits as string[])];
}

/**
 * One toolkit's state from the user's newest connection request (read first) and the account the
 * session's calls would use (read second, so a completion between the two reads shows as CONNECTED).
 */
export function toolkitConnectionState(
  toolkit: { slug: string; name: string },
  request: ConnectionRequestRecord | undefined,
  connection: { isActive: boolean; connectedAccount?: { id: string; status: string } },
  now: Date,
  reader: HintReader = applicationReader(true),
  /** The `statusReason` of the FAILED request's account, where it was read. */
  failureReason?: string | null,
  /** The accounts the session's calls choose from, where each call must name one. */
  mustChoose?: ReadonlyArray<{ id: string; alias: string | null; isDefault: boolean }>,
): ToolkitConnectionState {
  const name = toolkit.name;
  const requestFields = request ? { connectionRequestId: request.id } : {};
  if (connection.isActive && mustChoose) {
    // no account is "the one the calls use": every call without one fails ACCOUNT_SELECTION_REQUIRED
    return {
      status: 'CONNECTED',
      account: null,
      accountSelectionRequired: true,
      accounts: mustChoose.map(({ id, alias, isDefault }) => ({ id, alias, isDefault })),
      ...requestFields,
      message: mustChooseText(name, mustChoose, reader),
    };
  }
  if (connection.isActive) {
    return {
      status: 'CONNECTED',
      account: connection.connectedAccount ?? null,
      ...requestFields,
      message: `${name} is connected: its tools are ready to use.`,
    };
  }
  const manage = reader.metaTools.has('MANAGE_CONNECTIONS');
  /** The account the latest request reconnects in place (`connectedAccounts.reconnect()`), if it does. */
  const reconnectOf = request?.reconnectOf ?? null;
  const again = manage
    ? `Call ${MetaToolSlug.MANAGE_CONNECTIONS} with toolkits ["${toolkit.slug}"] and reinitiate: true for a new link, hand it to the user, then wait again.`
    : inWordsOf(
        reader,
        reconnectOf
          ? `Reconnect account ${reconnectOf} again with ${apiRef('connectedAccounts.reconnect', { connectedAccountId: reconnectOf })} (or ${apiRef('session.ensureConnected', { toolkit: toolkit.slug })}, which starts it), hand its ${apiRef('redirectUrl')} to the user, then wait again.`
          : `Start a new connection with ${apiRef('session.authorize', { toolkit: toolkit.slug })}, hand its ${apiRef('redirectUrl')} to the user, then wait again.`,
      );
  /** What the request was doing, for the messages below. */
  const connecting = reconnectOf
    ? `reconnecting the ${name} account ${reconnectOf} (the same account: no new one is made)`
    : `connecting ${name}`;
  const Connecting = connecting[0]!.toUpperCase() + connecting.slice(1);
  switch (request ? requestStatusAt(request, now) : undefined) {
    case 'PENDING':
      return {
        status: 'PENDING',
        ...requestFields,
        expiresAt: request!.expiresAt,
        message: `The user has not finished ${connecting} yet; the link works until ${request!.expiresAt.toISOString()}. Wait again, or ask the user whether they opened the link.`,
      };
    case 'FAILED':
      if (authConfigRefusedIn(failureReason)) {
        // no new link helps until the operator fixes the auth config: the reason names it and how
        return {
          status: 'FAILED',
          ...requestFields,
          message: `${Connecting} failed, and not by the user's fault (${failureReason}). A new link will not help until the auth config is fixed: tell the user that the application's ${name} connection is misconfigured.`,
        };
      }
      return {
        status: 'FAILED',
        ...requestFields,
        message: `${Connecting} failed${failureReason ? ` (${failureReason})` : ''}. ${again}`,
      };
    case 'EXPIRED':
      return {
        status: 'EXPIRED',
        ...requestFields,
        message: `The link for ${connecting} expired before the user finished. ${again}`,
      };
    case 'COMPLETED':
      // completed, yet not an account this session's calls use (disabled, deleted, or not among the
      // session's connectedAccounts)
      return {
        status: 'FAILED',
        ...requestFields,
        message: `The user connected ${name}, but that account cannot be used by this session (it was disabled or deleted, or the session is pinned to other accounts). ${again}`,
      };
    default:
      if (connection.connectedAccount?.status === 'EXPIRED') {
        return {
          status: 'EXPIRED',
          message: `The ${name} connection expired. ${again}`,
        };
      }
      return {
        status: 'NOT_STARTED',
        message: manage
          ? `No connection of ${name} was started: call ${MetaToolSlug.MANAGE_CONNECTIONS} with toolkits ["${toolkit.slug}"] for a link, hand it to the user, then wait.`
          : inWordsOf(
              reader,
              `No connection of ${name} was started: start one with ${apiRef('session.authorize', { toolkit: toolkit.slug })}, hand its ${apiRef('redirectUrl')} to the user, then wait.`,
            ),
      };
  }
}

/** Waits in progress, by the store they read (ended when the ToolMux closes), with their session. */
const running = new WeakMap<object, Map<AbortController, string | undefined>>();

/** Ends every wait reading `store` (the ToolMux that owns it is closing). */
export function endConnectionWaits(store: object): void {
  const waits = running.get(store);
  running.delete(store);
  for (const controller of waits?.keys() ?? []) {
    controller.abort(
      new ToolMuxError({
        code: 'TOOL_ABORTED',
        message: 'The wait for connections ended because the ToolMux was closed.',
      }),
    );
  }
}

/**
 * The scope of each session a server resumed ({@link ConnectionWaitScope.adopt}), read when one of
 * its waits starts: the server ends the scope when it begins to shut down, so that no wait (a
 * long-poll of up to 120 s) holds its drain. (Running every request in an AsyncLocalStorage instead
 * cost 12% of the server's CPU for a `/healthz`, 6% for an MCP call.)
 */
const sessionScopes = new WeakMap<object, ConnectionWaitScope>();

/** The scope a wait of `session` belongs to (the one that adopted it), if any. */
export function connectionWaitScopeOf(session: object): ConnectionWaitScope | undefined {
  return sessionScopes.get(session);
}

/**
 * Connection waits started in one scope (a server's requests). `end()` has each of them answer at
 * once with what it reads then, as at its timeout (`timedOut` when a toolkit is still PENDING), and a
 * wait started in the scope after that reads once and answers. The store stays open meanwhile: it
 * is the ToolMux's `close()`, not this, that ends a wait without an answer (`TOOL_ABORTED`).
 */
export class ConnectionWaitScope {
  readonly #waits = new Set<() => void>();
  #ended = false;

  /** The waits of the scope in progress. */
  get size(): number {
    return this.#waits.size;
  }

  /** The waits of `session` (a Session object) are the scope's from now on, whoever starts them. */
  adopt(session: object): void {
    sessionScopes.set(session, this);
  }

  /** Has every wait of the scope answer now, and every later one answer after one read. */
  end(): void {
    this.#ended = true;
    for (const finish of this.#waits) finish();
  }

  /** Adds a wait's `finish` (called at once when the scope ended already); returns its removal. */
  enter(finish: () => void): () => void {
    if (this.#ended) {
      finish();
      return () => {};
    }
    this.#waits.add(finish);
    return () => this.#waits.delete(finish);
  }
}

/** Results of waits whose scope ended while a toolkit was PENDING (their next steps say so). */
const endedEarly = new WeakSet<WaitForConnectionsResult>();

/** The error a wait of a deleted session ends with. */
function sessionDeletedError(sessionId: string): ToolMuxError {
  return new ToolMuxError({
    code: 'SESSION_NOT_FOUND',
    message: `The wait for connections ended because session "${sessionId}" was deleted; create a new session to go on.`,
  });
}

/** Ends the waits of session `sessionId` reading `store` at once (the session was deleted here). */
export function endSessionConnectionWaits(store: object, sessionId: string): void {
  for (const [controller, owner] of running.get(store) ?? []) {
    if (owner === sessionId) controller.abort(sessionDeletedError(sessionId));
  }
}

/**
 * Reads every toolkit's state until none is PENDING or `timeoutMs` passed (see the top of this file
 * for when it reads). Rejects with the abort reason when `signal` aborts or the ToolMux closes.
 */
export async function waitUntilSettled(options: {
  store: object;
  toolkits: readonly string[];
  read: (toolkit: string) => Promise<ToolkitConnectionState>;
  watch?: (onChange: () => void) => ConnectionWatch;
  timeoutMs: number;
  signal?: AbortSignal;
  /**
   * The session waiting: a delete in this process ends the wait at once, and each wake checks that
   * the session still exists (a delete on another instance ends it at the next wake: at once on
   * PostgreSQL, whose delete notifies; within 500 ms on SQLite).
   */
  session?: { id: string; exists: () => Promise<boolean> };
  /** The scope the wait belongs to (its session's, see `connectionWaitScopeOf`). */
  scope?: ConnectionWaitScope | undefined;
}): Promise<WaitForConnectionsResult> {
  const { store, toolkits, read, timeoutMs, signal } = options;
  signal?.throwIfAborted();
  const deadline = Date.now() + timeoutMs;
  const controller = new AbortController();
  const onAbort = () => controller.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  const waits = running.get(store) ?? new Map<AbortController, string | undefined>();
  running.set(store, waits);
  waits.set(controller, options.session?.id);
  // the wait's scope ended (its server is shutting down): the next read is the last, answered
  const finish = new AbortController();
  const leave = options.scope?.enter(() => finish.abort()) ?? (() => {});
  // what ends a pause: an abort (the wait then rejects) or the scope's end (it answers)
  const woken = AbortSignal.any([controller.signal, finish.signal]);
  let wake: (() => void) | undefined;
  const watch = timeoutMs > 0 && !finish.signal.aborted ? options.watch?.(() => wake?.()) : undefined;
  try {
    if (watch) await sleepUntil(watch.ready, deadline - Date.now(), woken);
    let pause = watch ? POSTGRES_FIRST_POLL_MS : SQLITE_FIRST_POLL_MS;
    for (;;) {
      controller.signal.throwIfAborted();
      const readAt = Date.now();
      // a read in flight does not hold an ended wait (its session deleted here, the ToolMux closed):
      // the wait ends at once, the read's answer is not looked at
      const [states, exists] = await untilAborted(
        Promise.all([Promise.all(toolkits.map(read)), options.session?.exists() ?? true]),
        controller.signal,
      );
      controller.signal.throwIfAborted();
      if (!exists) throw sessionDeletedError(options.session!.id);
      const pending = states.some((state) => state.status === 'PENDING');
      const now = Date.now();
      const ended = finish.signal.aborted;
      if (!pending || now >= deadline || ended) {
        const result: WaitForConnectionsResult = {
          toolkits: Object.fromEntries(toolkits.map((slug, index) => [slug, states[index]!])),
          timedOut: pending,
        };
        if (pending && ended && now < deadline) endedEarly.add(result);
        return result;
      }
      const live = watch?.live() === true;
      const interval = live ? LISTENING_POLL_MS : pause;
      if (!live) pause = Math.min(pause * 1.5, watch ? POSTGRES_MAX_POLL_MS : SQLITE_MAX_POLL_MS);
      const changed = new Promise<void>((resolve) => {
        wake = resolve;
      });
      await sleepUntil(changed, Math.min(interval, deadline - now), woken);
      wake = undefined;
      const gap = readAt + MIN_WAKE_GAP_MS - Date.now();
      if (gap > 0 && Date.now() + gap < deadline) await sleepUntil(undefined, gap, woken);
    }
  } finally {
    leave();
    watch?.close();
    signal?.removeEventListener('abort', onAbort);
    waits.delete(controller);
  }
}

/** Resolves when `event` settles, `ms` passed, or `signal` aborts, whichever is first. */
function sleepUntil(event: Promise<unknown> | undefined, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal.addEventListener('abort', done, { once: true });
    event?.then(done, done);
  });
}

/** What TOOLMUX_WAIT_FOR_CONNECTIONS (and REST) returns: the result in snake_case, with next steps. */
export function waitResultJson(
  result: WaitForConnectionsResult,
  reader: HintReader = applicationReader(true),
): {
  toolkits: Record<
    string,
    {
      status: ToolkitConnectionStatus;
      connected_account_id?: string;
      account_selection_required?: true;
      accounts?: Array<{ id: string; alias: string | null; is_default: boolean }>;
      connection_request_id?: string;
      expires_at?: string;
      message: string;
    }
  >;
  timed_out: boolean;
  next_steps: string;
} {
  const entries = Object.entries(result.toolkits);
  const toolkits = Object.fromEntries(
    entries.map(([slug, state]) => [
      slug,
      {
        status: state.status,
        ...(state.account ? { connected_account_id: state.account.id } : {}),
        ...(state.accountSelectionRequired
          ? {
              account_selection_required: true as const,
              accounts: (state.accounts ?? []).map(({ id, alias, isDefault }) => ({
                id,
                alias,
                is_default: isDefault,
              })),
            }
          : {}),
        ...(state.connectionRequestId ? { connection_request_id: state.connectionRequestId } : {}),
        ...(state.expiresAt ? { expires_at: state.expiresAt.toISOString() } : {}),
        message: state.message,
      },
    ]),
  );
  const by = (status: ToolkitConnectionStatus) =>
    entries.filter(([, state]) => state.status === status).map(([slug]) => slug);
  const connected = by('CONNECTED');
  const pending = by('PENDING');
  const other = entries.filter(([, state]) => state.status !== 'CONNECTED' && state.status !== 'PENDING');
  const choosing = entries.filter(([, state]) => state.accountSelectionRequired).map(([slug]) => slug);
  const choose =
    choosing.length > 0
      ? ` Each call of ${choosing.join(', ')} must name one of its accounts (its entry's message says how).`
      : '';
  const next_steps =
    connected.length === entries.length
      ? `Every toolkit asked about is connected: continue the task with its tools.${choose}`
      : [
          connected.length > 0 ? `Connected: ${connected.join(', ')}.${choose}` : '',
          pending.length > 0
            ? `Still waiting for the user on ${pending.join(', ')}${endedEarly.has(result) ? ' (the server is shutting down, so the wait ended before its timeout)' : result.timedOut ? ' (the wait timed out)' : ''}: ${reader.metaTools.has('WAIT_FOR_CONNECTIONS') ? `call ${MetaToolSlug.WAIT_FOR_CONNECTIONS} again` : inWordsOf(reader, `wait again (${apiRef('session.waitForConnections')})`)}, or ask the user whether they opened the link.`
            : '',
          other.length > 0
            ? `Not connected: ${other.map(([slug, state]) => `${slug} (${state.status})`).join(', ')}; each entry's message says what to do.`
            : '',
        ]
          .filter(Boolean)
          .join(' ');
  return { toolkits, timed_out: result.timedOut, next_steps };
}
