import { configField } from '../api-refs.js';
import type { FieldAuthScheme, OAuth2Scheme, Toolkit } from '../catalog/types.js';
import type {
  AccountRequest,
  AccountSelection,
  RenewRequest,
  ResolvedAccount,
} from '../execution/execute.js';
import type { AuthConfigRecord, ConnectedAccountRecord, ListConnectedAccountsQuery } from '../store/types.js';
import { AccountCache } from './account-cache.js';
import { type AccountChoices, AccountSelector, type SelectRequest } from './account-selection.js';
import { AuthConfigs } from './auth-configs.js';
import { AuthRecords, type AuthServiceOptions } from './auth-records.js';
import { ConnectedAccounts } from './connected-accounts.js';
import type { ConnectionRequest } from './connection-request.js';
import { type ConnectionPlan, ConnectionRequests } from './connection-requests.js';
import { CredentialRenewal } from './credential-renewal.js';
import { CredentialLoader } from './credentials.js';
import { handleOAuthCallback } from './oauth-callback.js';
import { oauth2SchemeOf } from './schemes.js';
import type {
  AuthConfig,
  ConnectedAccount,
  ConnectionRequestInfo,
  CreateAuthConfigOptions,
  UpdateAuthConfigOptions,
} from './types.js';

export type { AuthServiceOptions } from './auth-records.js';
export { CONNECTION_REQUEST_TTL_MS, type ConnectionPlan } from './connection-requests.js';

/**
 * The one object the engine, sessions and the proxy hold for auth. Each job lives in its own file:
 * auth configs (auth-configs.ts), connected accounts (connected-accounts.ts), connection requests
 * (connection-requests.ts) and the OAuth callback (oauth-callback.ts), which account a call uses
 * (account-selection.ts), and what happens when credentials are refused (credential-renewal.ts).
 * Credentials live only in the vault's ciphertext and in the `ctx.credentials` of a running call.
 */
export class AuthService {
  readonly credentials: CredentialLoader;
  readonly authConfigs: AuthConfigs;
  readonly connectedAccounts: ConnectedAccounts;
  readonly connectionRequests: ConnectionRequests;
  readonly selector: AccountSelector;
  readonly renewal: CredentialRenewal;
  readonly #records: AuthRecords;

  constructor(options: AuthServiceOptions) {
    const cache = new AccountCache({ ttlMs: options.accountCacheTtlMs });
    const store = cache.watch(options.store);
    const records = new AuthRecords({ ...options, store });
    this.#records = records;
    this.credentials = new CredentialLoader({
      store,
      vault: options.vault,
      fetch: options.fetch,
      oauthRequestTimeoutMs: options.oauthRequestTimeoutMs,
      logger: options.logger,
      oauthOf: async (authConfigId) => {
        const config = await records.authConfig(authConfigId);
        const toolkit = records.toolkit(config.toolkit);
        return { scheme: oauth2SchemeOf(toolkit), client: records.oauthClient(config, toolkit) };
      },
      toolkitLabel: (slug) => records.label(slug),
    });
    this.connectedAccounts = new ConnectedAccounts(records, this.credentials);
    this.authConfigs = new AuthConfigs(records, this.connectedAccounts);
    this.connectionRequests = new ConnectionRequests(records, this.authConfigs, this.connectedAccounts);
    this.selector = new AccountSelector(records, this.authConfigs, this.credentials, cache);
    this.renewal = new CredentialRenewal(records, this.credentials, cache);
  }

  /** Whether links open the hosted connect page (a toolmux server serves this ToolMux). */
  get hostedConnectPage(): boolean {
    return this.#records.options.hostedConnectPage();
  }

  // auth configs
  createAuthConfig(toolkit: string, options: CreateAuthConfigOptions): Promise<AuthConfig> {
    return this.authConfigs.create(toolkit, options);
  }
  getAuthConfig(id: string): Promise<AuthConfig> {
    return this.authConfigs.get(id);
  }
  listAuthConfigs(query: { toolkit?: string; limit?: number; cursor?: string } = {}): Promise<{
    items: AuthConfig[];
    nextCursor: string | undefined;
  }> {
    return this.authConfigs.list(query);
  }
  updateAuthConfig(id: string, changes: UpdateAuthConfigOptions): Promise<AuthConfig> {
    return this.authConfigs.update(id, changes);
  }
  deleteAuthConfig(id: string): Promise<void> {
    return this.authConfigs.delete(id);
  }
  managedAuthConfig(toolkit: Toolkit, options: { create: boolean }): Promise<AuthConfigRecord | undefined> {
    return this.authConfigs.managed(toolkit, options);
  }

