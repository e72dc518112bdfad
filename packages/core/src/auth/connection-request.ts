import { setTimeout as sleep } from 'node:timers/promises';
import { inspect } from 'node:util';
import { ToolMuxError } from '../errors.js';
import type { ConnectedAccountStatusRecord } from '../store/types.js';
import type { ConnectionResult } from './types.js';

/** First wait between two looks at the store; it grows to {@link MAX_POLL_MS}. */
const FIRST_POLL_MS = 100;
const MAX_POLL_MS = 1_000;

/** @default 60 seconds */
export const DEFAULT_WAIT_MS = 60_000;

/**
 * An OAuth connection in flight: the link the user opens, and `waitForConnection()` to learn how it
 * ended. The callback may land in any process on the same store: waiting reads the account's status
 * (one primary-key lookup of a few columns), first after 100 ms, then less often, at most every second.
 */
export class ConnectionRequest {
  /** `cr_…` */
  readonly id: string;
  /** The account this request connects (`ca_…`), INITIATED until the callback. */
  readonly connectedAccountId: string;
  readonly toolkit: string;
  /** The page the user opens to connect. */
  readonly redirectUrl: string;
  /** After this the link no longer works (10 minutes after it was made). */
  readonly expiresAt: Date;
  readonly #readStatus: (accountId: string) => Promise<ConnectedAccountStatusRecord | undefined>;

  /** @internal made by `session.authorize()` and `connectedAccounts.link()` */
  constructor(
    fields: { id: string; connectedAccountId: string; toolkit: string; redirectUrl: string; expiresAt: Date },
    readStatus: (accountId: string) => Promise<ConnectedAccountStatusRecord | undefined>,
  ) {
    this.id = fields.id;
    this.connectedAccountId = fields.connectedAccountId;
    this.toolkit = fields.toolkit;
    this.redirectUrl = fields.redirectUrl;
    this.expiresAt = fields.expiresAt;
    this.#readStatus = readStatus;
  }

  /**
   * Resolves when the account is ACTIVE. Rejects with a ToolMuxError when it ends FAILED, EXPIRED or
   * REVOKED (`CONNECTION_FAILED` / `CONNECTION_EXPIRED`), when the request expires
   * (`CONNECTION_REQUEST_EXPIRED`) and after `timeoutMs` (`CONNECTION_TIMEOUT`).
   */
  async waitForConnection(timeoutMs: number = DEFAULT_WAIT_MS): Promise<ConnectionResult> {
    const deadline = Date.now() + timeoutMs;
    let pause = FIRST_POLL_MS;
    for (;;) {
      const account = await this.#readStatus(this.connectedAccountId);
      if (!account) {
        throw new ToolMuxError({
          code: 'CONNECTED_ACCOUNT_NOT_FOUND',
          message: `Connected account ${this.connectedAccountId} of connection request ${this.id} was deleted before it connected.`,
        });
      }
      if (account.status === 'ACTIVE') return { id: account.id, status: 'ACTIVE', toolkit: account.toolkit };
      if (account.status !== 'INITIATED') throw this.#ended(account);
      const now = Date.now();
      if (now >= this.expiresAt.getTime()) {
        throw new ToolMuxError({
          code: 'CONNECTION_REQUEST_EXPIRED',
          message: `The ${this.toolkit} connection request ${this.id} expired before the user finished; start a new one with authorize().`,
          details: { connectionRequestId: this.id, connectedAccountId: this.connectedAccountId },
        });
      }
      if (now >= deadline) {
        throw new ToolMuxError({
          code: 'CONNECTION_TIMEOUT',
          message: `The ${this.toolkit} account ${this.connectedAccountId} was not connected within ${timeoutMs} ms; the user may still finish (the link works until ${this.expiresAt.toISOString()}): wait again or start a new connection.`,
          details: { connectionRequestId: this.id, connectedAccountId: this.connectedAccountId },
        });
      }
      await sleep(Math.min(pause, deadline - now, this.expiresAt.getTime() - now));
      pause = Math.min(pause * 1.5, MAX_POLL_MS);
    }
  }

  #ended(account: ConnectedAccountStatusRecord): ToolMuxError {
    const reason = account.statusReason ? ` (${account.statusReason})` : '';
    return new ToolMuxError({
      code: account.status === 'FAILED' ? 'CONNECTION_FAILED' : 'CONNECTION_EXPIRED',
      message: `The ${this.toolkit} connection ${this.connectedAccountId} ended ${account.status}${reason}. Start a new connection with authorize().`,
      details: { connectedAccountId: this.connectedAccountId, status: account.status },
    });
  }

  toJSON(): {
    id: string;
    connectedAccountId: string;
    toolkit: string;
    redirectUrl: string;
    expiresAt: string;
  } {
    return {
      id: this.id,
      connectedAccountId: this.connectedAccountId,
      toolkit: this.toolkit,
      redirectUrl: this.redirectUrl,
      expiresAt: this.expiresAt.toISOString(),
    };
  }

  [inspect.custom](): string {
    return `ConnectionRequest ${inspect(this.toJSON())}`;
  }
}
