import { createHash } from 'node:crypto';
import { apiRef } from '../api-refs.js';
import type { Catalog } from '../catalog/catalog.js';
import type { Credentials, FieldAuthScheme, OAuth2Scheme, Toolkit } from '../catalog/types.js';
import { ToolMuxError } from '../errors.js';
import type {
  AccountRequest,
  AccountSelection,
  RenewRequest,
  ResolvedAccount,
} from '../execution/execute.js';
import type {
  AuthConfigRecord,
  ConnectedAccountRecord,
  ConnectionRequestRecord,
  ConnectionStatus,
  ListConnectedAccountsQuery,
  Store,
} from '../store/types.js';
import { newId } from '../util/ids.js';
import type { Logger } from '../util/logger.js';
import { checkId, checkText, checkUserId, shownValue, storableText } from '../util/stored-text.js';
import type { Vault } from '../vault/vault.js';
import { AccountCache } from './account-cache.js';
import type { CallbackUrlPolicy } from './callback-urls.js';
import { ConnectionRequest, type ConnectionRequestProgress } from './connection-request.js';
import { CredentialLoader, connectionExpiredError, type StoredCredentials } from './credentials.js';
import { exchangeCode, type OAuthClient, OAuthFailure, revokeToken, startAuthorization } from './oauth.js';
import {
  checkFields,
  credentialOnlySchemeOf,
  defaultSchemeOf,
  oauth2SchemeOf,
  schemeList,
  schemeOf,
} from './schemes.js';
import type {
  AuthConfig,
  ConnectedAccount,
  ConnectionRequestInfo,
  ConnectionRequestStatus,
  CreateAuthConfigOptions,
  ManagedAuthCredentials,
} from './types.js';

const ID_FIX = 'pass an id exactly as toolmux returned it (ac_…, ca_…, cr_…)';

/** A connection request works for this long. */
export const CONNECTION_REQUEST_TTL_MS = 10 * 60_000;

export interface AuthServiceOptions {
  store: Store;
  vault: Vault;
  catalog: Catalog;
  logger: Logger;
  fetch: typeof globalThis.fetch;
  managedAuth: Readonly<Record<string, ManagedAuthCredentials>>;
  callbackUrls: CallbackUrlPolicy;
  /** Where users land after connecting when no callbackUrl is given (TOOLMUX_MANAGE_CONNECTIONS). */
  defaultCallbackUrl: string;
  /** The OAuth `redirect_uri`: where `handleCallback` is mounted. */
  redirectUri: string;
  /** The hosted connect page of a request: `${baseUrl}/connect/${requestId}`. */
  connectPageUrl: (requestId: string) => string;
  /**
   * Whether OAuth links open the hosted connect page (true when @toolmux/server serves the ToolMux)
   * rather than the provider's authorization URL. Read at each new request.
   */
  hostedConnectPage: () => boolean;
  /** How long a call's account is reused by the next calls of the same selection (0: never). */
  accountCacheTtlMs: number;
}

/** The sealed part of an OAuth connection request (`authorizationUrl` is absent in rows of before migration 3). */
interface OAuthRequestSecret {
  codeVerifier: string | null;
  authorizationUrl?: string;
}

/** How a toolkit gets connected for a user in a session. */
export type ConnectionPlan =
  | { kind: 'none' }
  | { kind: 'oauth2'; authConfig: AuthConfigRecord }
  | { kind: 'fields'; type: FieldAuthScheme['type']; authConfigId: string | undefined }
  | { kind: 'unconfigured'; message: string };

const ACCOUNT_STATUSES: readonly ConnectionStatus[] = [
  'INITIATED',
  'ACTIVE',
  'FAILED',
  'EXPIRED',
  'INACTIVE',
  'REVOKED',
];

function hashState(state: string): string {
  return createHash('sha256').update(state).digest('hex');
}

