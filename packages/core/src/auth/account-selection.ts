import { apiRef } from '../api-refs.js';
import type { FieldAuthScheme, OAuth2Scheme, Toolkit } from '../catalog/types.js';
import { ToolMuxError } from '../errors.js';
import type { AccountRequest, AccountSelection, ResolvedAccount } from '../execution/execute.js';
import type { ConnectedAccountRecord } from '../store/types.js';
import { shownValue } from '../util/stored-text.js';
import type { AccountCache } from './account-cache.js';
import type { AuthConfigs } from './auth-configs.js';
import type { AuthRecords } from './auth-records.js';
import { type CredentialLoader, connectionExpiredError, credentialSecrets } from './credentials.js';
import { schemeOf } from './schemes.js';

/**
 * Which connected account a call uses: a session's `authConfigs` / `connectedAccounts` checked, the
 * precedence rules of docs/auth.md ("Which account a call uses"), and the execution path's account
 * step (the chosen account's credentials, reused through the account cache).
 */
export class AccountSelector {
  readonly #records: AuthRecords;
  readonly #configs: AuthConfigs;
  readonly #credentials: CredentialLoader;
  readonly #cache: AccountCache;

  constructor(
    records: AuthRecords,
    configs: AuthConfigs,
    credentials: CredentialLoader,
    cache: AccountCache,
  ) {
    this.#records = records;
    this.#configs = configs;
    this.#credentials = credentials;
    this.#cache = cache;
  }

  /**
   * Checks a session's `authConfigs` and `connectedAccounts` (at `create()` and `update()`): every id
   * exists, belongs to the toolkit it is listed under, and every account to the session's user.
   */
  async checkSelection(userId: string, selection: AccountSelection): Promise<void> {
    const store = this.#records.store;
    for (const [toolkit, id] of Object.entries(selection.authConfigs ?? {})) {
      const config = await store.getAuthConfig(id);
      if (!config) {
        throw new ToolMuxError({
          code: 'AUTH_CONFIG_NOT_FOUND',
          message: `authConfigs.${toolkit} names auth config "${id}", which does not exist. Create one with ${apiRef('authConfigs.create', { toolkit })} or remove the entry.`,
          details: { toolkit, authConfigId: id },
        });
      }
      if (config.toolkit !== toolkit) {
        throw new ToolMuxError({
          code: 'AUTH_CONFIG_MISMATCH',
          message: `authConfigs.${toolkit} names auth config ${id}, which is for toolkit "${config.toolkit}", not "${toolkit}". Use an auth config of ${toolkit}.`,
          details: { toolkit, authConfigId: id, authConfigToolkit: config.toolkit },
        });
      }
    }
    for (const [toolkit, ids] of Object.entries(selection.connectedAccounts ?? {})) {
      for (const id of ids) {
        const account = await store.getConnectedAccount(id);
        if (!account) {
          throw new ToolMuxError({
            code: 'CONNECTED_ACCOUNT_NOT_FOUND',
            message: `connectedAccounts.${toolkit} names connected account "${id}", which does not exist. List the user's accounts with ${apiRef('connectedAccounts.list', { userId })}.`,
            details: { toolkit, connectedAccountId: id },
          });
        }
        if (account.userId !== userId) {
          throw new ToolMuxError({
            code: 'CONNECTED_ACCOUNT_MISMATCH',
            message: `connectedAccounts.${toolkit} names connected account ${id}, which belongs to another user, not "${userId}". A session may only use its own user's accounts.`,
            details: { toolkit, connectedAccountId: id },
          });
        }
        if (account.toolkit !== toolkit) {
          throw new ToolMuxError({
            code: 'CONNECTED_ACCOUNT_MISMATCH',
            message: `connectedAccounts.${toolkit} names connected account ${id}, which is a "${account.toolkit}" account, not "${toolkit}".`,
            details: { toolkit, connectedAccountId: id, accountToolkit: account.toolkit },
          });
        }
      }
    }
  }

