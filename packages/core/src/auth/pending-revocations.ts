import { settlesWithin } from '../util/abort.js';
import type { Logger } from '../util/logger.js';

/** How much longer than one revocation request may take `mux.close()` waits for the ones still running. */
const CLOSE_GRACE_MS = 1_000;

/**
 * The token revocations an OAuth callback leaves running after it answered: the tokens a reconnect
 * replaced, and tokens just issued that no account keeps. Best effort, they never change the
 * callback's outcome, so the user's browser and `waitForConnection()` do not wait on the provider's
 * revocation endpoint. Each one's requests end at `oauthRequestTimeoutMs`; `mux.close()` waits for
 * them ({@link settle}).
 */
export class PendingRevocations {
  readonly #logger: Logger;
  readonly #timeoutMs: number;
  /** Each revocation still running, with the account whose tokens it revokes. */
  readonly #running = new Map<Promise<void>, string>();

  constructor(options: { logger: Logger; timeoutMs: number }) {
    this.#logger = options.logger;
    this.#timeoutMs = options.timeoutMs;
  }

  /**
   * Starts `revoke`, the revocation of tokens of account `accountId`, without waiting for it. It logs
   * its own failures (naming the account, never a token) and does not reject; one that still does is
   * logged by its kind only (its message might quote what was sent).
   */
  run(accountId: string, revoke: () => Promise<void>): void {
    const running: Promise<void> = Promise.resolve()
      .then(revoke)
      .catch((error: unknown) => {
        this.#logger.warn(
          `toolmux: the revocation of the replaced or unkept tokens of ${accountId} failed (${error instanceof Error ? error.name : 'unknown error'}): revoke them at the provider if they may still be live.`,
        );
      })
      .finally(() => this.#running.delete(running));
    this.#running.set(running, accountId);
  }

  /**
   * Resolves once every revocation running has ended, also those started meanwhile (a callback that
   * was answering as `close()` began), for at most one `oauthRequestTimeoutMs` and 1 s: each request
   * of a revocation ends at that timeout, but a `fetch` of the application's that ignores its signal
   * could hold one for ever. Those still running then are named in a warning and not waited for.
   */
  async settle(): Promise<void> {
    const waitMs = this.#timeoutMs + CLOSE_GRACE_MS;
    const deadline = Date.now() + waitMs;
    while (this.#running.size > 0) {
      const left = deadline - Date.now();
      if (left <= 0 || !(await settlesWithin(Promise.all(this.#running.keys()), left))) break;
    }
    if (this.#running.size === 0) return;
    const accounts = [...new Set(this.#running.values())];
    this.#logger.warn(
      `toolmux: mux.close() stopped waiting, after ${waitMs} ms (oauthRequestTimeoutMs and 1 s), for the revocation at the provider of tokens of ${accounts.join(', ')}, which the ToolMux's fetch did not end at its timeout: revoke them at the provider if they may still be live.`,
    );
  }
}
