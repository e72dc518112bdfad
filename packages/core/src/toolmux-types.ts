/**
 * The types a ToolMux's options and answers are made of, shared by the facade (toolmux.ts) and its
 * embedded and remote engines, so that none of them imports the other to name them.
 */
import type { ConnectionStatus, ManagedAuthCredentials } from './auth/types.js';
import type { Toolkit } from './catalog/types.js';
import type { PlainProvider, Provider } from './provider.js';
import type { Store } from './store/types.js';
import type { Logger } from './util/logger.js';

export interface ToolMuxOptions<P extends Provider<unknown> = PlainProvider> {
  /** Turns tools into your framework's tool type. @default new PlainProvider() */
  provider?: P;
  /**
   * Remote mode: the project API key of the toolmux server at `baseUrl`. With it, this ToolMux keeps
   * no store and no catalog of its own: every call goes to the server's REST API (custom tools of a
   * session still run in this process). Without it, toolmux runs embedded. Present but undefined or
   * empty (`apiKey: process.env.TOOLMUX_API_KEY` with the variable unset) is an error, never a silent
   * fallback to embedded; so is `baseUrl` alone, with neither `apiKey` nor `toolkits`/`store`.
   */
  apiKey?: string;
  /** The catalog: built-in toolkits (`@toolmux/toolkits`) and your own `defineToolkit()`s. @default [] */
  toolkits?: readonly Toolkit[];
  /**
   * Where sessions, accounts and logs live: `'sqlite:./path.db'` (a path starting with `~/` is under
   * the home directory), `':memory:'`, `'postgres://…'`, or a Store. @default 'sqlite:./.toolmux/toolmux.db'
   */
  store?: string | Store;
  /**
   * 32-byte key (base64 or hex) that encrypts credentials and derives session tokens.
   * @default process.env.TOOLMUX_SECRET_KEY, else a key file created beside the SQLite database
   */
  secretKey?: string;
  /**
   * Where @toolmux/server is reachable: embedded, it makes MCP URLs and OAuth callbacks; in remote
   * mode it is the server this ToolMux talks to. @default 'http://localhost:8787'
   */
  baseUrl?: string;
  /** Adds an embedding model to tool search (hybrid ranking). */
  embed?: (texts: string[]) => Promise<number[][]>;
  /** `fetch` handed to tool handlers (and, in remote mode, used to call the server). @default globalThis.fetch */
  fetch?: typeof globalThis.fetch;
  /**
   * Remote mode: how long one request to the server may take, its answer read included (a tool call
   * waits for the tool on the server). A request past it is stopped and is `SERVER_UNREACHABLE` (a
   * failed result for a tool call); log uploads get at most a minute of it. A whole number from 1 to
   * 2147483647 (about 24.8 days, the longest a Node.js timer waits); anything else is `INVALID_REQUEST`
   * naming it. Only for remote mode: an embedded ToolMux refuses it. @default 600000 (10 minutes)
   */
  requestTimeoutMs?: number;
  /**
   * Remote mode: the most bytes of one answer of the server this ToolMux reads (a page, a tool result,
   * a proxy call's answer). A larger answer is `SERVER_UNREACHABLE` naming the limit, and is not read
   * further (one whose Content-Length says so, not at all): reading an answer of N bytes takes about
   * 2.5 × N of memory at its peak. A whole number from 65536 (64 KiB) to 268435456 (256 MiB). Only for
   * remote mode: an embedded ToolMux refuses it (`proxyMaxResponseBytes` bounds its proxy calls).
   * @default 134217728 (128 MiB)
   */
  maxResponseBytes?: number;
  /** @default console (debug only with TOOLMUX_DEBUG=1) */
  logger?: Logger;
  /**
   * Earlier secret keys, still used to decrypt credentials written under them until
   * `vault.rotate()` has re-encrypted everything under `secretKey`, and to accept the MCP tokens
   * handed out under them (a rolling key change over several instances) until they are dropped.
   * @default process.env.TOOLMUX_PREVIOUS_SECRET_KEYS (comma-separated), else none
   */
  previousSecretKeys?: string[];
  /**
   * The operator's OAuth apps, per toolkit: the first time a user of a session without its own
   * `authConfigs` entry connects the toolkit, toolmux creates an auth config from them
   * (`createdBy: 'toolmux'`, precedence steps 3 and 4).
   */
  managedAuth?: Record<string, ManagedAuthCredentials>;
  /**
   * Where connections may send users back to (`callbackUrl`): origins (`https://app.example.com`) or
   * URL prefixes; `defaultCallbackUrl` is always allowed. @default the origin of `baseUrl`, plus
   * localhost / 127.0.0.1 on any port unless NODE_ENV is 'production'
   */
  allowedCallbackUrls?: string[];
  /**
   * Where users land after connecting when no callbackUrl is given, e.g. from a link of
   * TOOLMUX_MANAGE_CONNECTIONS. @default `${baseUrl}/connect/done`
   */
  defaultCallbackUrl?: string;
  /**
   * The OAuth `redirect_uri`: the URL where you mount `mux.auth.handleCallback` (register it in each
   * OAuth app). @default `${baseUrl}/auth/callback`
   */
  oauthRedirectUri?: string;
  /**
   * Where connection links (`redirectUrl` of `session.authorize()` and `connectedAccounts.link()`,
   * `redirect_url` of TOOLMUX_MANAGE_CONNECTIONS) lead for OAuth:
   *
   * - `true`: the hosted connect page of @toolmux/server at `baseUrl`, `${baseUrl}/connect/${requestId}`.
   *   The user sees which app and which account before going on to the provider, and the OAuth
   *   state stays encrypted in the store until then. `createServer()` turns this on for the ToolMux
   *   it serves; set it yourself on a ToolMux that shares its store with a toolmux server at `baseUrl`.
   * - `false`: the provider's authorization URL itself, since nothing serves `/connect` when you only
   *   mount `auth.handleCallback` in your own app.
   *
   * Credential requests (api_key, bearer, basic) have no provider page: their link is the hosted page
   * either way (without the server, collect the fields yourself and call `connectionRequests.complete`).
   * @default false (true once served by `createServer()`)
   */
  hostedConnectPage?: boolean;
  /**
   * How long the connected account (and its decrypted credentials) a call ran with is reused by the
   * next calls of the same user, toolkit and session selection, instead of running the precedence
   * queries again (one to three database round trips per call). Changes made through this ToolMux
   * apply at once; one made by another instance on the same database (an account disabled, deleted
   * or newly connected there) shows after at most this long. OAuth tokens near their expiry and
   * credentials a provider refused are always read again. `0` turns the cache off.
   *
   * Also how long a session object trusts that its session still exists: a session deleted on another
   * instance stops running calls through the objects of this one after at most this long (one deleted
   * through this ToolMux at once).
   *
   * In remote mode (with `apiKey`) only the second applies, to the custom tools a session object runs
   * in this process: it reads the session from the server again before such a call once its last
   * read is this old (the account cache is the server's, set by the server's own option). A whole
   * number, 0 or more.
   * @default 2000
   */
  accountCacheTtlMs?: number;
  /**
   * How many days execution log entries are kept: older ones are deleted when the store opens and
   * then every hour, 500 per statement (every instance on a shared database prunes; they do
   * not wait for each other). Entries hold a call's redacted arguments and result, which may be your
   * users' data. A whole number of days, 1 to 36500. Embedded only (a toolmux server has its own
   * setting).
   * @default no limit (every entry is kept)
   */
  logRetentionDays?: number;
  /**
   * The most bytes of an API's answer one `session.proxyExecute()` call downloads (REST and the
   * workbench's `toolmux.proxy` included): past them the call fails with PROXY_RESPONSE_TOO_LARGE and the rest is
   * not read, so an API that answers gigabytes, or never ends, costs at most this much memory. A call's
   * own `maxResponseBytes` may ask for less, never more. A whole number, 1 or more.
   * @default 33554432 (32 MiB)
   */
  proxyMaxResponseBytes?: number;
  /**
   * How long one request to an OAuth provider's authorization server may take, its answer read in
   * full: trading the code at the callback, refreshing a token, revoking one. An endpoint that does
   * not answer in time fails the request as `network_error` naming this timeout (the connection
   * FAILED; a refresh OAUTH_ERROR, the account kept ACTIVE). A call waiting for a token refresh waits
   * this long at most for the provider. A whole number of milliseconds from 1 to 300000.
   * @default 30000
   */
  oauthRequestTimeoutMs?: number;
}

