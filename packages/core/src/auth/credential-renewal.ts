import type { Credentials } from '../catalog/types.js';
import type { RenewRequest, ResolvedAccount } from '../execution/execute.js';
import type { ConnectedAccountRecord } from '../store/types.js';
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
   * thrown. An account changed meanwhile is not marked: one that holds other credentials by then
   * (another call refreshed its token, or is refreshing it: that refresh is waited for) answers with
   * those, to run once more with; one disabled or deleted says so. Null when the final renewal lost
   * to other changes of the account too often to mark it: the call keeps the provider's refusal.
   * `request.signal` ends the waits (for a refresh, for one to settle) at once, with its reason.
   */
  async renew(request: RenewRequest): Promise<ResolvedAccount | null> {
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
        signal: request.signal,
      });
      return resolved(await this.#credentials.load(refreshed, request));
    }
    if (request.final) return this.#renewedElsewhere(request, account, label, resolved);
    const reason = `${label} refused the credentials`;
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
      return resolved(await this.#credentials.load(now, request));
    }
    this.#records.options.logger.warn(`toolmux: connected account ${account.id} is EXPIRED now: ${reason}.`);
    throw connectionExpiredError(label, account.id, reason, account.toolkit, account.alias);
  }

  /**
   * The renewed credentials were refused too: the account is marked EXPIRED only while it still holds
   * them. A mark that loses to a change of the account reads it again: credentials renewed since by
   * another call (or by the refresh under way, waited for) are the ones to run with; a disable or a
   * deletion is named; another change (a rename, a lease taken and let go of) is marked over.
   */
  async #renewedElsewhere(
    request: RenewRequest,
    read: ConnectedAccountRecord,
    label: string,
    resolved: (credentials: Credentials) => ResolvedAccount,
  ): Promise<ResolvedAccount | null> {
    const { store, options } = this.#records;
    const reason = `${label} refused the credentials again after they were renewed`;
    const gone = () => accountDeletedError(read.id, { label, slug: read.toolkit });
    let account = read;
    for (let attempt = 1; attempt <= MARK_RETRIES; attempt++) {
      if (account.status !== 'ACTIVE') throw accountNotUsableError(label, account);
      if (this.#credentials.holdsOtherThan(account, request.rejected)) {
        return resolved(await this.#credentials.load(account, request));
      }
      if (this.#credentials.refreshing(account)) {
        const settled = await this.#credentials.settled(account.id, request.signal);
        if (!settled) throw gone();
        if (settled.version !== account.version) {
          account = settled;
          continue;
        }
      }
      const marked = await store.updateConnectedAccount(
        account.id,
        { status: 'EXPIRED', statusReason: reason },
        account.version,
      );
      if (marked) {
        options.logger.warn(`toolmux: connected account ${account.id} is EXPIRED now: ${reason}.`);
        throw connectionExpiredError(label, account.id, reason, account.toolkit, account.alias);
      }
      const now = await store.getConnectedAccount(account.id);
      if (!now) throw gone();
      account = now;
    }
    return null;
  }
}

/** How many times the final renewal reads an account again after its mark lost to a change of it. */
const MARK_RETRIES = 5;