function publicAuthConfig(record: AuthConfigRecord): AuthConfig {
  const settings = record.settings as { name?: string; clientId?: string; scopes?: string[] };
  return {
    id: record.id,
    toolkit: record.toolkit,
    type: record.type,
    createdBy: record.createdBy,
    name: settings.name,
    clientId: settings.clientId,
    scopes: settings.scopes,
    hasClientSecret: record.secret !== null,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
}

function publicAccount(record: ConnectedAccountRecord): ConnectedAccount {
  return {
    id: record.id,
    userId: record.userId,
    toolkit: record.toolkit,
    authConfigId: record.authConfigId,
    status: record.status,
    statusReason: record.statusReason,
    connectedAt: record.connectedAt,
    expiresAt: record.expiresAt,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
}

/** How a stored request stands now: EXPIRED is a PENDING request nobody took before `expiresAt`. */
function requestStatus(record: ConnectionRequestRecord, now: Date): ConnectionRequestStatus {
  if (record.status !== 'PENDING') return record.status;
  // a used request is being completed (the OAuth code is being exchanged): not expired
  return record.usedAt === null && record.expiresAt <= now ? 'EXPIRED' : 'PENDING';
}

function connectionRequestNotFound(id: unknown): ToolMuxError {
  return new ToolMuxError({
    code: 'CONNECTION_REQUEST_NOT_FOUND',
    message: `No connection request "${String(id).slice(0, 100)}". Connection requests come from ${apiRef('session.authorize')} and ${apiRef('connectedAccounts.link')} (ids start with "cr_"); they are deleted with their auth config or account.`,
    details: { connectionRequestId: typeof id === 'string' ? id.slice(0, 100) : null },
  });
}

/** The credential values to mask: token type, scope and expiry are not secrets (masking them would blank words like "bearer"). */
function credentialSecrets(credentials: Credentials): string[] {
  return Object.entries(credentials)
    .filter(([name]) => name !== 'tokenType' && name !== 'scope' && name !== 'expiresAt')
    .map(([, value]) => value);
}

/**
 * Auth configs, connected accounts, connection requests and the precedence rules of
 * docs/auth.md ("Which account a call uses"). Credentials live only in the vault's ciphertext
 * and in the `ctx.credentials` of a running call.
 */
export class AuthService {
  readonly #options: AuthServiceOptions;
  readonly #accounts: AccountCache;
  readonly credentials: CredentialLoader;

  constructor(options: AuthServiceOptions) {
    this.#accounts = new AccountCache({ ttlMs: options.accountCacheTtlMs });
    const store = this.#accounts.watch(options.store);
    this.#options = { ...options, store };
    this.credentials = new CredentialLoader({
      store,
      vault: options.vault,
      fetch: options.fetch,
      logger: options.logger,
      oauthOf: async (authConfigId) => {
        const config = await this.#authConfigRecord(authConfigId);
        const toolkit = this.#toolkit(config.toolkit);
        return { scheme: oauth2SchemeOf(toolkit), client: this.#oauthClient(config, toolkit) };
      },
      toolkitLabel: (slug) => this.#label(slug),
    });
  }

  get #store(): Store {
    return this.#options.store;
  }

  /** Whether links open the hosted connect page (a toolmux server serves this ToolMux). */
  get hostedConnectPage(): boolean {
    return this.#options.hostedConnectPage();
  }

  #label(slug: string): string {
    const toolkit = this.#options.catalog.toolkits.get(slug);
    return toolkit ? `${toolkit.name} (${slug})` : slug;
  }

  #toolkit(slug: string): Toolkit {
    return this.#options.catalog.getToolkit(slug);
  }

  // ---------------------------------------------------------------- auth configs

  async createAuthConfig(toolkitSlug: string, options: CreateAuthConfigOptions): Promise<AuthConfig> {
    const toolkit = this.#toolkit(toolkitSlug);
    const invalid = (message: string) => new ToolMuxError({ code: 'AUTH_CONFIG_INVALID', message });
    const type = (options as { type?: unknown } | undefined)?.type;
    if (type !== 'oauth2' && type !== 'api_key' && type !== 'bearer' && type !== 'basic') {
      throw invalid(
        `Auth config type must be oauth2, api_key, bearer or basic; got ${JSON.stringify(type)}.`,
      );
    }
    if (!schemeOf(toolkit, type)) {
      throw invalid(
        `${toolkit.name} (${toolkit.slug}) has no ${type} auth scheme; its schemes are ${schemeList(toolkit)}.`,
      );
    }
    if (options.name !== undefined && typeof options.name !== 'string')
      throw invalid('name must be a string.');
    if (options.name !== undefined) {
      checkText(options.name, {
        field: 'name',
        code: 'AUTH_CONFIG_INVALID',
        maxLength: 200,
        allowEmpty: true,
        freeText: true,
      });
    }
    if (options.type !== 'oauth2') {
      const record = this.#newAuthConfig(
        toolkit.slug,
        options.type,
        'user',
        { name: options.name },
        undefined,
      );
      await this.#store.insertAuthConfig(record);
      return publicAuthConfig(record);
    }
    if (typeof options.clientId !== 'string' || options.clientId.trim() === '') {
      throw invalid(`An oauth2 auth config for ${toolkit.slug} needs the clientId of your OAuth app.`);
    }
    if (
      options.clientSecret !== undefined &&
      (typeof options.clientSecret !== 'string' || options.clientSecret === '')
    ) {
      throw invalid('clientSecret must be a non-empty string, or left out for a public (PKCE-only) client.');
    }
    if (
      options.scopes !== undefined &&
      (!Array.isArray(options.scopes) || options.scopes.some((scope) => typeof scope !== 'string'))
    ) {
      throw invalid('scopes must be a list of strings.');
    }
    checkText(options.clientId, { field: 'clientId', code: 'AUTH_CONFIG_INVALID', maxLength: 1024 });
    for (const scope of options.scopes ?? []) {
      checkText(scope, { field: 'scope', code: 'AUTH_CONFIG_INVALID', maxLength: 1024 });
    }
    const record = this.#newAuthConfig(
      toolkit.slug,
      'oauth2',
      'user',
      { name: options.name, clientId: options.clientId, scopes: options.scopes },
      options.clientSecret,
    );
    await this.#store.insertAuthConfig(record);
    return publicAuthConfig(record);
  }

  #newAuthConfig(
    toolkit: string,
    type: AuthConfigRecord['type'],
    createdBy: AuthConfigRecord['createdBy'],
    settings: { name?: string | undefined; clientId?: string; scopes?: string[] | undefined },
    clientSecret: string | undefined,
  ): AuthConfigRecord {
    const id = newId('ac');
    const now = new Date();
    return {
      id,
      toolkit,
      type,
      createdBy,
      settings: JSON.parse(JSON.stringify(settings)) as Record<string, unknown>,
      secret: clientSecret === undefined ? null : this.#options.vault.sealJson(id, { clientSecret }),
      createdAt: now,
      updatedAt: now,
    };
  }

  async #authConfigRecord(id: string): Promise<AuthConfigRecord> {
    if (typeof id === 'string') checkId(id, 'authConfigId', { fix: ID_FIX });
    const record =
      typeof id === 'string' && id.startsWith('ac_') ? await this.#store.getAuthConfig(id) : undefined;
    if (!record) {
      throw new ToolMuxError({
        code: 'AUTH_CONFIG_NOT_FOUND',
        message: `No auth config "${String(id)}". Create one with ${apiRef('authConfigs.create')}; ids start with "ac_".`,
        details: { authConfigId: id },
      });
    }
    return record;
  }

  async getAuthConfig(id: string): Promise<AuthConfig> {
    return publicAuthConfig(await this.#authConfigRecord(id));
  }

  async listAuthConfigs(query: { toolkit?: string; limit?: number; cursor?: string } = {}): Promise<{
    items: AuthConfig[];
    nextCursor: string | undefined;
  }> {
    if (query.toolkit !== undefined) checkId(query.toolkit, 'toolkit');
    const page = await this.#store.listAuthConfigs({
      toolkit: query.toolkit,
      limit: query.limit ?? 50,
      cursor: query.cursor,
    });
    return { items: page.items.map(publicAuthConfig), nextCursor: page.nextCursor };
  }

  /**
   * Deletes the config and every account connected through it (their tokens are revoked first when
   * the toolkit has a revocation endpoint).
   */
  async deleteAuthConfig(id: string): Promise<void> {
    const config = await this.#authConfigRecord(id);
    if (config.type === 'oauth2') {
      for (let cursor: string | undefined, first = true; first || cursor; first = false) {
        const page = await this.#store.listConnectedAccounts({ authConfigIds: [id], limit: 100, cursor });
        for (const account of page.items) await this.#revokeTokens(account, config);
        cursor = page.nextCursor;
      }
    }
    await this.#store.deleteAuthConfig(id);
  }

  /**
   * Revokes an OAuth account's tokens at the provider (RFC 7009) when its scheme names a
   * `revocationUrl`: the refresh token, then the access token. A provider that cannot be reached or
   * refuses does not stop the deletion: it is logged (without the tokens).
   */
  async #revokeTokens(account: ConnectedAccountRecord, config: AuthConfigRecord): Promise<void> {
    if (!account.secret) return;
    const toolkit = this.#options.catalog.toolkits.get(account.toolkit);
    const scheme = toolkit ? schemeOf(toolkit, 'oauth2') : undefined;
    if (!toolkit || scheme?.type !== 'oauth2' || !scheme.revocationUrl) return;
    const stored = this.#options.vault.openJson<StoredCredentials>(account.id, account.secret);
    if (stored.type !== 'oauth2') return;
    const client = this.#oauthClient(config, toolkit);
    const withEndpoint = { ...scheme, revocationUrl: scheme.revocationUrl };
    const tokens = [
      ...(stored.refreshToken ? [[stored.refreshToken, 'refresh_token'] as const] : []),
      [stored.accessToken, 'access_token'] as const,
    ];
    for (const [token, hint] of tokens) {
      try {
        await revokeToken(withEndpoint, client, token, hint, this.#options.fetch);
      } catch (error) {
        this.#options.logger.warn(
          `toolmux: could not revoke the ${hint.replace('_', ' ')} of ${account.id} at ${this.#label(account.toolkit)} (${error instanceof Error ? error.message : 'unknown error'}); the account is deleted here anyway.`,
        );
      }
    }
  }

  #oauthClient(config: AuthConfigRecord, toolkit: Toolkit): OAuthClient {
    const settings = config.settings as { clientId?: string; scopes?: string[] };
    const secret = config.secret
      ? this.#options.vault.openJson<{ clientSecret: string }>(config.id, config.secret)
      : undefined;
    return {
      clientId: settings.clientId ?? '',
      clientSecret: secret?.clientSecret,
      scopes: settings.scopes ?? oauth2SchemeOf(toolkit).scopes ?? [],
    };
  }

  /**
   * Precedence steps 3 and 4: the auth config toolmux created for the toolkit, or (with `create`) a
   * new one from the operator's `managedAuth` credentials. At most one per toolkit, also when two
   * processes create it at once.
   */
  async managedAuthConfig(
    toolkit: Toolkit,
    options: { create: boolean },
  ): Promise<AuthConfigRecord | undefined> {
    const find = async () =>
      (await this.#store.listAuthConfigs({ toolkit: toolkit.slug, createdBy: 'toolmux', limit: 1 })).items[0];
    const existing = await find();
    if (existing || !options.create) return existing;
    const managed = this.#options.managedAuth[toolkit.slug];
    const credentials = credentialOnlySchemeOf(toolkit);
    if (!managed && !credentials) return undefined;
    const name = `${toolkit.name} (managed by toolmux)`;
    let record: AuthConfigRecord;
    if (managed) {
      oauth2SchemeOf(toolkit);
      record = this.#newAuthConfig(
        toolkit.slug,
        'oauth2',
        'toolmux',
        { name, clientId: managed.clientId, scopes: managed.scopes },
        managed.clientSecret,
      );
    } else {
      // An API key, token or password is the user's own: the config holds nothing secret, so toolmux
      // can make it for any credential toolkit without the developer (precedence step 4).
      record = this.#newAuthConfig(toolkit.slug, credentials!.type, 'toolmux', { name }, undefined);
    }
    if (await this.#store.insertAuthConfig(record)) return record;
    return find();
  }

  // ---------------------------------------------------------------- connected accounts

  async #accountRecord(id: string): Promise<ConnectedAccountRecord> {
    if (typeof id === 'string') checkId(id, 'connectedAccountId', { fix: ID_FIX });
    const record =
      typeof id === 'string' && id.startsWith('ca_') ? await this.#store.getConnectedAccount(id) : undefined;
    if (!record) {
      throw new ToolMuxError({
        code: 'CONNECTED_ACCOUNT_NOT_FOUND',
        message: `No connected account "${String(id)}". List them with ${apiRef('connectedAccounts.list')}; ids start with "ca_".`,
        details: { connectedAccountId: id },
      });
    }
    return record;
  }

  /** A non-OAuth account (API key, token, username and password): ACTIVE right away. */
  async createConnectedAccount(
    userId: string,
    authConfigId: string,
    credentials: unknown,
  ): Promise<ConnectedAccount> {
    const config = await this.#authConfigRecord(authConfigId);
    if (config.type === 'oauth2') {
      throw new ToolMuxError({
        code: 'AUTH_CONFIG_INVALID',
        message: `Auth config ${config.id} is oauth2: connect it with ${apiRef('connectedAccounts.link', { authConfigId: config.id })} (or ${apiRef('session.authorize', { toolkit: config.toolkit })}), not ${apiRef('connectedAccounts.create')}.`,
      });
    }
    const record = this.#fieldsAccount(userId, config, credentials);
    await this.#store.insertConnectedAccount(record);
    return publicAccount(record);
  }

  /** The field scheme of a non-OAuth config's toolkit; AUTH_CONFIG_INVALID when the toolkit dropped it. */
  #fieldScheme(config: AuthConfigRecord): { toolkit: Toolkit; scheme: FieldAuthScheme } {
    const toolkit = this.#toolkit(config.toolkit);
    const scheme = schemeOf(toolkit, config.type);
    if (!scheme || scheme.type === 'oauth2') {
      throw new ToolMuxError({
        code: 'AUTH_CONFIG_INVALID',
        message: `${toolkit.name} (${toolkit.slug}) no longer has a ${config.type} auth scheme.`,
      });
    }
    return { toolkit, scheme };
  }

  /** An ACTIVE account of checked, encrypted credentials (not stored yet). */
  #fieldsAccount(userId: string, config: AuthConfigRecord, credentials: unknown): ConnectedAccountRecord {
    const { toolkit, scheme } = this.#fieldScheme(config);
    const fields = checkFields(toolkit, scheme, credentials);
    const id = newId('ca');
    const now = new Date();
    const stored: StoredCredentials = { type: scheme.type, fields };
    return {
      id,
      userId,
      toolkit: toolkit.slug,
      authConfigId: config.id,
      status: 'ACTIVE',
      statusReason: null,
      secret: this.#options.vault.sealJson(id, stored),
      expiresAt: null,
      version: 1,
      refreshLeaseUntil: null,
      connectedAt: now,
      createdAt: now,
      updatedAt: now,
    };
  }

  async getConnectedAccount(id: string): Promise<ConnectedAccount> {
    return publicAccount(await this.#accountRecord(id));
  }

  async listConnectedAccounts(
    query: Partial<Omit<ListConnectedAccountsQuery, 'limit'>> & { limit?: number } = {},
  ): Promise<{ items: ConnectedAccount[]; nextCursor: string | undefined }> {
    for (const status of query.statuses ?? []) {
      if (!ACCOUNT_STATUSES.includes(status)) {
        throw new ToolMuxError({
          code: 'INVALID_REQUEST',
          message: `Unknown connected account status "${status}"; use ${ACCOUNT_STATUSES.join(', ')}.`,
        });
      }
    }
    for (const userId of query.userIds ?? []) checkUserId(userId, 'userIds[]');
    for (const toolkit of query.toolkits ?? []) checkId(toolkit, 'toolkits[]');
    for (const id of query.authConfigIds ?? []) checkId(id, 'authConfigIds[]', { fix: ID_FIX });
    const page = await this.#store.listConnectedAccounts({ ...query, limit: query.limit ?? 50 });
    return { items: page.items.map(publicAccount), nextCursor: page.nextCursor };
  }

  /** Deletes an account and its credentials; OAuth tokens are revoked at the provider first (`revocationUrl`). */
  async deleteConnectedAccount(id: string): Promise<void> {
    const account = await this.#accountRecord(id);
    const config = await this.#store.getAuthConfig(account.authConfigId);
    if (config?.type === 'oauth2') await this.#revokeTokens(account, config);
    await this.#store.deleteConnectedAccount(id);
  }

  /**
   * Disables (ACTIVE → INACTIVE) or enables again (INACTIVE → ACTIVE) an account: a disabled account
   * keeps its credentials but no call uses it, and the precedence rules pass over it.
   */
  async setConnectedAccountEnabled(id: string, enabled: boolean): Promise<ConnectedAccount> {
    const account = await this.#accountRecord(id);
    const [from, to] = enabled ? (['INACTIVE', 'ACTIVE'] as const) : (['ACTIVE', 'INACTIVE'] as const);
    if (account.status === to) return publicAccount(account);
    if (account.status !== from) {
      throw new ToolMuxError({
        code: 'INVALID_REQUEST',
        message: `Connected account ${id} is ${account.status}: only an ${from} account can be ${enabled ? 'enabled' : 'disabled'}.${account.status === 'EXPIRED' || account.status === 'FAILED' ? ' Connect it again instead.' : ''}`,
        details: { connectedAccountId: id, status: account.status },
      });
    }
    const updated = await this.#store.updateConnectedAccount(
      id,
      { status: to, statusReason: enabled ? null : 'disabled' },
      account.version,
    );
    if (!updated) {
      throw new ToolMuxError({
        code: 'SESSION_VERSION_CONFLICT',
        message: `Connected account ${id} changed while it was being ${enabled ? 'enabled' : 'disabled'}; read it again and retry.`,
      });
    }
    return publicAccount(updated);
  }

  /** Refreshes an OAuth account's token now (once, even if several ask at once). */
  async refreshConnectedAccount(id: string): Promise<ConnectedAccount> {
    const account = await this.#accountRecord(id);
    const config = await this.#authConfigRecord(account.authConfigId);
    if (config.type !== 'oauth2') {
      throw new ToolMuxError({
        code: 'INVALID_REQUEST',
        message: `Connected account ${id} uses ${config.type} credentials, which have no token to refresh.`,
      });
    }
    return publicAccount(await this.credentials.refresh(id, { force: true }));
  }

  // ---------------------------------------------------------------- connection requests

  /**
   * Starts connecting `userId` through an auth config: OAuth (a new INITIATED account the callback
   * fills) or credentials (the account is made when the request is completed with them).
   */
  async link(
    userId: string,
    authConfigId: string,
    options: { callbackUrl?: string } = {},
  ): Promise<ConnectionRequest> {
    this.#options.callbackUrls.check(options.callbackUrl ?? this.#options.defaultCallbackUrl);
    const config = await this.#authConfigRecord(authConfigId);
    return config.type === 'oauth2'
      ? this.#startOAuth(userId, config, options.callbackUrl)
      : this.#startFields(userId, config, options.callbackUrl);
  }

  /**
   * A request for the fields of an api_key / bearer / basic config. It has no provider page: its link
   * is always the hosted connect page (or the application collects the fields itself and calls
   * `completeConnectionRequest`).
   */
  async #startFields(
    userId: string,
    config: AuthConfigRecord,
    callbackUrl: string | undefined,
  ): Promise<ConnectionRequest> {
    const { store, callbackUrls, defaultCallbackUrl, connectPageUrl } = this.#options;
    const checkedCallbackUrl = callbackUrls.check(callbackUrl ?? defaultCallbackUrl);
    const { toolkit } = this.#fieldScheme(config);
    const now = new Date();
    const record: ConnectionRequestRecord = {
      id: newId('cr'),
      kind: 'fields',
      connectedAccountId: null,
      userId,
      toolkit: toolkit.slug,
      authConfigId: config.id,
      stateHash: null,
      secret: null,
      callbackUrl: checkedCallbackUrl,
      redirectUri: null,
      status: 'PENDING',
      expiresAt: new Date(now.getTime() + CONNECTION_REQUEST_TTL_MS),
      usedAt: null,
      createdAt: now,
    };
    await store.insertConnectionRequest(record);
    return this.#connectionRequest(record, connectPageUrl(record.id));
  }

  #connectionRequest(record: ConnectionRequestRecord, redirectUrl: string): ConnectionRequest {
    return new ConnectionRequest(
      {
        id: record.id,
        kind: record.kind,
        connectedAccountId: record.connectedAccountId,
        toolkit: record.toolkit,
        redirectUrl,
        expiresAt: record.expiresAt,
      },
      () => this.#progress(record.id),
    );
  }

  /** What `waitForConnection` polls: the request's status, and why it failed. */
  async #progress(id: string): Promise<ConnectionRequestProgress | undefined> {
    const record = await this.#store.getConnectionRequest(id);
    if (!record) return undefined;
    const status = requestStatus(record, new Date());
    const failedAccount =
      status === 'FAILED' && record.connectedAccountId
        ? await this.#store.getConnectedAccountStatus(record.connectedAccountId)
        : undefined;
    return {
      status,
      connectedAccountId: record.connectedAccountId,
      statusReason: failedAccount?.statusReason ?? null,
    };
  }

  /**
   * Deletes the user's INITIATED accounts of this auth config whose connection request has expired:
   * attempts the user never finished, which no callback can complete any more. Done when the user
   * starts a new attempt, so they do not pile up in `connectedAccounts.list()`.
   */
  async #dropAbandonedAttempts(userId: string, authConfigId: string, now: Date): Promise<void> {
    const cutoff = now.getTime() - CONNECTION_REQUEST_TTL_MS;
    const page = await this.#store.listConnectedAccounts({
      userIds: [userId],
      authConfigIds: [authConfigId],
      statuses: ['INITIATED'],
      limit: 100,
    });
    for (const account of page.items) {
      if (account.createdAt.getTime() < cutoff) await this.#store.deleteConnectedAccount(account.id);
    }
  }

  async #startOAuth(
    userId: string,
    config: AuthConfigRecord,
    callbackUrl: string | undefined,
  ): Promise<ConnectionRequest> {
    const { store, vault, callbackUrls, redirectUri, defaultCallbackUrl } = this.#options;
    const checkedCallbackUrl = callbackUrls.check(callbackUrl ?? defaultCallbackUrl);
    const toolkit = this.#toolkit(config.toolkit);
    const scheme = oauth2SchemeOf(toolkit);
    const { url, state, codeVerifier } = await startAuthorization(
      scheme,
      this.#oauthClient(config, toolkit),
      redirectUri,
    );
    const now = new Date();
    await this.#dropAbandonedAttempts(userId, config.id, now);
    const accountId = newId('ca');
    const requestId = newId('cr');
    const expiresAt = new Date(now.getTime() + CONNECTION_REQUEST_TTL_MS);
    await store.insertConnectedAccount({
      id: accountId,
      userId,
      toolkit: toolkit.slug,
      authConfigId: config.id,
      status: 'INITIATED',
      statusReason: null,
      secret: null,
      expiresAt: null,
      version: 1,
      refreshLeaseUntil: null,
      connectedAt: null,
      createdAt: now,
      updatedAt: now,
    });
    const secret: OAuthRequestSecret = {
      codeVerifier: codeVerifier ?? null,
      authorizationUrl: url.toString(),
    };
    const record: ConnectionRequestRecord = {
      id: requestId,
      kind: 'oauth2',
      connectedAccountId: accountId,
      userId,
      toolkit: toolkit.slug,
      authConfigId: config.id,
      stateHash: hashState(state),
      secret: vault.sealJson(requestId, secret),
      callbackUrl: checkedCallbackUrl,
      redirectUri,
      status: 'PENDING',
      expiresAt,
      usedAt: null,
      createdAt: now,
    };
    await store.insertConnectionRequest(record);
    return this.#connectionRequest(record, this.#oauthLink(requestId, url));
  }

  /**
   * The link an OAuth request hands out. Served by @toolmux/server, the hosted connect page: the user
   * sees which app and which account before leaving for the provider, the OAuth state stays in the
   * store (encrypted) until then, and every kind of request has the same kind of link. Without the
   * server (library use, only `handleCallback` mounted) there is no page at `/connect`, so the link is
   * the provider's authorization URL itself.
   */
  #oauthLink(requestId: string, authorizationUrl: URL): string {
    return this.#options.hostedConnectPage()
      ? this.#options.connectPageUrl(requestId)
      : authorizationUrl.toString();
  }

  async #requestRecord(id: string): Promise<ConnectionRequestRecord> {
    if (typeof id === 'string') checkId(id, 'connectionRequestId', { fix: ID_FIX });
    const record =
      typeof id === 'string' && id.startsWith('cr_') ? await this.#store.getConnectionRequest(id) : undefined;
    if (!record) throw connectionRequestNotFound(id);
    return record;
  }

  /** `connectionRequests.get(id)`: how a request stands; never its authorization URL or secrets. */
  async getConnectionRequest(id: string): Promise<ConnectionRequestInfo> {
    const record = await this.#requestRecord(id);
    return {
      id: record.id,
      kind: record.kind,
      userId: record.userId,
      toolkit: record.toolkit,
      authConfigId: record.authConfigId,
      connectedAccountId: record.connectedAccountId,
      status: requestStatus(record, new Date()),
      callbackUrl: record.callbackUrl,
      expiresAt: record.expiresAt,
      redirectUrl: this.#options.connectPageUrl(record.id),
    };
  }

  /** Why a request cannot be taken (completed, or continued at the provider) any more, if it cannot. */
  #notOpen(record: ConnectionRequestRecord, now: Date): ToolMuxError | undefined {
    const status = requestStatus(record, now);
    if (status === 'EXPIRED') {
      return new ToolMuxError({
        code: 'CONNECTION_REQUEST_EXPIRED',
        message: `Connection request ${record.id} expired at ${record.expiresAt.toISOString()} (it works for 10 minutes). Start a new one with ${apiRef('connectedAccounts.link', { authConfigId: record.authConfigId })} or ${apiRef('session.authorize', { toolkit: record.toolkit })}.`,
        details: { connectionRequestId: record.id },
      });
    }
    if (status !== 'PENDING' || record.usedAt !== null) {
      const account = record.connectedAccountId ? ` (account ${record.connectedAccountId})` : '';
      return new ToolMuxError({
        code: 'CONNECTION_REQUEST_INVALID',
        message: `Connection request ${record.id} was already used${account}: it is ${status === 'PENDING' ? 'being completed' : status}. A connection request is used once; start a new one with ${apiRef('connectedAccounts.link', { authConfigId: record.authConfigId })}.`,
        details: { connectionRequestId: record.id, status },
      });
    }
    return undefined;
  }

  /**
   * `connectionRequests.complete(id, credentials)`: the user's fields for a `fields` request, checked
   * like `connectedAccounts.create`, become an ACTIVE account, and the request is COMPLETED, once.
   * Wrong fields leave the request open, so the user can correct them.
   */
  async completeConnectionRequest(id: string, credentials: unknown): Promise<ConnectedAccount> {
    const record = await this.#requestRecord(id);
    if (record.kind !== 'fields') {
      throw new ToolMuxError({
        code: 'INVALID_REQUEST',
        message: `Connection request ${record.id} is an OAuth request: the user completes it by signing in at the provider (its redirectUrl). complete() takes the credentials of api_key, bearer and basic requests.`,
        details: { connectionRequestId: record.id },
      });
    }
    const closed = this.#notOpen(record, new Date());
    if (closed) throw closed;
    const account = this.#fieldsAccount(
      record.userId,
      await this.#authConfigRecord(record.authConfigId),
      credentials,
    );
    if (await this.#store.completeConnectionRequest(record.id, account, new Date())) {
      return publicAccount(account);
    }
    // taken, expired or deleted since it was read: say which
    const current = await this.#store.getConnectionRequest(record.id);
    if (!current) throw connectionRequestNotFound(record.id);
    throw (
      this.#notOpen(current, new Date()) ??
      new ToolMuxError({
        code: 'CONNECTION_REQUEST_INVALID',
        message: `Connection request ${record.id} could not be completed; start a new one with ${apiRef('connectedAccounts.link', { authConfigId: record.authConfigId })}.`,
        details: { connectionRequestId: record.id },
      })
    );
  }

  /**
   * The provider's authorization URL of an open OAuth request, for the hosted connect page's
   * "Continue" link (internal: it carries the OAuth state).
   */
  async connectionRequestAuthorizationUrl(id: string): Promise<string> {
    const record = await this.#requestRecord(id);
    if (record.kind !== 'oauth2' || !record.secret) {
      throw new ToolMuxError({
        code: 'INVALID_REQUEST',
        message: `Connection request ${record.id} asks for credentials; it has no authorization URL.`,
        details: { connectionRequestId: record.id },
      });
    }
    const closed = this.#notOpen(record, new Date());
    if (closed) throw closed;
    const { authorizationUrl } = this.#options.vault.openJson<OAuthRequestSecret>(record.id, record.secret);
    if (!authorizationUrl) {
      throw new ToolMuxError({
        code: 'CONNECTION_REQUEST_INVALID',
        message: `Connection request ${record.id} was made by an earlier toolmux version, which kept no link for the connect page. Start a new connection.`,
        details: { connectionRequestId: record.id },
      });
    }
    return authorizationUrl;
  }

  /**
   * Which auth config a new connection of `toolkit` uses in a session: the session's `authConfigs`
   * entry, else the one toolmux manages (created from `managedAuth` when `create`).
   */
  async connectionPlan(
    toolkit: Toolkit,
    selection: AccountSelection,
    options: { create: boolean },
  ): Promise<ConnectionPlan> {
    const scheme = defaultSchemeOf(toolkit);
    if (!scheme) return { kind: 'none' };
    const chosen = selection.authConfigs?.[toolkit.slug];
    const config = chosen
      ? await this.#authConfigRecord(chosen)
      : await this.managedAuthConfig(toolkit, options);
    if (config?.type === 'oauth2') return { kind: 'oauth2', authConfig: config };
    if (config) return { kind: 'fields', type: config.type, authConfigId: config.id };
    if (scheme.type !== 'oauth2') return { kind: 'fields', type: scheme.type, authConfigId: undefined };
    return {
      kind: 'unconfigured',
      message:
        `${toolkit.name} (${toolkit.slug}) has no OAuth app configured: create one with ` +
        `${apiRef('authConfigs.createOAuth', { toolkit: toolkit.slug })} and pass it in the session's ` +
        `authConfigs, or set managedAuth.${toolkit.slug} on ToolMux (in toolmux.config for \`toolmux serve\`).`,
    };
  }

  /** `session.authorize()`: a connection request through the auth config the session would use. */
  async authorize(request: {
    userId: string;
    toolkit: Toolkit;
    selection: AccountSelection;
    callbackUrl: string | undefined;
  }): Promise<ConnectionRequest> {
    const { toolkit } = request;
    this.#options.callbackUrls.check(request.callbackUrl ?? this.#options.defaultCallbackUrl);
    const plan = await this.connectionPlan(toolkit, request.selection, { create: true });
    switch (plan.kind) {
      case 'oauth2':
        return this.#startOAuth(request.userId, plan.authConfig, request.callbackUrl);
      case 'none':
        throw new ToolMuxError({
          code: 'INVALID_REQUEST',
          message: `${toolkit.name} (${toolkit.slug}) needs no connected account: its tools run directly.`,
        });
      case 'fields':
        if (plan.authConfigId) {
          const config = await this.#authConfigRecord(plan.authConfigId);
          return this.#startFields(request.userId, config, request.callbackUrl);
        }
        throw new ToolMuxError({
          code: 'AUTH_CONFIG_NOT_FOUND',
          message:
            `${toolkit.name} (${toolkit.slug}) connects with ${plan.type} credentials, and the session names no auth config for it: ` +
            `create one with ${apiRef('authConfigs.create', { toolkit: toolkit.slug, type: plan.type })} and pass it in the session's authConfigs ` +
            `(or store credentials directly with ${apiRef('connectedAccounts.create')}).`,
        });
      case 'unconfigured':
        throw new ToolMuxError({ code: 'AUTH_CONFIG_NOT_FOUND', message: plan.message });
    }
  }

  // ---------------------------------------------------------------- sessions and precedence

  /**
   * Checks a session's `authConfigs` and `connectedAccounts` (at `create()` and `update()`): every id
   * exists, belongs to the toolkit it is listed under, and every account to the session's user.
   */
  async checkSelection(userId: string, selection: AccountSelection): Promise<void> {
    for (const [toolkit, id] of Object.entries(selection.authConfigs ?? {})) {
      const config = await this.#store.getAuthConfig(id);
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
        const account = await this.#store.getConnectedAccount(id);
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
      this.#options.logger.error(
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
      const account = await this.#accountRecord(request.connectedAccountId);
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
      const account = await this.#store.getConnectedAccount(id);
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
      const managed = await this.managedAuthConfig(toolkit, { create: false });
      if (managed) authConfigIds.push(managed.id);
    }
    for (const authConfigId of authConfigIds) {
      const recent = await this.#store.listRecentConnectedAccounts({
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
    const cached = this.#accounts.get(request);
    if (cached) return cached;
    const generation = this.#accounts.generation();
    const account = await this.selectAccount(request);
    if (request.peek) return { accountId: account.id, credentials: undefined, status: account.status };
    const credentials = await this.credentials.load(account);
    const resolved: ResolvedAccount = {
      accountId: account.id,
      credentials,
      status: account.status,
      secrets: credentialSecrets(credentials),
    };
    this.#accounts.set(request, resolved, generation);
    return resolved;
  }

  /**
   * A tool's provider refused an account's credentials (a handler threw CREDENTIALS_REJECTED). An
   * OAuth account with a refresh token gets a new access token, unless another call already got one
   * since (then that one is used), and the call runs once more with it. Otherwise, or when the renewed
   * credentials are refused too (`final`), the account becomes EXPIRED, so that the session shows it
   * as not connected and TOOLMUX_MANAGE_CONNECTIONS offers a new link, and CONNECTION_EXPIRED is
   * thrown. An account changed meanwhile (reconnected, refreshed elsewhere) is not marked.
   */
  async renewCredentials(request: RenewRequest): Promise<ResolvedAccount> {
    this.#accounts.clear(); // the refused credentials may be cached
    const account = await this.#accountRecord(request.accountId);
    const label = this.#label(account.toolkit);
    if (account.status !== 'ACTIVE') {
      throw connectionExpiredError(label, account.id, account.statusReason);
    }
    const resolved = (credentials: Credentials): ResolvedAccount => ({
      accountId: account.id,
      credentials,
      status: 'ACTIVE',
      secrets: credentialSecrets(credentials),
    });
    if (!request.final && this.credentials.canRefresh(account)) {
      const refreshed = await this.credentials.refresh(account.id, {
        force: true,
        replacing: request.rejected?.accessToken,
      });
      return resolved(await this.credentials.load(refreshed));
    }
    const reason = request.final
      ? `${label} refused the credentials again after they were renewed`
      : `${label} refused the credentials`;
    const marked = await this.#store.updateConnectedAccount(
      account.id,
      { status: 'EXPIRED', statusReason: reason },
      account.version,
    );
    if (!marked && !request.final) {
      const now = await this.#store.getConnectedAccount(account.id);
      if (now?.status === 'ACTIVE') return resolved(await this.credentials.load(now));
    }
    this.#options.logger.warn(`toolmux: connected account ${account.id} is EXPIRED now: ${reason}.`);
    throw connectionExpiredError(label, account.id, reason);
  }

  /** The scheme an account's credentials follow. */
  async schemeOfAccount(
    account: ConnectedAccountRecord,
    toolkit: Toolkit,
  ): Promise<OAuth2Scheme | FieldAuthScheme> {
    const config = await this.#authConfigRecord(account.authConfigId);
    const scheme = schemeOf(toolkit, config.type);
    if (!scheme) {
      throw new ToolMuxError({
        code: 'AUTH_CONFIG_INVALID',
        message: `${toolkit.name} (${toolkit.slug}) has no ${config.type} auth scheme any more.`,
      });
    }
    return scheme;
  }

  // ---------------------------------------------------------------- OAuth callback

  /**
   * The OAuth redirect target (`redirect_uri`), as a fetch handler any framework can mount. It checks
   * the state against the stored hash (unknown, used or expired: 400 with the code, nothing changed),
   * trades the code for tokens with the PKCE verifier, stores them encrypted, marks the account ACTIVE
   * (or FAILED with the provider's error) and redirects to the application's callbackUrl with
   * `status=success|failed&connected_account_id=ca_…`.
   */
  async handleCallback(request: Request): Promise<Response> {
    const { store, vault, fetch, logger } = this.#options;
    const wantsJson = (request.headers.get('accept') ?? '').includes('application/json');
    let parameters: URLSearchParams;
    try {
      parameters = new URL(request.url).searchParams;
    } catch {
      return callbackError(wantsJson, 'CONNECTION_REQUEST_INVALID', 'The callback URL is malformed.');
    }
    const state = parameters.get('state');
    if (!state) {
      return callbackError(
        wantsJson,
        'CONNECTION_REQUEST_INVALID',
        'The callback has no state parameter: start the connection again from the application.',
      );
    }
    const connection = await store.getConnectionRequestByStateHash(hashState(state));
    if (!connection) {
      return callbackError(
        wantsJson,
        'CONNECTION_REQUEST_INVALID',
        'The state of this callback matches no connection request: it was altered, or the request was made by another toolmux. Start the connection again from the application.',
      );
    }
    if (connection.usedAt) {
      return callbackError(
        wantsJson,
        'CONNECTION_REQUEST_INVALID',
        `Connection request ${connection.id} was already used. Start a new connection from the application.`,
      );
    }
    const now = new Date();
    if (connection.expiresAt <= now) {
      return callbackError(
        wantsJson,
        'CONNECTION_REQUEST_EXPIRED',
        `Connection request ${connection.id} expired at ${connection.expiresAt.toISOString()} (it works for 10 minutes). Start a new connection from the application.`,
      );
    }
    if (!(await store.markConnectionRequestUsed(connection.id, now))) {
      return callbackError(
        wantsJson,
        'CONNECTION_REQUEST_INVALID',
        `Connection request ${connection.id} was already used. Start a new connection from the application.`,
      );
    }
    const accountId = connection.connectedAccountId!;
    const back = (status: 'success' | 'failed', error?: string) => {
      const url = new URL(connection.callbackUrl);
      url.searchParams.set('status', status);
      url.searchParams.set('connected_account_id', accountId);
      if (error) url.searchParams.set('error', error);
      return new Response(null, {
        status: 302,
        headers: { location: url.toString(), 'cache-control': 'no-store' },
      });
    };
    try {
      const config = await this.#authConfigRecord(connection.authConfigId);
      const toolkit = this.#toolkit(config.toolkit);
      const { codeVerifier } = vault.openJson<OAuthRequestSecret>(connection.id, connection.secret!);
      const tokens = await exchangeCode(
        oauth2SchemeOf(toolkit),
        this.#oauthClient(config, toolkit),
        parameters,
        {
          redirectUri: connection.redirectUri!,
          codeVerifier: codeVerifier ?? undefined,
          fetch,
        },
      );
      const stored: StoredCredentials = { type: 'oauth2', ...tokens };
      const updated = await store.updateConnectedAccount(accountId, {
        status: 'ACTIVE',
        statusReason: null,
        secret: vault.sealJson(accountId, stored),
        expiresAt: tokens.expiresAt === undefined ? null : new Date(tokens.expiresAt),
        refreshLeaseUntil: null,
        connectedAt: new Date(),
      });
      if (!updated) {
        await store.finishConnectionRequest(connection.id, 'FAILED');
        return back('failed', 'account_deleted');
      }
      await store.finishConnectionRequest(connection.id, 'COMPLETED');
      return back('success');
    } catch (error) {
      const failure =
        error instanceof OAuthFailure
          ? error
          : new OAuthFailure(
              'server_error',
              ToolMuxError.isInstance(error) ? error.message : 'the connection could not be completed',
            );
      if (!(error instanceof OAuthFailure))
        logger.warn(`toolmux: OAuth callback of ${connection.id} failed: ${failure.description}`);
      await store.updateConnectedAccount(accountId, {
        status: 'FAILED',
        // the provider's words (or a forged redirect's): stored as text the database can keep
        statusReason: storableText(`${failure.error}: ${failure.description}`),
      });
      await store.finishConnectionRequest(connection.id, 'FAILED');
      return back('failed', failure.error);
    }
  }
}

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => HTML_ESCAPES[character]!);
}

/** A rejected callback: 400 with the code, as JSON when asked for, else a small HTML page. */
function callbackError(
  json: boolean,
  code: 'CONNECTION_REQUEST_INVALID' | 'CONNECTION_REQUEST_EXPIRED',
  message: string,
): Response {
  const headers = {
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
  };
  if (json) return Response.json({ error: { code, message } }, { status: 400, headers });
  const body =
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Connection failed</title></head>' +
    `<body><h1>The connection could not be completed</h1><p>${escapeHtml(message)}</p><p><code>${code}</code></p></body></html>`;
  return new Response(body, {
    status: 400,
    headers: {
      ...headers,
      'content-type': 'text/html; charset=utf-8',
      // the same protections as the hosted connect pages: no scripts, no framing, no sniffing
      'content-security-policy':
        "default-src 'none'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
      'x-frame-options': 'DENY',
    },
  });
}
