import { inspect } from 'node:util';
import type { Catalog } from './catalog/catalog.js';
import type { Tool, Toolkit } from './catalog/types.js';
import type { SessionConfig } from './config/session-config.js';
import { EmbeddedToolMux, type ToolMuxApi } from './embedded-toolmux.js';
import { ToolMuxError } from './errors.js';
import { PlainProvider, type Provider } from './provider.js';
import { EMBEDDED_ONLY, RemoteToolMux } from './remote/remote-toolmux.js';
import type { SessionOf } from './session.js';
import type { ToolMuxOptions } from './toolmux-types.js';
import { everyKeyOf, setupOptions } from './util/option-kinds.js';
import { shownValue, urlWithoutCredentials } from './util/stored-text.js';

export type { ToolMuxApi } from './embedded-toolmux.js';
export type {
  ListConnectedAccountsOptions,
  ListLogsOptions,
  SessionLogsOptions,
  SessionSummary,
  ToolExecuteRequest,
  ToolkitInfo,
  ToolMuxOptions,
} from './toolmux-types.js';

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

/** Every option of `new ToolMux()` (the compiler checks the list against {@link ToolMuxOptions}). */
const OPTION_NAMES = everyKeyOf<ToolMuxOptions>()([
  'provider',
  'apiKey',
  'toolkits',
  'store',
  'secretKey',
  'baseUrl',
  'embed',
  'fetch',
  'requestTimeoutMs',
  'maxResponseBytes',
  'logger',
  'previousSecretKeys',
  'managedAuth',
  'allowedCallbackUrls',
  'defaultCallbackUrl',
  'oauthRedirectUri',
  'hostedConnectPage',
  'accountCacheTtlMs',
  'logRetentionDays',
  'proxyMaxResponseBytes',
  'oauthRequestTimeoutMs',
]);

/** Options of a remote ToolMux only, and why an embedded one has no use for them. */
const REMOTE_ONLY = {
  requestTimeoutMs:
    'bounds the requests of a remote ToolMux (with apiKey) to its server; an embedded ToolMux makes none',
  maxResponseBytes:
    'bounds the answers a remote ToolMux (with apiKey) reads from its server; an embedded ToolMux reads none (proxyMaxResponseBytes bounds what its proxyExecute() calls download)',
} as const;

/**
 * Which engine options ask for, never by a silent fallback: an `apiKey` key is remote mode even when
 * its value is undefined or empty (`apiKey: process.env.TOOLMUX_API_KEY` with the variable unset is
 * refused by the remote engine, naming the variable), and a `baseUrl` with nothing that configures an
 * embedded engine (no `toolkits`, `store`, …) is an application that forgot its API key.
 */
function modeOf(options: ToolMuxOptions<Provider<unknown>>): 'embedded' | 'remote' {
  if ('apiKey' in options) return 'remote';
  for (const [option, what] of Object.entries(REMOTE_ONLY)) {
    if (options[option as keyof typeof REMOTE_ONLY] === undefined) continue;
    throw new ToolMuxError({
      code: 'CONFIG_INVALID',
      message: `${option} ${what}. Remove it, or give apiKey and baseUrl for remote mode.`,
    });
  }
  if (options.baseUrl !== undefined && !EMBEDDED_ONLY.some((key) => options[key] !== undefined)) {
    throw new ToolMuxError({
      code: 'CONFIG_INVALID',
      message: `baseUrl ${shownBaseUrl(options.baseUrl)} without apiKey and without toolkits or store: for remote mode, pass the toolmux server's project API key as apiKey (e.g. apiKey: process.env.TOOLMUX_API_KEY, and set TOOLMUX_API_KEY); to run embedded, give toolkits (toolkits: [] for custom tools only).`,
    });
  }
  return 'embedded';
}

/** A base URL for a message: quoted and cut, without a user name or password it may hold. */
function shownBaseUrl(value: unknown): string {
  const safe = urlWithoutCredentials(value);
  return safe === undefined
    ? shownValue(value)
    : `${shownValue(safe)} (its user name and password left out here)`;
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
    setupOptions(options, 'new ToolMux()', OPTION_NAMES, {
      takes: 'an options object ({ toolkits, store, … } embedded, { baseUrl, apiKey } remote)',
    });
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

  /**
   * Embedded: refuses new tool calls (TOOLMUX_CLOSED), ends the workbench cells running (their
   * contexts in this process are dropped), lets tool calls in flight finish for up to `timeoutMs`
   * (default 10,000) and stops the rest (TOOL_ABORTED), then closes the execution log and the store
   * once every call's entry is written, and once the token revocations OAuth callbacks left running
   * after they answered have ended (each within `oauthRequestTimeoutMs`). Remote: lets the custom-tool calls running here and the
   * requests to the server in flight finish the same way (a stopped request is TOOLMUX_CLOSED, a
   * stopped tool call TOOL_ABORTED), then sends pending log uploads, waiting for them up to
   * `timeoutMs` more (entries not sent by then are reported to the logger as lost).
   */
  close(options?: { timeoutMs?: number }): Promise<void> {
    return this.#engine.close(options);
  }

  /**
   * `close()` with its default timeout, for `await using mux = new ToolMux(...)`: the ToolMux closes
   * when the block it was declared in ends, also when that block throws.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
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
