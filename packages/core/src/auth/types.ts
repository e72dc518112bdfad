import type { AuthConfigType, ConnectionRequestKind, ConnectionStatus } from '../store/types.js';

export type { AuthConfigType, ConnectionRequestKind, ConnectionStatus };

/**
 * A connected account's status as the SDK reports it: a {@link ConnectionStatus}, or, in remote mode
 * only, `UNKNOWN` for a status a newer server added that this SDK does not know (update
 * `@toolmux/core` to the server's version to read it). The account is handed on all the same: one
 * account of a status added later does not fail a whole list. Never a filter of `list()`.
 */
export type ConnectedAccountStatus = ConnectionStatus | 'UNKNOWN';

/** An auth config as the API returns it: never the client secret. */
export interface AuthConfig {
  /** `ac_…` */
  id: string;
  toolkit: string;
  type: AuthConfigType;
  /** `toolmux` when toolmux created it from the `managedAuth` option. */
  createdBy: 'user' | 'toolmux';
  name: string | undefined;
  /** OAuth client id (oauth2). */
  clientId: string | undefined;
  /** Scopes asked for (oauth2); the toolkit's default scopes when the config names none. */
  scopes: string[] | undefined;
  /** Whether a client secret is stored (encrypted; it is never returned). */
  hasClientSecret: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/** What `authConfigs.create(toolkit, options)` takes. */
export type CreateAuthConfigOptions =
  | {
      type: 'oauth2';
      clientId: string;
      /** Omit for a public client (PKCE only). Stored encrypted, never returned. */
      clientSecret?: string;
      /** @default the toolkit scheme's scopes */
      scopes?: string[];
      name?: string;
    }
  | {
      type: 'api_key' | 'bearer' | 'basic';
      name?: string;
    };

/**
 * What `authConfigs.update(id, changes)` takes: the fields to change, each optional (at least one).
 * An oauth2 config takes all four; an api_key, bearer or basic config only `name`.
 */
export interface UpdateAuthConfigOptions {
  /** The OAuth app's client id (oauth2). */
  clientId?: string;
  /** The OAuth app's new client secret (oauth2): stored encrypted, never returned. */
  clientSecret?: string;
  /** The scopes new connections ask for (oauth2); accounts keep the ones they were granted. */
  scopes?: string[];
  name?: string;
}

/** The operator's OAuth app for a toolkit (`managedAuth` option). */
export interface ManagedAuthCredentials {
  clientId: string;
  clientSecret?: string;
  /** @default the toolkit scheme's scopes */
  scopes?: string[];
}

/** A connected account as the API returns it: never its credentials. */
export interface ConnectedAccount {
  /** `ca_…` */
  id: string;
  userId: string;
  toolkit: string;
  authConfigId: string;
  /** The name the user and the agent call the account by (`work`); unique per user and toolkit. */
  alias: string | null;
  /** In remote mode, `UNKNOWN` for a status of a newer server (see {@link ConnectedAccountStatus}). */
  status: ConnectedAccountStatus;
  /** Why it is FAILED or EXPIRED, in the provider's words (`invalid_grant: …`). */
  statusReason: string | null;
  /** When it last became ACTIVE. */
  connectedAt: Date | null;
  /** When the current OAuth access token expires (toolmux refreshes it before). */
  expiresAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * How a connection request stands: PENDING until the user finishes (or, past `expiresAt`, EXPIRED);
 * COMPLETED once the account is connected; FAILED when the provider refused or the user denied access.
 */
export type ConnectionRequestStatus = 'PENDING' | 'COMPLETED' | 'FAILED' | 'EXPIRED';

/** A connection request as `connectionRequests.get(id)` returns it: never the provider's URL or a secret. */
export interface ConnectionRequestInfo {
  /** `cr_…` */
  id: string;
  /** `oauth2`: the user signs in at the provider; `fields`: the user gives an API key, token or password. */
  kind: ConnectionRequestKind;
  userId: string;
  toolkit: string;
  authConfigId: string;
  /** `oauth2`: the account being connected; `fields`: null until completed, then the new account. */
  connectedAccountId: string | null;
  /**
   * The account this request reconnects in place (`connectedAccounts.reconnect(id)`): its completion
   * gives that account new credentials, no new account is made. null: a new connection (`link()`,
   * `session.authorize()`). Absent from a remote ToolMux's answer when its server is of before the field.
   */
  reconnectOf?: string | null;
  status: ConnectionRequestStatus;
  /**
   * An EXPIRED request that newer connection requests of the same user and auth config replaced
   * before the user finished (at most 10 stay pending), rather than one whose 10 minutes ran out.
   * Absent from a remote ToolMux's answer when its server is of before the field.
   */
  replacedByNewerRequests?: boolean;
  /** Where the user is sent back after connecting. */
  callbackUrl: string;
  expiresAt: Date;
  /** The hosted connect page of this request, `${baseUrl}/connect/${id}` (served by @toolmux/server). */
  redirectUrl: string;
}

/** What `waitForConnection` resolves with. */
export interface ConnectionResult {
  /** The connected account id (`ca_…`). */
  id: string;
  status: 'ACTIVE';
  toolkit: string;
}

/** A raw API call with a user's account (`session.proxyExecute`). */
export interface ProxyExecuteRequest {
  toolkit: string;
  /** A path under the toolkit's `baseUrl` (`/user`), or an absolute URL on the same origin. */
  endpoint: string;
  /** @default 'GET' */
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';
  /** An object is sent as JSON; a string as is. */
  body?: unknown;
  /** Extra headers and query parameters. Credentials are set by toolmux and win over these. */
  parameters?: Array<{ in: 'header' | 'query'; name: string; value: string | number | boolean }>;
  /**
   * Use this account instead of the precedence rules: its id or alias, one the session may use (as
   * `execute(…, { account })`; ACCOUNT_NOT_IN_SESSION otherwise).
   */
  connectedAccountId?: string;
  /**
   * The most bytes of the API's answer this call downloads; past them it fails with PROXY_RESPONSE_TOO_LARGE and
   * the rest is not read. 1 up to the ToolMux's `proxyMaxResponseBytes` (INVALID_REQUEST above it).
   * @default the ToolMux's `proxyMaxResponseBytes` (32 MiB unless the operator set it)
   */
  maxResponseBytes?: number;
  signal?: AbortSignal;
}

/** The provider's answer to a proxied call, with every credential value masked. */
export interface ProxyExecuteResponse {
  status: number;
  headers: Record<string, string>;
  /** Parsed JSON when the answer is JSON, else text (`null` when empty). */
  data: unknown;
}