/** A toolkit as `toolkits.list()` / `toolkits.get()` describe it. */
export interface ToolkitInfo {
  slug: string;
  name: string;
  description: string;
  noAuth: boolean;
  authSchemes: string[];
  categories: string[];
  /**
   * Words a user says for what the toolkit handles that its tools' text may not say (`defineToolkit`'s
   * `keywords`), which search reads as words of each of its tools: `['email', 'mail', 'inbox']`.
   */
  keywords: string[];
  toolCount: number;
  tools: Array<{ slug: string; name: string; description: string }>;
}

/** What `mux.tools.execute(slug, request)` takes: a call without a session. */
export interface ToolExecuteRequest {
  userId: string;
  arguments?: unknown;
  /** Run with this account (checked to be the user's, of the tool's toolkit) instead of the precedence rules. */
  connectedAccountId?: string;
  signal?: AbortSignal;
  /** The framework's tool call id, written to the execution log. */
  callId?: string;
}

/** A session as `sessions.list()` lists it. */
export interface SessionSummary {
  sessionId: string;
  userId: string;
  metadata: Record<string, string>;
  configVersion: number;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * What `mux.connectedAccounts.list()` takes: filters, all optional (an account matches any of each
 * list's values). A list given must name at least one value: an empty one is `INVALID_REQUEST` (it
 * selected every account, as a missing one does).
 */
export interface ListConnectedAccountsOptions {
  userIds?: string[];
  toolkits?: string[];
  statuses?: ConnectionStatus[];
  authConfigIds?: string[];
  limit?: number;
  cursor?: string;
}

/** What `session.logs()` takes, all optional. */
export interface SessionLogsOptions {
  limit?: number;
  cursor?: string;
  /** Only the entries made by the call whose entry has this id. */
  parentId?: string;
}

/** What `mux.logs.list()` takes: filters on the project's execution log, all optional. */
export interface ListLogsOptions {
  /** Entries of this session (also of one deleted since). */
  sessionId?: string;
  userId?: string;
  toolSlug?: string;
  /** Only the entries made by the call whose entry has this id (a workbench cell, a multi-execute). */
  parentId?: string;
  /** 1..1000. @default 50 */
  limit?: number;
  cursor?: string;
}
