import { setTimeout as sleep } from 'node:timers/promises';
import { inspect } from 'node:util';
import { apiRef } from '../api-refs.js';
import { ToolMuxError } from '../errors.js';
import {
  ATTEMPT_REPLACED_REASON,
  type ConnectionRequestKind,
  type ConnectionRequestRecord,
} from '../store/types.js';
import { MAX_TIMER_MS, wholeNumberOf } from '../util/whole-number.js';
import { authConfigRefusedIn } from './oauth.js';
import type { ConnectionRequestStatus, ConnectionResult } from './types.js';

/** First wait between two looks at the request; it grows to {@link MAX_POLL_MS}. */
const FIRST_POLL_MS = 100;
const MAX_POLL_MS = 1_000;

/** @default 60 seconds */
export const DEFAULT_WAIT_MS = 60_000;

/** `waitForConnection`'s timeout: the default for nothing, else a whole number of milliseconds in bounds. */
function waitTimeoutOf(value: unknown): number {
  if (value === undefined) return DEFAULT_WAIT_MS;
  return wholeNumberOf(value, {
    name: 'request.waitForConnection() timeoutMs',
    code: 'INVALID_REQUEST',
    unit: 'milliseconds',
    min: 0,
    max: MAX_TIMER_MS,
    purpose: 'how long to wait for the user to connect; 0 looks once',
    leaveOut: `Leave it out for ${DEFAULT_WAIT_MS}.`,
  });
}

/**
 * How long after its expiry a request that was taken in time may still be completing: its callback
 * trades the code for tokens (30 s by default, `oauthRequestTimeoutMs`) and writes them.
 */
export const COMPLETION_MARGIN_MS = 5 * 60_000;

/**
 * How a stored request stands at `now`. EXPIRED is a PENDING request nobody took before `expiresAt`,
 * or one taken whose completion did not end within {@link COMPLETION_MARGIN_MS} after it (the process
 * completing it went away): neither can complete any more.
 */
export function requestStatusAt(
  record: Pick<ConnectionRequestRecord, 'status' | 'usedAt' | 'expiresAt'>,
  now: Date,
): ConnectionRequestStatus {
  if (record.status !== 'PENDING') return record.status;
  // a used request is being completed (the OAuth code is being exchanged): not expired yet
  const endsAt = record.expiresAt.getTime() + (record.usedAt === null ? 0 : COMPLETION_MARGIN_MS);
  return endsAt <= now.getTime() ? 'EXPIRED' : 'PENDING';
}

/** What `waitForConnection` reads at each look: how the request stands. */
export interface ConnectionRequestProgress {
  status: ConnectionRequestStatus;
  /** The account the request connected (or, for OAuth, is connecting). */
  connectedAccountId: string | null;
  /**
   * Why a FAILED request failed, in the provider's words, where it is known; for an EXPIRED OAuth
   * request, its account's reason (whether newer attempts replaced it).
   */
  statusReason?: string | null;
}

/**
 * A connection in flight: the link the user opens, and `waitForConnection()` to learn how it ended.
 * The user may finish in any process on the same store (or through the server): waiting reads the
 * request (one primary-key lookup), first after 100 ms, then less often, at most every second.
 */
export class ConnectionRequest {
  /** `cr_…` */
  readonly id: string;
  /** `oauth2`: the user signs in at the provider; `fields`: the user gives an API key, token or password. */
  readonly kind: ConnectionRequestKind;
  /**
   * `oauth2`: the account this request connects (`ca_…`), INITIATED until the callback. `fields`:
   * null; the account exists once the user has given the credentials (`waitForConnection()` returns it).
   */
  readonly connectedAccountId: string | null;
  /**
   * The account this request reconnects in place (`connectedAccounts.reconnect(id)`: the same as
   * `connectedAccountId`); null for a new connection.
   */
  readonly reconnectOf: string | null;
  readonly toolkit: string;
  /** The page the user opens to connect. */
  readonly redirectUrl: string;
  /** After this the link no longer works (10 minutes after it was made). */
  readonly expiresAt: Date;
  readonly #read: () => Promise<ConnectionRequestProgress | undefined>;

  /** @internal made by `session.authorize()` and `connectedAccounts.link()` */
  constructor(
    fields: {
      id: string;
      kind: ConnectionRequestKind;
      connectedAccountId: string | null;
      /** Absent: a new connection (and what a server of before the field answers). */
      reconnectOf?: string | null;
      toolkit: string;
      redirectUrl: string;
      expiresAt: Date;
    },
    read: () => Promise<ConnectionRequestProgress | undefined>,
  ) {
    this.id = fields.id;
    this.kind = fields.kind;
    this.connectedAccountId = fields.connectedAccountId;
    this.reconnectOf = fields.reconnectOf ?? null;
    this.toolkit = fields.toolkit;
    this.redirectUrl = fields.redirectUrl;
    this.expiresAt = fields.expiresAt;
    this.#read = read;
  }

