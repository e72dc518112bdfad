import { inspect } from 'node:util';
import type { ManagedAuthCredentials } from './auth/types.js';
import type { Catalog } from './catalog/catalog.js';
import type { Tool, Toolkit } from './catalog/types.js';
import type { SessionConfig } from './config/session-config.js';
import { EmbeddedToolMux } from './embedded-toolmux.js';
import { ToolMuxError } from './errors.js';
import { PlainProvider, type Provider } from './provider.js';
import { EMBEDDED_ONLY, RemoteToolMux } from './remote/remote-toolmux.js';
import type { SessionOf } from './session.js';
import type { Store } from './store/types.js';
import type { Logger } from './util/logger.js';

export interface ToolMuxOptions<P extends Provider<unknown>> {
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
   * Where sessions, accounts and logs live: `'sqlite:./path.db'`, `':memory:'`, `'postgres://…'`, or
   * a Store. @default 'sqlite:./.toolmux/toolmux.db'
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
  /** @default console (debug only with TOOLMUX_DEBUG=1) */
  logger?: Logger;
  /**
   * Earlier secret keys, still used to decrypt credentials written under them until
   * `vault.rotate()` has re-encrypted everything under `secretKey`.
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
   * @default 2000
   */
  accountCacheTtlMs?: number;
}

/** A toolkit as `toolkits.list()` / `toolkits.get()` describe it. */
export interface ToolkitInfo {
  slug: string;
  name: string;
  description: string;
  noAuth: boolean;
  authSchemes: string[];
  categories: string[];
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

/** What `mux.logs.list()` takes: filters on the project's execution log, all optional. */
export interface ListLogsOptions {
  /** Entries of this session (also of one deleted since). */
  sessionId?: string;
  userId?: string;
  toolSlug?: string;
  /** 1..1000. @default 50 */
  limit?: number;
  cursor?: string;
}

/** What an embedded and a remote ToolMux both offer (docs/sessions.md, docs/direct-access.md). */
export type ToolMuxApi<P extends Provider<unknown>> = Pick<
  EmbeddedToolMux<P>,
  | 'create'
  | 'use'
  | 'sessions'
  | 'toolkits'
  | 'tools'
  | 'authConfigs'
  | 'connectedAccounts'
  | 'connectionRequests'
  | 'logs'
  | 'close'
>;

/** The engine behind each ToolMux, for `@toolmux/core/internal`. */
const engines = new WeakMap<object, EmbeddedToolMux<Provider<unknown>> | RemoteToolMux<Provider<unknown>>>();

/** @internal The embedded engine of a ToolMux; NOT_SUPPORTED for a remote one. */
export function embeddedEngineOf(
  mux: ToolMux<Provider<unknown>>,
  member: string,
): EmbeddedToolMux<Provider<unknown>> {
  const engine = engines.get(mux);
  if (engine instanceof EmbeddedToolMux) return engine;
  throw new ToolMuxError({
    code: 'NOT_SUPPORTED',
    message: `${member} needs an embedded ToolMux; ${engine ? `this one is served by the toolmux server at ${engine.baseUrl}` : 'this is not a ToolMux'}.`,
  });
}

/**
 * Which engine options ask for, never by a silent fallback: an `apiKey` key is remote mode even when
 * its value is undefined or empty (`apiKey: process.env.TOOLMUX_API_KEY` with the variable unset is
 * refused by the remote engine, naming the variable), and a `baseUrl` with nothing that configures an
 * embedded engine (no `toolkits`, `store`, …) is an application that forgot its API key.
 */
function modeOf(options: ToolMuxOptions<Provider<unknown>>): 'embedded' | 'remote' {
  if ('apiKey' in options) return 'remote';
  if (options.baseUrl !== undefined && !EMBEDDED_ONLY.some((key) => options[key] !== undefined)) {
    throw new ToolMuxError({
      code: 'INVALID_REQUEST',
      message: `baseUrl "${options.baseUrl}" without apiKey and without toolkits or store: for remote mode, pass the toolmux server's project API key as apiKey (e.g. apiKey: process.env.TOOLMUX_API_KEY, and set TOOLMUX_API_KEY); to run embedded, give toolkits (toolkits: [] for custom tools only).`,
    });
  }
  return 'embedded';
}

/**
 * toolmux: a catalog of toolkits, a store, and sessions that route an agent's tool calls.
 * Embedded by default (this process runs everything, on SQLite or PostgreSQL); with `apiKey`, the same
 * API served by a toolmux server at `baseUrl` (remote mode).
 *
 * @example
 * const mux = new ToolMux({ toolkits: [acme] });
 * const session = await mux.create('user_123', { toolkits: ['acme'] });
 * const tools = await session.tools();
 *
 * // remote mode
 * const remote = new ToolMux({ baseUrl: 'https://tools.example.com', apiKey: process.env.TOOLMUX_API_KEY });
 */
export class ToolMux<P extends Provider<unknown> = PlainProvider> implements ToolMuxApi<P> {
  readonly provider: P;
  readonly baseUrl: string;
  /** `'embedded'`, or `'remote'` when an `apiKey` was given. */
  readonly mode: 'embedded' | 'remote';
  readonly sessions: ToolMuxApi<P>['sessions'];
  readonly toolkits: ToolMuxApi<P>['toolkits'];
  readonly tools: ToolMuxApi<P>['tools'];
  readonly authConfigs: ToolMuxApi<P>['authConfigs'];
  readonly connectedAccounts: ToolMuxApi<P>['connectedAccounts'];
  readonly connectionRequests: ToolMuxApi<P>['connectionRequests'];
  /** The project's execution log, across sessions (deleted ones included). */
  readonly logs: ToolMuxApi<P>['logs'];
  readonly #engine: EmbeddedToolMux<P> | RemoteToolMux<P>;

