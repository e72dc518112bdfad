import { accountCacheTtlOf } from '../auth/account-cache.js';
import {
  checkAuthConfigCreateFields,
  checkAuthConfigType,
  givenAuthConfigChanges,
} from '../auth/auth-config-changes.js';
import type { ConnectionRequest } from '../auth/connection-request.js';
import type {
  AuthConfig,
  ConnectedAccount,
  ConnectionRequestInfo,
  CreateAuthConfigOptions,
  UpdateAuthConfigOptions,
} from '../auth/types.js';
import { Catalog } from '../catalog/catalog.js';
import { declarationOf, toolkitDeclarationOf } from '../catalog/declarations.js';
import type { Tool, Toolkit } from '../catalog/types.js';
import { parseSessionConfig, parseToolFilter, type SessionConfig } from '../config/session-config.js';
import type { ToolMuxApi } from '../embedded-toolmux.js';
import { ToolMuxError } from '../errors.js';
import { CallsInFlight, closeTimeoutOf, reportStopped } from '../execution/calls-in-flight.js';
import type { ExecutionEnvironment } from '../execution/execute.js';
import { ExecutionLogWriter, PartlyStored } from '../execution/log-writer.js';
import type { ToolResult } from '../execution/result.js';
import type { CollectionOf, Provider, ToolCallReplyOf, ToolCallResponseOf } from '../provider.js';
import type { ExecutionLog, SessionOf } from '../session.js';
import type { ExecutionLogRecord } from '../store/types.js';
import { toolCallExecute } from '../tool-calls.js';
import { applyToolModifiers, hasModifiers, type ToolModifiers } from '../tool-modifiers.js';
import type {
  ListConnectedAccountsOptions,
  ListLogsOptions,
  SessionSummary,
  ToolExecuteRequest,
  ToolkitInfo,
  ToolMuxOptions,
} from '../toolmux-types.js';
import { checkSignal, pause, settlesWithin } from '../util/abort.js';
import { aliasChangeOf, lookupId, sessionIdOf, toolkitSlugOf, toolSlugRefusal } from '../util/arguments.js';
import { forEachAtMost } from '../util/at-most.js';
import { checkOptionUrl } from '../util/config-url.js';
import { consoleLogger } from '../util/logger.js';
import { checkOptionKinds } from '../util/option-kinds.js';
import { checkedOptions, checkedRequest, credentialsObject } from '../util/options-object.js';
import { checkUserId, shownValue, urlWithoutCredentials } from '../util/stored-text.js';
import { FETCH_BAD_PORTS } from './bad-ports.js';
import {
  answerNeverCame,
  maxResponseBytesOf,
  RemoteApi,
  requestTimeoutOf,
  succeededUnread,
  UNHANDLED_CODES,
} from './http.js';
import { callOnServer, RemoteSession, remoteConnectionRequest } from './remote-session.js';
import {
  authConfigOf,
  connectedAccountOf,
  connectionRequestInfoOf,
  connectionRequestWireOf,
  countedPageOf,
  executionLogOf,
  executionLogWire,
  pageOf,
  type SessionWire,
  sessionSummaryOf,
  sessionWireOf,
  toolkitInfoOf,
  toolResultOf,
  toolSpecOfWire,
} from './wire.js';

/** Options that configure an embedded engine; a remote ToolMux refuses them rather than ignore them. */
export const EMBEDDED_ONLY = [
  'toolkits',
  'store',
  'secretKey',
  'previousSecretKeys',
  'embed',
  'managedAuth',
  'allowedCallbackUrls',
  'defaultCallbackUrl',
  'oauthRedirectUri',
  'hostedConnectPage',
  'proxyMaxResponseBytes',
  'oauthRequestTimeoutMs',
  'logRetentionDays',
] as const;

const MIN_API_KEY_LENGTH = 16;

/** A log upload is a few milliseconds of work for the server: one that takes this long is stuck. */
const MAX_UPLOAD_TIMEOUT_MS = 60_000;

/** A log upload that reached no server is sent again, whole, after each of these delays. */
const UPLOAD_RETRY_DELAYS_MS = [1000, 2000, 4000] as const;

/** Log uploads (one per session of a batch) sent at once, at most. */
const MAX_UPLOADS_IN_FLIGHT = 4;

const id = (value: string) => encodeURIComponent(value);

