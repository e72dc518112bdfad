import type { Credentials } from '../catalog/types.js';
import type { RenewRequest, ResolvedAccount } from '../execution/execute.js';
import type { AccountCache } from './account-cache.js';
import type { AuthRecords } from './auth-records.js';
import {
  accountDeletedError,
  accountNotUsableError,
  type CredentialLoader,
  connectionExpiredError,
  credentialSecrets,
} from './credentials.js';

/** What happens when a tool's provider refuses an account's credentials. */
export class CredentialRenewal {
  readonly #records: AuthRecords;
  readonly #credentials: CredentialLoader;
  readonly #cache: AccountCache;

  constructor(records: AuthRecords, credentials: CredentialLoader, cache: AccountCache) {
    this.#records = records;
    this.#credentials = credentials;
    this.#cache = cache;
  }

  /**
   * A tool's provider refused an account's credentials (a handler threw CREDENTIALS_REJECTED). An
   * OAuth account with a refresh token gets a new access token, unless another call already got one
   * since (then that one is used), and the call runs once more with it. Otherwise, or when the renewed
   * credentials are refused too (`final`), the account becomes EXPIRED, so that the session shows it
   * as not connected and a new connection can be started, and CONNECTION_EXPIRED is
   * thrown. An account changed meanwhile (reconnected, refreshed elsewhere) is not marked.
   */
  async renew(request: RenewRequest): Promise<ResolvedAccount> {
    this.#cache.clear(); // the refused credentials may be cached
    const account = await this.#records.account(request.accountId);
    const label = this.#records.label(account.toolkit);
    if (account.status !== 'ACTIVE') throw accountNotUsableError(label, account);
    const resolved = (credentials: Credentials): ResolvedAccount => ({
      accountId: account.id,
      credentials,
      status: 'ACTIVE',
      secrets: credentialSecrets(credentials),
    });
    if (!request.final && this.#credentials.canRefresh(account)) {
      const refreshed = await this.#credentials.refresh(account.id, {
        force: true,
        replacing: request.rejected?.accessToken,
        account,
      });
      return resolved(await this.#credentials.load(refreshed));
    }
    const reason = request.final
      ? `${label} refused the credentials again after they were renewed`
      : `${label} refused the credentials`;
    const marked = await this.#records.store.updateConnectedAccount(
      account.id,
      { status: 'EXPIRED', statusReason: reason },
      account.version,
    );
    if (!marked) {
      // changed since it was read: a deletion or a disable stands and is named; renewed credentials
      // (another call refreshed them) are used
      const now = await this.#records.store.getConnectedAccount(account.id);
      if (!now) throw accountDeletedError(account.id, { label, slug: account.toolkit });
      if (now.status !== 'ACTIVE') throw accountNotUsableError(label, now);
      if (!request.final) return resolved(await this.#credentials.load(now));
    }
    this.#records.options.logger.warn(`toolmux: connected account ${account.id} is EXPIRED now: ${reason}.`);
    throw connectionExpiredError(label, account.id, reason, account.toolkit, account.alias);
  }
}