  /**
   * Resolves with the account when the request is COMPLETED (the OAuth callback, or the credentials
   * form, succeeded). Rejects with a ToolMuxError when it FAILED (`CONNECTION_FAILED`), when it
   * EXPIRED before the user finished (`CONNECTION_REQUEST_EXPIRED`), when it was deleted with its
   * auth config or account, or a day after it expired (`CONNECTION_REQUEST_NOT_FOUND`), and after `timeoutMs` (`CONNECTION_TIMEOUT`):
   * a whole number of milliseconds from 0 (look once) to 2147483647 (about 24.8 days, the longest a
   * Node.js timer waits), default 60000; anything else is INVALID_REQUEST, before the request is read.
   */
  async waitForConnection(given?: number): Promise<ConnectionResult> {
    const timeoutMs = waitTimeoutOf(given);
    /** What starts over: a reconnect of the same account, else a new connection. */
    const again = this.reconnectOf
      ? `reconnect account ${this.reconnectOf} again with ${apiRef('connectedAccounts.reconnect', { connectedAccountId: this.reconnectOf })}`
      : 'start a new connection with authorize()';
    const Again = again[0]!.toUpperCase() + again.slice(1);
    const deadline = Date.now() + timeoutMs;
    let pause = FIRST_POLL_MS;
    for (;;) {
      const progress = await this.#read();
      const details = {
        connectionRequestId: this.id,
        connectedAccountId: progress?.connectedAccountId ?? null,
      };
      switch (progress?.status) {
        case undefined:
          throw new ToolMuxError({
            code: 'CONNECTION_REQUEST_NOT_FOUND',
            message: `The ${this.toolkit} connection request ${this.id} was deleted before the user finished (with its auth config or account, or a day after it expired). ${this.reconnectOf ? `If account ${this.reconnectOf} still exists, ${again}; else start a new connection with authorize().` : `${Again}.`}`,
            details,
          });
        case 'COMPLETED':
          return { id: progress.connectedAccountId!, status: 'ACTIVE', toolkit: this.toolkit };
        case 'FAILED': {
          const reason = progress.statusReason ? ` (${progress.statusReason})` : '';
          // a refused OAuth client: the reason says which auth config to fix first
          const next = authConfigRefusedIn(progress.statusReason)
            ? `Fix the auth config, then ${again}.`
            : `${Again}.`;
          const what = this.reconnectOf
            ? `reconnect of account ${this.reconnectOf} (connection request ${this.id})`
            : `connection ${progress.connectedAccountId ?? this.id}`;
          throw new ToolMuxError({
            code: 'CONNECTION_FAILED',
            message: `The ${this.toolkit} ${what} failed${reason}. ${next}`,
            details,
          });
        }
        case 'EXPIRED':
          throw new ToolMuxError({
            code: 'CONNECTION_REQUEST_EXPIRED',
            message:
              progress.statusReason === ATTEMPT_REPLACED_REASON
                ? `The ${this.toolkit} connection request ${this.id} was replaced by newer connection attempts of the same user before the user finished (at most 10 stay pending): wait for the newest one, or ${again}.`
                : `The ${this.toolkit} connection request ${this.id} expired before the user finished; ${again}.`,
            details,
          });
        case 'PENDING':
          break;
      }
      const now = Date.now();
      if (now >= deadline) {
        throw new ToolMuxError({
          code: 'CONNECTION_TIMEOUT',
          message: `The ${this.toolkit} connection request ${this.id} was not completed within ${timeoutMs} ms; the user may still finish (the link works until ${this.expiresAt.toISOString()}): wait again or ${this.reconnectOf ? again : 'start a new connection'}.`,
          details,
        });
      }
      await sleep(Math.min(pause, deadline - now));
      pause = Math.min(pause * 1.5, MAX_POLL_MS);
    }
  }

  toJSON(): {
    id: string;
    kind: ConnectionRequestKind;
    connectedAccountId: string | null;
    reconnectOf: string | null;
    toolkit: string;
    redirectUrl: string;
    expiresAt: string;
  } {
    return {
      id: this.id,
      kind: this.kind,
      connectedAccountId: this.connectedAccountId,
      reconnectOf: this.reconnectOf,
      toolkit: this.toolkit,
      redirectUrl: this.redirectUrl,
      expiresAt: this.expiresAt.toISOString(),
    };
  }

  [inspect.custom](): string {
    return `ConnectionRequest ${inspect(this.toJSON())}`;
  }
}