  constructor(options: ToolMuxOptions<P> = {}) {
    this.provider = options.provider ?? (new PlainProvider() as unknown as P);
    this.#engine =
      modeOf(options) === 'embedded'
        ? new EmbeddedToolMux(options, this.provider)
        : new RemoteToolMux(options, this.provider);
    this.mode = this.#engine instanceof EmbeddedToolMux ? 'embedded' : 'remote';
    this.baseUrl = this.#engine.baseUrl;
    this.sessions = this.#engine.sessions;
    this.toolkits = this.#engine.toolkits;
    this.tools = this.#engine.tools;
    this.authConfigs = this.#engine.authConfigs;
    this.connectedAccounts = this.#engine.connectedAccounts;
    this.connectionRequests = this.#engine.connectionRequests;
    this.logs = this.#engine.logs;
    engines.set(this, this.#engine);
  }

  /** The embedded engine, for what only exists in this process. */
  #embedded(member: string): EmbeddedToolMux<P> {
    if (this.#engine instanceof EmbeddedToolMux) return this.#engine;
    throw new ToolMuxError({
      code: 'NOT_SUPPORTED',
      message: `mux.${member} exists only on an embedded ToolMux; in remote mode the toolmux server at ${this.baseUrl} owns it.`,
    });
  }

  /** The catalog (embedded only): every toolkit and tool, with the search index. */
  get catalog(): Catalog {
    return this.#embedded('catalog').catalog;
  }

  /** Where connections without a callbackUrl send the user back to (embedded only). */
  get defaultCallbackUrl(): string {
    return this.#embedded('defaultCallbackUrl').defaultCallbackUrl;
  }

  /** The OAuth `redirect_uri`, where `auth.handleCallback` must be mounted (embedded only). */
  get oauthRedirectUri(): string {
    return this.#embedded('oauthRedirectUri').oauthRedirectUri;
  }

  /** The OAuth callback handler (embedded only; a toolmux server mounts it for you). */
  get auth(): EmbeddedToolMux<P>['auth'] {
    return this.#embedded('auth').auth;
  }

  /** Credential key rotation (embedded only). */
  get vault(): EmbeddedToolMux<P>['vault'] {
    return this.#embedded('vault').vault;
  }

  /**
   * Creates a session for one of your users. The config is validated against the catalog; every
   * mistake is a ToolMuxError naming the bad value.
   */
  create(userId: string, config?: SessionConfig): Promise<SessionOf<P>> {
    return this.#engine.create(userId, config);
  }

  /**
   * Resumes a stored session (in a later turn, another process, another instance). Custom tools the
   * session was created with must be given again: their code is not stored.
   */
  use(
    sessionId: string,
    options?: { customTools?: Tool[]; customToolkits?: Toolkit[] },
  ): Promise<SessionOf<P>> {
    return this.#engine.use(sessionId, options);
  }

  /** Closes the store (embedded) or waits for pending log uploads (remote). */
  close(): Promise<void> {
    return this.#engine.close();
  }

  toJSON(): { mode: 'embedded' | 'remote'; baseUrl: string; provider: string; toolkits?: string[] } {
    return {
      mode: this.mode,
      baseUrl: this.baseUrl,
      provider: this.provider.name,
      ...(this.#engine instanceof EmbeddedToolMux
        ? { toolkits: [...this.#engine.catalog.toolkits.keys()] }
        : {}),
    };
  }

  [inspect.custom](): string {
    return `ToolMux ${inspect(this.toJSON())}`;
  }
}