/** A connected account's id in a path, once it may name one (see `lookupId`). */
const account = (value: string) => id(lookupId('connectedAccount', value));

/**
 * The engine behind `new ToolMux({ baseUrl, apiKey })`: the API of an embedded ToolMux, answered by
 * the toolmux server at `baseUrl`. Sessions may carry custom tools: the server learns their
 * declarations (name, description, schemas) so search and tool lists include them, and their calls
 * run here.
 */
export class RemoteToolMux<P extends Provider<unknown>> implements ToolMuxApi<P> {
  readonly provider: P;
  readonly baseUrl: string;
  readonly #api: RemoteApi;
  readonly #env: ExecutionEnvironment;
  readonly #logs: ExecutionLogWriter;
  readonly #uploadTimeoutMs: number;
  /** How long a session object trusts its last read of the session (`accountCacheTtlMs`). */
  readonly #sessionFreshMs: number;
  /** Ends the log uploads in flight, and fails the ones asked meanwhile, when close() stops waiting. */
  #uploadsStop = new AbortController();

  constructor(options: ToolMuxOptions<P>, provider: P) {
    this.provider = provider;
    if (urlWithoutCredentials(options.baseUrl) !== undefined) {
      // fetch refuses such a URL, and its error (or ours) would show the password
      throw new ToolMuxError({
        code: 'CONFIG_INVALID',
        message:
          'baseUrl must not hold a user name or password (https://user:password@host): the SDK authenticates with apiKey. Remove them from baseUrl.',
      });
    }
    if (
      options.apiKey === undefined ||
      options.apiKey === null ||
      (typeof options.apiKey === 'string' && options.apiKey.trim() === '')
    ) {
      throw new ToolMuxError({
        code: 'CONFIG_INVALID',
        message: `apiKey is ${options.apiKey === undefined || options.apiKey === null ? String(options.apiKey) : 'empty'}: remote mode needs the project API key of the toolmux server${options.baseUrl === undefined ? '' : ` at ${options.baseUrl}`}. Set TOOLMUX_API_KEY (\`toolmux serve\` prints where its key is when it starts: the TOOLMUX_API_KEY it was given, or the file api.key beside its SQLite database, ./.toolmux/api.key by default), or leave apiKey out and give toolkits to run embedded.`,
      });
    }
    const given = EMBEDDED_ONLY.filter((key) => options[key] !== undefined);
    if (given.length > 0) {
      throw new ToolMuxError({
        code: 'CONFIG_INVALID',
        message: `${given.join(', ')} configure an embedded ToolMux; with apiKey (remote mode) the server at baseUrl owns them. Remove ${given.length === 1 ? 'it' : 'them'}, or drop apiKey to run embedded.`,
      });
    }
    checkOptionKinds(options);
    if (options.baseUrl === undefined) {
      throw new ToolMuxError({
        code: 'CONFIG_INVALID',
        message:
          'Remote mode needs baseUrl: the URL of your toolmux server, e.g. new ToolMux({ baseUrl: "https://tools.example.com", apiKey }).',
      });
    }
    this.baseUrl = checkOptionUrl(options.baseUrl, 'baseUrl', { base: true }).replace(/\/+$/, '');
    const port = Number(new URL(this.baseUrl).port);
    if (options.fetch === undefined && FETCH_BAD_PORTS.has(port)) {
      // fetch would refuse every request with only `fetch failed` to say so
      throw new ToolMuxError({
        code: 'CONFIG_INVALID',
        message: `baseUrl ${shownValue(this.baseUrl)} names port ${port}, which fetch refuses to connect to (a "bad port" of the Fetch standard, one of another protocol that web requests must not reach). Serve the toolmux server on another port (\`toolmux serve --port 8787\`) and set baseUrl to it, or pass a fetch of your own that connects there.`,
        details: { option: 'baseUrl', port },
      });
    }
    if (typeof options.apiKey !== 'string' || options.apiKey.length < MIN_API_KEY_LENGTH) {
      throw new ToolMuxError({
        code: 'CONFIG_INVALID',
        message: `apiKey must be the server's project API key (TOOLMUX_API_KEY, at least ${MIN_API_KEY_LENGTH} characters), got ${typeof options.apiKey === 'string' ? `${options.apiKey.length} characters` : typeof options.apiKey}.`,
      });
    }
    const timeoutMs = requestTimeoutOf(options.requestTimeoutMs);
    // it has no account cache (the server's own option governs that), but its session objects re-read
    // their session once their last read is this old, before a custom-tool call, as embedded ones do
    this.#sessionFreshMs = accountCacheTtlOf(
      options.accountCacheTtlMs,
      'in remote mode, how long a session object trusts that its session still exists with the config it has, before it runs a custom tool',
    );
    this.#uploadTimeoutMs = Math.min(timeoutMs, MAX_UPLOAD_TIMEOUT_MS);
    const fetch = options.fetch ?? globalThis.fetch;
    const logger = options.logger ?? consoleLogger;
    this.#api = new RemoteApi({
      baseUrl: this.baseUrl,
      apiKey: options.apiKey,
      fetch,
      timeoutMs,
      maxResponseBytes: maxResponseBytesOf(options.maxResponseBytes),
    });
    // uploads go on in the background (a round trip per call would be too slow); close() and the
    // process's beforeExit flush them
    this.#logs = new ExecutionLogWriter({ insertLogs: (records) => this.#uploadLogs(records) }, logger, {
      durable: false,
      flushBeforeExit: true,
      // An upload whose connection failed before any answer came (a keep-alive socket the server
      // just closed, a server restarting) or that the server turned away unread (past its
      // connections per client, or after its shutdown drain ran out) is sent again whole, after 1, 2 and 4 s (the server keeps one copy of
      // an entry sent again that had landed), never as one request per entry, which would only pile
      // up connections. One the server refused may hold one bad entry (an older server refuses a
      // whole upload for it): tried again entry by entry, a few at a time. One whose status arrived
      // and whose answer then broke (it may have landed: an older server would store its entries
      // twice), one not answered in time (the same), one answered by a proxy for a server in trouble
      // (which the retries would only load more), or one close() stopped, is not sent again: its
      // entries are reported lost.
      retryBatch: (error, attempt) =>
        attempt <= UPLOAD_RETRY_DELAYS_MS.length &&
        ToolMuxError.isInstance(error) &&
        (answerNeverCame(error) || UNHANDLED_CODES.has(error.code))
          ? this.#uploadPause(UPLOAD_RETRY_DELAYS_MS[attempt - 1]!)
          : Promise.resolve(false),
      retryRefused: (error) =>
        ToolMuxError.isInstance(error) &&
        error.code !== 'TOOLMUX_CLOSED' &&
        !UNHANDLED_CODES.has(error.code) &&
        error.code !== 'SERVER_UNREACHABLE',
    });
    this.#env = {
      logs: this.#logs,
      logger,
      fetch,
      // Custom tools of a remote session need no account (the server checks it at create()).
      resolveAccount: async () => ({ accountId: null, credentials: undefined }),
      calls: new CallsInFlight(),
    };
  }

  /** Resolves true after `ms`, or false at once when close() stops the uploads. */
  #uploadPause(ms: number): Promise<boolean> {
    return pause(ms, this.#uploadsStop.signal).then(
      () => true,
      () => false,
    );
  }

  /** Log entries of calls that ran here, sent to their sessions on the server. */
  async #uploadLogs(records: readonly ExecutionLogRecord[]): Promise<void> {
    const bySession = new Map<string, ExecutionLogRecord[]>();
    for (const record of records) {
      const key = record.sessionId ?? '';
      const items = bySession.get(key);
      if (items) items.push(record);
      else bySession.set(key, [record]);
    }
    const signal = this.#uploadsStop.signal;
    // a few at a time: a batch may hold the entries of hundreds of sessions
    const sessions = [...bySession];
    const uploads: PromiseSettledResult<void>[] = [];
    const upload = (sessionId: string, items: ExecutionLogRecord[]) =>
      this.#api
        .call('POST', `/sessions/${id(sessionId)}/logs`, {
          body: { items: items.map(executionLogWire) },
          signal,
          timeoutMs: this.#uploadTimeoutMs,
        })
        .then((answer) => this.#reportRefused(items, answer))
        .catch((error: unknown) => {
          // the server answers 201 once the entries are stored: they are, though its answer broke
          if (!succeededUnread(error)) throw error;
        });
    await forEachAtMost(
      [...sessions.entries()],
      MAX_UPLOADS_IN_FLIGHT,
      async ([index, [sessionId, items]]) => {
        [uploads[index]] = await Promise.allSettled([upload(sessionId, items)]);
      },
    );
    const failures = [...bySession.values()].flatMap((items, index) => {
      const upload = uploads[index]!;
      return upload.status === 'rejected' ? [{ records: items, error: upload.reason as unknown }] : [];
    });
    if (failures.length === 0) return;
    // one session's upload: its error; of several, only the failed ones' entries are tried again
    // (or reported lost), never those another upload stored
    if (bySession.size === 1) throw failures[0]!.error;
    throw new PartlyStored(failures);
  }

  /**
   * The entries the server refused alone (`refused` of its answer; it stored the others): reported to
   * the logger as lost, since the same entry sent again would be refused again.
   */
  #reportRefused(items: readonly ExecutionLogRecord[], answer: unknown): void {
    const refused = (answer as { refused?: unknown } | null)?.refused;
    if (!Array.isArray(refused) || refused.length === 0) return;
    const named = refused.flatMap((entry: { index?: unknown; message?: unknown }) => {
      const item = typeof entry?.index === 'number' ? items[entry.index] : undefined;
      return item
        ? [`${item.id} (${item.toolSlug}): ${typeof entry.message === 'string' ? entry.message : 'refused'}`]
        : [];
    });
    this.#env.logger.error(
      `toolmux: the server refused ${refused.length} execution log entr${refused.length === 1 ? 'y' : 'ies'}, which ${refused.length === 1 ? 'is' : 'are'} lost (the others were stored): ${named.slice(0, 5).join('; ')}${named.length > 5 ? '; …' : ''}`,
    );
  }

  #session(wire: SessionWire, customTools: readonly Tool[], customToolkits: readonly Toolkit[]) {
    const local = new Catalog([]).extend(customToolkits, customTools);
    return new RemoteSession<CollectionOf<P>, ToolCallResponseOf<P>, ToolCallReplyOf<P>>(
      wire,
      { api: this.#api, provider: this.provider, env: this.#env, sessionFreshMs: this.#sessionFreshMs },
      local,
    );
  }

  async create(userId: string, config: SessionConfig = {}): Promise<SessionOf<P>> {
    checkUserId(userId);
    const { experimental, ...rest } = parseSessionConfig(config);
    const customTools = experimental?.customTools ?? [];
    const customToolkits = experimental?.customToolkits ?? [];
    const notTools = [...customTools, ...customToolkits.flatMap((toolkit) => toolkit?.tools ?? [])].filter(
      (tool) => tool?.kind !== 'toolmux.tool',
    );
    if (notTools.length > 0 || customToolkits.some((toolkit) => toolkit?.kind !== 'toolmux.toolkit')) {
      throw new ToolMuxError({
        code: 'CONFIG_INVALID',
        message:
          'experimental.customTools must hold defineTool() results and experimental.customToolkits defineToolkit() results.',
      });
    }
    const declarations =
      customTools.length + customToolkits.length > 0
        ? {
            experimental: {
              customTools: customTools.map(declarationOf),
              customToolkits: customToolkits.map(toolkitDeclarationOf),
            },
          }
        : {};
    const wire = await this.#api.post(
      '/sessions',
      { user_id: userId, config: { ...rest, ...declarations } },
      undefined,
      sessionWireOf,
    );
    return this.#session(wire, customTools, customToolkits);
  }

  async use(
    sessionId: string,
    given?: { customTools?: Tool[]; customToolkits?: Toolkit[] },
  ): Promise<SessionOf<P>> {
    const options = checkedOptions(given, 'mux.use()');
    sessionIdOf(sessionId, 'use');
    const wire = await this.#api.get(`/sessions/${id(sessionId)}`, undefined, sessionWireOf);
    const customTools = options.customTools ?? [];
    const customToolkits = options.customToolkits ?? [];
    const missing = [
      ...wire.config.customTools.filter((slug) => !customTools.some((tool) => tool.slug === slug)),
      ...wire.config.customToolkits.filter(
        (slug) => !customToolkits.some((toolkit) => toolkit.slug === slug),
      ),
    ];
    if (missing.length > 0) {
      throw new ToolMuxError({
        code: 'SESSION_CUSTOM_TOOLS_MISSING',
        message: `Session ${sessionId} was created with custom tools or toolkits ${missing.join(', ')}; pass them again: use(sessionId, { customTools, customToolkits }).`,
      });
    }
    return this.#session(wire, customTools, customToolkits);
  }

  readonly sessions = {
    delete: async (sessionId: string): Promise<void> => {
      const path = `/sessions/${id(sessionIdOf(sessionId, 'delete'))}`;
      // the entries of calls that ran here go first, as session.delete() sends them: the server takes
      // no entry for a session it deleted, and an embedded call's entry is stored before it answers
      await this.#env.logs.flush();
      await this.#api.call('DELETE', path);
    },
    list: async (given?: {
      userId?: string;
      limit?: number;
      cursor?: string;
    }): Promise<{ items: SessionSummary[]; nextCursor: string | undefined }> => {
      const query = checkedOptions(given, 'mux.sessions.list()');
      return this.#api.get(
        '/sessions',
        { user_id: query.userId, limit: query.limit, cursor: query.cursor },
        (page) => pageOf(page, sessionSummaryOf),
      );
    },
  };

  readonly logs = {
    list: async (
      given?: ListLogsOptions,
    ): Promise<{ items: ExecutionLog[]; nextCursor: string | undefined }> => {
      const query = checkedOptions(given, 'mux.logs.list()');
      await this.#env.logs.flush();
      return this.#api.get(
        '/logs',
        {
          session_id: query.sessionId,
          user_id: query.userId,
          tool_slug: query.toolSlug,
          parent_id: query.parentId,
          limit: query.limit,
          cursor: query.cursor,
        },
        (page) => pageOf(page, executionLogOf),
      );
    },
  };

  readonly toolkits = {
    list: async (query?: {
      search?: string;
      limit?: number;
      cursor?: string;
    }): Promise<{ items: ToolkitInfo[]; nextCursor: string | undefined; total: number }> => {
      return this.#api.get('/toolkits', checkedOptions(query, 'mux.toolkits.list()'), (page) =>
        countedPageOf(page, toolkitInfoOf),
      );
    },
    get: async (slug: string): Promise<ToolkitInfo> =>
      this.#api.get(`/toolkits/${id(toolkitSlugOf(slug))}`, undefined, toolkitInfoOf),
  };

  readonly tools = {
    get: async (
      userId: string,
      filter: Pick<SessionConfig, 'toolkits' | 'tools' | 'tags'>,
      given?: ToolModifiers,
    ): Promise<CollectionOf<P>> => {
      const modifiers = given === undefined ? undefined : checkedOptions(given, 'mux.tools.get()');
      checkUserId(userId);
      const specs = await this.#api.post(
        '/tools/list',
        { user_id: userId, filter: parseToolFilter(filter) },
        undefined,
        (page) => pageOf(page, toolSpecOfWire).items,
      );
      const execute = toolCallExecute((slug, args, options) =>
        this.tools.execute(slug, {
          userId,
          arguments: args,
          callId: options?.callId,
          signal: options?.signal,
        }),
      );
      const wrapped = hasModifiers(modifiers)
        ? applyToolModifiers(specs, execute, modifiers)
        : { specs, execute };
      return this.provider.wrapTools(wrapped.specs, wrapped.execute) as CollectionOf<P>;
    },
    execute: async (slug: string, given: ToolExecuteRequest): Promise<ToolResult> => {
      const request = checkedRequest(given, 'mux.tools.execute()');
      checkUserId(request.userId);
      const refused = toolSlugRefusal(slug, 'tools.execute()');
      if (refused) return refused;
      checkSignal(request.signal, 'tools.execute()');
      const args = request.arguments ?? {};
      // a tool call: an abort, an unreachable server or a refusal is a failed result, as embedded
      return callOnServer(
        this.#env,
        {
          slug,
          arguments: args,
          userId: request.userId,
          sessionId: null,
          callId: request.callId,
          signal: request.signal,
        },
        () =>
          this.#api.post(
            '/tools/execute',
            {
              tool_slug: slug,
              user_id: request.userId,
              arguments: args,
              // an empty id sent is refused; dropped, the call would run with the default account
              ...(request.connectedAccountId !== undefined
                ? { connected_account_id: request.connectedAccountId }
                : {}),
              ...(request.callId ? { call_id: request.callId } : {}),
            },
            request.signal,
            toolResultOf,
          ),
      );
    },
  };

  readonly authConfigs = {
    create: async (toolkit: string, options: CreateAuthConfigOptions): Promise<AuthConfig> => {
      toolkitSlugOf(toolkit);
      const type = checkAuthConfigType(options);
      checkAuthConfigCreateFields(options, type);
      // every field as given (undefined ones are left out): the server checks them as embedded does
      const oauth = type === 'oauth2' ? (options as CreateAuthConfigOptions & { type: 'oauth2' }) : undefined;
      return this.#api.post(
        '/auth-configs',
        {
          toolkit,
          type,
          name: options.name,
          client_id: oauth?.clientId,
          client_secret: oauth?.clientSecret,
          scopes: oauth?.scopes,
        },
        undefined,
        authConfigOf,
      );
    },
    list: async (query?: {
      toolkit?: string;
      limit?: number;
      cursor?: string;
    }): Promise<{ items: AuthConfig[]; nextCursor: string | undefined }> =>
      this.#api.get('/auth-configs', checkedOptions(query, 'mux.authConfigs.list()'), (page) =>
        pageOf(page, authConfigOf),
      ),
    get: async (configId: string): Promise<AuthConfig> =>
      this.#api.get(`/auth-configs/${id(lookupId('authConfig', configId))}`, undefined, authConfigOf),
    update: async (configId: string, changes: UpdateAuthConfigOptions): Promise<AuthConfig> => {
      const given = givenAuthConfigChanges(changes);
      return this.#api.call('PATCH', `/auth-configs/${id(lookupId('authConfig', configId))}`, {
        body: {
          client_id: given.clientId,
          client_secret: given.clientSecret,
          scopes: given.scopes,
          name: given.name,
        },
        read: authConfigOf,
      });
    },
    delete: async (configId: string): Promise<void> => {
      await this.#api.call('DELETE', `/auth-configs/${id(lookupId('authConfig', configId))}`);
    },
  };

  readonly connectedAccounts = {
    link: async (
      userId: string,
      authConfigId: string,
      given?: { callbackUrl?: string; alias?: string },
    ): Promise<ConnectionRequest> => {
      const options = checkedOptions(given, 'mux.connectedAccounts.link()');
      checkUserId(userId);
      lookupId('authConfig', authConfigId);
      return this.#api.post(
        '/connected-accounts/link',
        {
          user_id: userId,
          auth_config_id: authConfigId,
          ...(options.callbackUrl !== undefined ? { callback_url: options.callbackUrl } : {}),
          ...(options.alias !== undefined ? { alias: options.alias } : {}),
        },
        undefined,
        (wire) => remoteConnectionRequest(this.#api, connectionRequestWireOf(wire)),
      );
    },
    create: async (
      userId: string,
      authConfigId: string,
      credentials: Record<string, string>,
      given?: { alias?: string },
    ): Promise<ConnectedAccount> => {
      const options = checkedOptions(given, 'mux.connectedAccounts.create()');
      checkUserId(userId);
      lookupId('authConfig', authConfigId);
      credentialsObject(credentials, 'mux.connectedAccounts.create()');
      return this.#api.post(
        '/connected-accounts',
        {
          user_id: userId,
          auth_config_id: authConfigId,
          credentials,
          ...(options.alias !== undefined ? { alias: options.alias } : {}),
        },
        undefined,
        connectedAccountOf,
      );
    },
    update: async (accountId: string, changes: { alias: string | null }): Promise<ConnectedAccount> => {
      const { alias } = aliasChangeOf(changes);
      return this.#api.call('PATCH', `/connected-accounts/${account(accountId)}`, {
        body: { alias },
        read: connectedAccountOf,
      });
    },
    list: async (
      given?: ListConnectedAccountsOptions,
    ): Promise<{ items: ConnectedAccount[]; nextCursor: string | undefined }> => {
      const query = checkedOptions(given, 'mux.connectedAccounts.list()');
      return this.#api.get(
        '/connected-accounts',
        {
          user_ids: query.userIds,
          toolkits: query.toolkits,
          statuses: query.statuses,
          auth_config_ids: query.authConfigIds,
          limit: query.limit,
          cursor: query.cursor,
        },
        (page) => pageOf(page, connectedAccountOf),
      );
    },
    get: async (accountId: string): Promise<ConnectedAccount> =>
      this.#api.get(`/connected-accounts/${account(accountId)}`, undefined, connectedAccountOf),
    delete: async (accountId: string): Promise<void> => {
      await this.#api.call('DELETE', `/connected-accounts/${account(accountId)}`);
    },
    refresh: async (accountId: string, given?: { signal?: AbortSignal }): Promise<ConnectedAccount> => {
      const options = checkedOptions(given, 'mux.connectedAccounts.refresh()');
      checkSignal(options.signal, 'connectedAccounts.refresh()');
      return this.#api.post(
        `/connected-accounts/${account(accountId)}/refresh`,
        undefined,
        options.signal,
        connectedAccountOf,
      );
    },
    reconnect: async (accountId: string, given?: { callbackUrl?: string }): Promise<ConnectionRequest> => {
      const options = checkedOptions(given, 'mux.connectedAccounts.reconnect()');
      return this.#api.post(
        `/connected-accounts/${account(accountId)}/reconnect`,
        options.callbackUrl !== undefined ? { callback_url: options.callbackUrl } : {},
        undefined,
        (wire) => remoteConnectionRequest(this.#api, connectionRequestWireOf(wire)),
      );
    },
    disable: async (accountId: string): Promise<ConnectedAccount> =>
      this.#api.post(
        `/connected-accounts/${account(accountId)}/disable`,
        undefined,
        undefined,
        connectedAccountOf,
      ),
    enable: async (accountId: string): Promise<ConnectedAccount> =>
      this.#api.post(
        `/connected-accounts/${account(accountId)}/enable`,
        undefined,
        undefined,
        connectedAccountOf,
      ),
  };

  readonly connectionRequests = {
    get: async (requestId: string): Promise<ConnectionRequestInfo> =>
      this.#api.get(
        `/connection-requests/${id(lookupId('connectionRequest', requestId))}`,
        undefined,
        connectionRequestInfoOf,
      ),
    complete: async (requestId: string, credentials: Record<string, string>): Promise<ConnectedAccount> => {
      const path = `/connection-requests/${id(lookupId('connectionRequest', requestId))}/complete`;
      credentialsObject(credentials, 'mux.connectionRequests.complete()');
      return this.#api.post(path, { credentials }, undefined, connectedAccountOf);
    },
  };

  /**
   * Lets the custom-tool calls running here and the requests to the server in flight finish (up to
   * `timeoutMs`, then they are stopped: a tool call answers TOOL_ABORTED, another request rejects
   * with TOOLMUX_CLOSED), then sends the log entries of calls that ran here, waiting up to `timeoutMs`
   * more for the server to take them (entries not sent by then are reported to the logger as lost).
   * They are also sent before the process exits normally; a killed process loses what was not sent
   * yet. The ToolMux stays usable.
   */
  async close(options?: { timeoutMs?: number }): Promise<void> {
    const timeoutMs = closeTimeoutOf(checkedOptions(options, 'mux.close()'));
    const [calls, requests] = await Promise.all([
      this.#env.calls?.drain(timeoutMs),
      // uploads are waited for below, with their own time
      this.#api.stopInFlight(timeoutMs, (request) => request.signal !== this.#uploadsStop.signal),
    ]);
    reportStopped(this.#env.logger, calls, timeoutMs);
    if (requests > 0) {
      this.#env.logger.warn(
        `toolmux: close() stopped ${requests} request${requests === 1 ? '' : 's'} to the server at ${this.baseUrl} still waiting after ${timeoutMs} ms: a tool call answers TOOL_ABORTED (the server stops it), another request rejects with TOOLMUX_CLOSED. Give close({ timeoutMs }) more time if they should finish.`,
      );
    }
    const flushed = this.#logs.flush();
    const late = !(await settlesWithin(flushed, timeoutMs));
    if (!late) return;
    const stop = this.#uploadsStop;
    stop.abort(
      new ToolMuxError({
        code: 'TOOLMUX_CLOSED',
        message: `the toolmux server at ${this.baseUrl} did not take them within close({ timeoutMs: ${timeoutMs} })`,
      }),
    );
    // the writer's retries meet the same stopped signal: the flush ends once each entry is reported
    await flushed;
    if (this.#uploadsStop === stop) this.#uploadsStop = new AbortController();
  }
}