  /**
   * The account a call runs with (docs/auth.md, "Which account a call uses"):
   *
   * 1. the session's `connectedAccounts[toolkit]`, in the order listed: the first ACTIVE one;
   * 2. the session's `authConfigs[toolkit]`: the user's most recently connected ACTIVE account on it;
   * 3. the auth config toolmux created for the toolkit: the same;
   * 4. (`managedAuth` credentials become that config when a connection is started: `authorize()`,
   *    TOOLMUX_MANAGE_CONNECTIONS; until the user connects there is no account to find);
   * 5. otherwise CONNECTION_EXPIRED (an account exists but expired) or CONNECTION_REQUIRED.
   *
   * A session that names accounts or an auth config for the toolkit stops there: it never falls back
   * to accounts it did not name. `connectedAccountId` (direct execution) bypasses the rules, checked.
   */
  async selectAccount(request: {
    toolkit: Toolkit;
    userId: string;
    selection?: AccountSelection | undefined;
    connectedAccountId?: string | undefined;
  }): Promise<ConnectedAccountRecord> {
    const account = await this.#selectByPrecedence(request);
    // Defence in depth: whatever a query returned (a database that folds ill-formed text, a bug in
    // a filter), credentials are only ever decrypted for an account of the caller's user and toolkit.
    if (account.userId !== request.userId || account.toolkit !== request.toolkit.slug) {
      this.#records.options.logger.error(
        `toolmux: refused connected account ${account.id}: the account lookup for a ${request.toolkit.slug} call returned an account of another user or toolkit.`,
      );
      throw new ToolMuxError({
        code: 'CONNECTED_ACCOUNT_MISMATCH',
        message: `Connected account ${account.id} is not a ${request.toolkit.slug} account of user ${shownValue(request.userId)}, so it was not used.`,
        details: { connectedAccountId: account.id },
      });
    }
    return account;
  }

  async #selectByPrecedence(request: {
    toolkit: Toolkit;
    userId: string;
    selection?: AccountSelection | undefined;
    connectedAccountId?: string | undefined;
  }): Promise<ConnectedAccountRecord> {
    const { toolkit, userId, selection } = request;
    if (request.connectedAccountId !== undefined) {
      const account = await this.#records.account(request.connectedAccountId);
      if (account.userId !== userId || account.toolkit !== toolkit.slug) {
        throw new ToolMuxError({
          code: 'CONNECTED_ACCOUNT_MISMATCH',
          message: `Connected account ${account.id} is not a ${toolkit.slug} account of user "${userId}".`,
          details: { connectedAccountId: account.id },
        });
      }
      if (account.status !== 'ACTIVE') throw this.#notUsable(toolkit, userId, [account]);
      return account;
    }
    const seen: ConnectedAccountRecord[] = [];
    let configured = false;
    for (const id of selection?.connectedAccounts?.[toolkit.slug] ?? []) {
      configured = true;
      const account = await this.#records.store.getConnectedAccount(id);
      if (!account || account.userId !== userId || account.toolkit !== toolkit.slug) continue;
      if (account.status === 'ACTIVE') return account;
      seen.push(account);
    }
    const authConfigIds: string[] = [];
    const chosen = selection?.authConfigs?.[toolkit.slug];
    if (chosen) {
      configured = true;
      authConfigIds.push(chosen);
    } else if (!configured) {
      const managed = await this.#configs.managed(toolkit, { create: false });
      if (managed) authConfigIds.push(managed.id);
    }
    for (const authConfigId of authConfigIds) {
      const recent = await this.#records.store.listRecentConnectedAccounts({
        userId,
        authConfigId,
        statuses: ['ACTIVE', 'EXPIRED'],
        limit: 10,
      });
      const active = recent.find((account) => account.status === 'ACTIVE');
      if (active) return active;
      seen.push(...recent);
    }
    throw this.#notUsable(toolkit, userId, seen);
  }

  #notUsable(toolkit: Toolkit, userId: string, seen: readonly ConnectedAccountRecord[]): ToolMuxError {
    const label = `${toolkit.name} (${toolkit.slug})`;
    const expired = seen.find((account) => account.status === 'EXPIRED' || account.status === 'REVOKED');
    if (expired) return connectionExpiredError(label, expired.id, expired.statusReason);
    const other = seen[0];
    return new ToolMuxError({
      code: 'CONNECTION_REQUIRED',
      message:
        `${label} needs a connected account for user "${userId}", and none is ` +
        `${other ? `active (${other.id} is ${other.status})` : 'connected'}. Ask the user to connect ${toolkit.name} ` +
        '(TOOLMUX_MANAGE_CONNECTIONS gives a link to open), then retry.',
      details: { toolkit: toolkit.slug },
    });
  }

  /** The execution path's account step: select by precedence, then load (and refresh) credentials. */
  async resolveAccount(request: AccountRequest): Promise<ResolvedAccount> {
    if (request.toolkit.noAuth) return { accountId: null, credentials: undefined };
    const cached = this.#cache.get(request);
    if (cached) return cached;
    const generation = this.#cache.generation();
    const account = await this.selectAccount(request);
    if (request.peek) return { accountId: account.id, credentials: undefined, status: account.status };
    const credentials = await this.#credentials.load(account);
    const resolved: ResolvedAccount = {
      accountId: account.id,
      credentials,
      status: account.status,
      secrets: credentialSecrets(credentials),
    };
    this.#cache.set(request, resolved, generation);
    return resolved;
  }

  /** The scheme an account's credentials follow. */
  async schemeOfAccount(
    account: ConnectedAccountRecord,
    toolkit: Toolkit,
  ): Promise<OAuth2Scheme | FieldAuthScheme> {
    const config = await this.#records.authConfig(account.authConfigId);
    const scheme = schemeOf(toolkit, config.type);
    if (!scheme) {
      throw new ToolMuxError({
        code: 'AUTH_CONFIG_INVALID',
        message: `${toolkit.name} (${toolkit.slug}) has no ${config.type} auth scheme any more.`,
      });
    }
    return scheme;
  }
}