  // connected accounts
  createConnectedAccount(
    userId: string,
    authConfigId: string,
    credentials: unknown,
    options?: { alias?: string },
  ): Promise<ConnectedAccount> {
    return this.connectedAccounts.create(userId, authConfigId, credentials, options);
  }
  updateConnectedAccount(id: string, changes: { alias?: string | null }): Promise<ConnectedAccount> {
    return this.connectedAccounts.update(id, changes);
  }
  getConnectedAccount(id: string): Promise<ConnectedAccount> {
    return this.connectedAccounts.get(id);
  }
  listConnectedAccounts(
    query: Partial<Omit<ListConnectedAccountsQuery, 'limit'>> & { limit?: number } = {},
  ): Promise<{ items: ConnectedAccount[]; nextCursor: string | undefined }> {
    return this.connectedAccounts.list(query);
  }
  deleteConnectedAccount(id: string): Promise<void> {
    return this.connectedAccounts.delete(id);
  }
  setConnectedAccountEnabled(id: string, enabled: boolean): Promise<ConnectedAccount> {
    return this.connectedAccounts.setEnabled(id, enabled);
  }
  refreshConnectedAccount(id: string, options?: { signal?: AbortSignal }): Promise<ConnectedAccount> {
    return this.connectedAccounts.refresh(id, options);
  }

  // connection requests and the OAuth callback
  link(
    userId: string,
    authConfigId: string,
    options: { callbackUrl?: string; alias?: string } = {},
  ): Promise<ConnectionRequest> {
    return this.connectionRequests.link(userId, authConfigId, options);
  }
  reconnect(id: string, options: { callbackUrl?: string } = {}): Promise<ConnectionRequest> {
    return this.connectionRequests.reconnect(id, options);
  }
  getConnectionRequest(id: string): Promise<ConnectionRequestInfo> {
    return this.connectionRequests.get(id);
  }
  completeConnectionRequest(id: string, credentials: unknown): Promise<ConnectedAccount> {
    return this.connectionRequests.complete(id, credentials);
  }
  connectionRequestAuthorizationUrl(id: string): Promise<string> {
    return this.connectionRequests.authorizationUrl(id);
  }
  connectionPlan(
    toolkit: Toolkit,
    selection: AccountSelection,
    options: { create: boolean },
  ): Promise<ConnectionPlan> {
    return this.connectionRequests.plan(toolkit, selection, options);
  }
  authorize(request: {
    userId: string;
    toolkit: Toolkit;
    selection: AccountSelection;
    callbackUrl: string | undefined;
    alias?: string | undefined;
  }): Promise<ConnectionRequest> {
    return this.connectionRequests.authorize(request);
  }
  /** The OAuth redirect target (`redirect_uri`): see oauth-callback.ts. */
  handleCallback(request: Request): Promise<Response> {
    return handleOAuthCallback(this.#records, request);
  }
  /**
   * Resolves once the token revocations callbacks left running after they answered have ended, for at
   * most one `oauthRequestTimeoutMs` and 1 s (see `PendingRevocations.settle`): for `mux.close()`.
   */
  settleRevocations(): Promise<void> {
    return this.#records.revocations.settle();
  }

  // which account a call uses, and refused credentials
  checkSelection(userId: string, selection: AccountSelection): Promise<void> {
    return this.selector.checkSelection(userId, selection);
  }
  /**
   * A session's `manageConnections.callbackUrl`, at `create()` and `update()`: CALLBACK_URL_NOT_ALLOWED
   * when the allowlist refuses it (else every link TOOLMUX_MANAGE_CONNECTIONS asks for would fail, in
   * words for the developer that only the agent reads).
   */
  checkConnectionCallbackUrl(callbackUrl: string | undefined): void {
    if (callbackUrl === undefined) return;
    // the config's field, named alike by the SDK and REST (a session config is camelCase in both)
    const field = configField('manageConnections.callbackUrl');
    this.#records.options.callbackUrls.check(callbackUrl, field, { field });
  }
  selectAccount(request: SelectRequest): Promise<ConnectedAccountRecord> {
    return this.selector.selectAccount(request);
  }
  accountChoices(request: SelectRequest): Promise<AccountChoices> {
    return this.selector.accountChoices(request);
  }
  resolveAccount(request: AccountRequest): Promise<ResolvedAccount> {
    return this.selector.resolveAccount(request);
  }
  schemeOfAccount(
    account: ConnectedAccountRecord,
    toolkit: Toolkit,
  ): Promise<OAuth2Scheme | FieldAuthScheme> {
    return this.selector.schemeOfAccount(account, toolkit);
  }
  async renewCredentials(request: RenewRequest): Promise<ResolvedAccount | null> {
    try {
      return await this.renewal.renew(request);
    } catch (error) {
      throw request.userId === undefined
        ? error
        : await this.selector.afterExpiry({ ...request, userId: request.userId }, error);
    }
  }
}
