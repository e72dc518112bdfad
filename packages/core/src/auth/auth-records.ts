import type { Catalog } from '../catalog/catalog.js';
import type { Toolkit } from '../catalog/types.js';
import type { AuthConfigRecord, ConnectedAccountRecord, Store } from '../store/types.js';
import { lookupId, notFound } from '../util/arguments.js';
import type { Logger } from '../util/logger.js';
import type { Vault } from '../vault/vault.js';
import type { CallbackUrlPolicy } from './callback-urls.js';
import type { OAuthClient } from './oauth.js';
import { PendingRevocations } from './pending-revocations.js';
import { oauth2SchemeOf } from './schemes.js';
import type { AuthConfig, ConnectedAccount, ManagedAuthCredentials } from './types.js';

export interface AuthServiceOptions {
  store: Store;
  vault: Vault;
  catalog: Catalog;
  logger: Logger;
  fetch: typeof globalThis.fetch;
  /** How long one request to an authorization server may take (the ToolMux's `oauthRequestTimeoutMs`). */
  oauthRequestTimeoutMs: number;
  managedAuth: Readonly<Record<string, ManagedAuthCredentials>>;
  callbackUrls: CallbackUrlPolicy;
  /** Where users land after connecting when no callbackUrl is given (TOOLMUX_MANAGE_CONNECTIONS). */
  defaultCallbackUrl: string;
  /** The OAuth `redirect_uri`: where `handleCallback` is mounted. */
  redirectUri: string;
  /** The ToolMux's `baseUrl` (no trailing slash), where the hosted connect page is served. */
  baseUrl: string;
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

export function publicAuthConfig(record: AuthConfigRecord): AuthConfig {
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

export function publicAccount(record: ConnectedAccountRecord): ConnectedAccount {
  return {
    id: record.id,
    userId: record.userId,
    toolkit: record.toolkit,
    authConfigId: record.authConfigId,
    alias: record.alias ?? null,
    status: record.status,
    statusReason: record.statusReason,
    connectedAt: record.connectedAt,
    expiresAt: record.expiresAt,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
}

/**
 * What every part of the auth service shares: the options (with the store the account cache
 * watches), the stored auth configs and accounts looked up by id with the errors callers see, the
 * catalog's toolkits, an auth config's OAuth client and the revocations running in the background.
 */
export class AuthRecords {
  readonly options: AuthServiceOptions;
  /** The revocations OAuth callbacks left running after they answered (`mux.close()` waits for them). */
  readonly revocations: PendingRevocations;

  constructor(options: AuthServiceOptions) {
    this.options = options;
    this.revocations = new PendingRevocations({
      logger: options.logger,
      timeoutMs: options.oauthRequestTimeoutMs,
    });
  }

  get store(): Store {
    return this.options.store;
  }

  /** A toolkit as messages name it: `Name (slug)`. */
  label(slug: string): string {
    const toolkit = this.options.catalog.toolkits.get(slug);
    return toolkit ? `${toolkit.name} (${slug})` : slug;
  }

  toolkit(slug: string): Toolkit {
    return this.options.catalog.getToolkit(slug);
  }

  async authConfig(id: string): Promise<AuthConfigRecord> {
    const record = await this.store.getAuthConfig(lookupId('authConfig', id));
    if (!record) throw notFound('authConfig', id);
    return record;
  }

  async account(id: string): Promise<ConnectedAccountRecord> {
    const record = await this.store.getConnectedAccount(lookupId('connectedAccount', id));
    if (!record) throw notFound('connectedAccount', id);
    return record;
  }

  oauthClient(config: AuthConfigRecord, toolkit: Toolkit): OAuthClient {
    const settings = config.settings as { clientId?: string; scopes?: string[] };
    const secret = config.secret
      ? this.options.vault.openJson<{ clientSecret: string }>(config.id, config.secret)
      : undefined;
    return {
      clientId: settings.clientId ?? '',
      clientSecret: secret?.clientSecret,
      scopes: settings.scopes ?? oauth2SchemeOf(toolkit).scopes ?? [],
    };
  }
}
