import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { apiRef, type ErrorAudience } from './api-refs.js';
import { accountCacheTtlOf } from './auth/account-cache.js';
import { checkManagedAuth } from './auth/auth-configs.js';
import { AuthService } from './auth/auth-service.js';
import { CallbackUrlPolicy } from './auth/callback-urls.js';
import { connectPageUrlOf } from './auth/connect-binding.js';
import type { ConnectionRequest } from './auth/connection-request.js';
import { connectionStatePruner } from './auth/connection-state-pruning.js';
import { endConnectionWaits, endSessionConnectionWaits } from './auth/connection-waiter.js';
import { oauthRequestTimeoutOf } from './auth/oauth.js';
import { proxyResponseLimitOf } from './auth/proxy.js';
import type {
  AuthConfig,
  ConnectedAccount,
  ConnectionRequestInfo,
  CreateAuthConfigOptions,
  UpdateAuthConfigOptions,
} from './auth/types.js';
import { Catalog, toolkitMatchesSearch } from './catalog/catalog.js';
import { declaredToolkitsSliced, declaredToolsSliced, isDeclaredTool } from './catalog/declarations.js';
import type { Tool, Toolkit } from './catalog/types.js';
import {
  type NormalizedSessionConfig,
  normalizeSessionConfig,
  parseSessionConfig,
  type SessionConfig,
} from './config/session-config.js';
import { quotedMessage, ToolMuxError } from './errors.js';
import {
  CallsInFlight,
  closeTimeoutOf,
  type DrainTime,
  reportStopped,
  STOPPED_GRACE_MS,
} from './execution/calls-in-flight.js';
import { type ExecutionEnvironment, executeTool, rejectToolCall } from './execution/execute.js';
import { logPruner, logRetentionDaysOf } from './execution/log-retention.js';
import { ExecutionLogWriter } from './execution/log-writer.js';
import type { ToolResult } from './execution/result.js';
import { applicationReader, readerFor } from './meta-tools/hints.js';
import { ALL_META_TOOL_SLUGS } from './meta-tools/meta-tools.js';
import type { CollectionOf, PlainProvider, Provider } from './provider.js';
import {
  catalogToolSpecs,
  EmbeddedSession,
  noteSessionChanged,
  type SessionOf,
  type SessionRuntime,
} from './session.js';
import { isStore, openStore, parseStoreSpec } from './store/open-store.js';
import type { Pruner } from './store/pruner.js';
import type { ExecutionLogRecord, SessionRecord, Store } from './store/types.js';
import { toolCallExecute } from './tool-calls.js';
import { applyToolModifiers, hasModifiers, type ToolModifiers } from './tool-modifiers.js';
import type {
  ListConnectedAccountsOptions,
  ListLogsOptions,
  SessionSummary,
  ToolExecuteRequest,
  ToolkitInfo,
  ToolMuxOptions,
} from './toolmux-types.js';
import { checkSignal, settlesWithin, untilAborted } from './util/abort.js';
import {
  aliasChangeOf,
  checkSessionId,
  filterIdOf,
  lookupId,
  sessionIdOf,
  sessionNotFound,
  toolkitSlugOf,
  toolSlugRefusal,
} from './util/arguments.js';
import { didYouMean } from './util/closest-names.js';
import { checkOptionUrl } from './util/config-url.js';
import { newId } from './util/ids.js';
import { consoleLogger, type Logger } from './util/logger.js';
import { workerThreadsPermitted } from './util/module-thread.js';
import { checkOptionKinds } from './util/option-kinds.js';
import { checkedOptions, checkedRequest, credentialsObject } from './util/options-object.js';
import { decodeOffsetCursor, encodeOffsetCursor, validateLimit } from './util/pagination.js';
import {
  configuredSecretKey,
  deriveSessionToken,
  hashToken,
  hasSessionTokenForm,
  parseSecretKey,
  resolveSecretKey,
  sessionTokenMatches,
} from './util/secret-key.js';
import { WorkSlice } from './util/slices.js';
import { checkCallId, checkId, checkUserId, MAX_ID_LENGTH, textProblem } from './util/stored-text.js';
import {
  type RotationFailure,
  type RotationResult,
  rotateSecrets,
  SEALED_SECRET_KINDS,
} from './vault/rotate.js';
import { Vault } from './vault/vault.js';
import { checkWorkbenchEnv } from './workbench/env.js';
import { workbenchThread } from './workbench/main-thread.js';
import { closeWorkbench, endSessionWorkbench } from './workbench/workbench.js';

/** What an embedded and a remote ToolMux both offer (docs/sessions.md, docs/direct-access.md). */
export type ToolMuxApi<P extends Provider<unknown> = PlainProvider> = Pick<
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

/** What {@link EmbeddedToolMux.checkSessionToken} finds of a session token. */
export type SessionTokenCheck =
  | { status: 'valid' /** the stored token hash, which changes with every rotation */; tokenHash: string }
  | { status: 'unknown' }
  | { status: 'invalid' };

interface Engine {
  store: Store;
  /**
   * Delete old execution log entries (`logRetentionDays`) and stale connection state (see
   * connection-state-pruning.ts).
   */
  pruners: Pruner[];
  /** The secret key: it derives the session tokens handed out. */
  key: Buffer;
  /** The keys a presented session token may be derived under: the secret key, then the previous ones. */
  tokenKeys: Buffer[];
  vault: Vault;
  auth: AuthService;
  env: ExecutionEnvironment;
}

/**
 * Refuses to create a key file for an SQLite database that holds credentials (encrypted records of
 * any kind): they were encrypted under the key of a file that is gone, and a new key would leave them
 * unreadable, change every MCP token, and encrypt new credentials under a second key. SECRET_KEY_MISSING
 * naming the file and the fixes; nothing is created.
 */
async function refuseLostKeyFile(store: Store, databasePath: string, keyFile: string): Promise<void> {
  for (const kind of SEALED_SECRET_KINDS) {
    const [record] = await store.listSealedSecrets({ kind, notKeyId: '', limit: 1 });
    if (!record) continue;
    throw new ToolMuxError({
      code: 'SECRET_KEY_MISSING',
      message:
        `The SQLite database ${resolve(databasePath)} holds credentials encrypted with secret key ${record.secret.keyId}, but its key file ${resolve(keyFile)} does not exist (the database was moved or restored without it?). ` +
        'A new key would leave those credentials unreadable, so none was created. Put the key file back beside the database, or set TOOLMUX_SECRET_KEY (the secretKey option) to that key; ' +
        'to start over without the stored credentials, use a new database.',
      details: { keyId: record.secret.keyId, keyFile: resolve(keyFile) },
    });
  }
}

function previousKeys(option: string[] | undefined): Buffer[] {
  if (option) return option.map((key, index) => parseSecretKey(key, `previousSecretKeys[${index}]`));
  const fromEnv = process.env.TOOLMUX_PREVIOUS_SECRET_KEYS;
  if (!fromEnv) return [];
  return fromEnv
    .split(',')
    .map((key) => key.trim())
    .filter(Boolean)
    .map((key, index) => parseSecretKey(key, `TOOLMUX_PREVIOUS_SECRET_KEYS (entry ${index + 1})`));
}

/**
 * The store spec and the keys, read as the first call reads them, so that a malformed one fails in
 * `new ToolMux()` where it was written (STORE_CONFIG_INVALID, SECRET_KEY_INVALID), not at the first
 * call, which is often far from the configuration. Nothing is opened or created here: a key file
 * beside an SQLite database is still made at the first call.
 */
function checkStoreAndKeys(options: {
  store?: string | Store;
  secretKey?: string;
  previousSecretKeys?: string[];
}): void {
  if (options.store !== undefined && !isStore(options.store)) parseStoreSpec(options.store);
  configuredSecretKey(options.secretKey);
  previousKeys(options.previousSecretKeys);
}

/** A tool whose code runs in a remote client cannot get credentials there: it must need no account. */
async function checkClientToolsNeedNoAccount(
  catalog: Catalog,
  tools: readonly Tool[],
  slice: WorkSlice,
): Promise<void> {
  for (const tool of tools) {
    await slice.breathe();
    const toolkit = catalog.tools.get(tool.slug)?.toolkit;
    if (isDeclaredTool(tool) && toolkit && !catalog.getToolkit(toolkit).noAuth) {
      throw new ToolMuxError({
        code: 'CONFIG_INVALID',
        message: `Custom tool ${tool.slug} joins toolkit "${toolkit}", which needs a connected account. In remote mode custom tools run in your process and credentials never leave the server: give the tool a slug outside "${toolkit}" (it then needs no account) and call ${apiRef('session.proxyExecute')} from it, or run toolmux embedded.`,
      });
    }
  }
}

/** The slugs of custom tools or toolkits, for lookups (a list searched per slug was quadratic). */
function slugsOf(items: readonly { slug: string }[]): Set<string> {
  return new Set(items.map((item) => item?.slug));
}

function toolkitInfo(toolkit: Toolkit): ToolkitInfo {
  return {
    slug: toolkit.slug,
    name: toolkit.name,
    description: toolkit.description,
    noAuth: toolkit.noAuth,
    authSchemes: toolkit.auth.map((scheme) => scheme.type),
    categories: [...toolkit.categories],
    keywords: [...toolkit.keywords],
    toolCount: toolkit.tools.length,
    tools: toolkit.tools.map((tool) => ({ slug: tool.slug, name: tool.name, description: tool.description })),
  };
}

/** A listener of every answered tool call (`onToolCall` of `@toolmux/core/internal`). */
export type ToolCallListener = (record: Readonly<ExecutionLogRecord>) => void;

/**
 * The execution log writer that also tells listeners (metrics) about each call it is given, once,
 * whichever way it is written: `write`, or `writeAll` (the calls of a workbench cell, held and
 * written together) and `writeTogether`, which all hand their entries to `given`.
 */
class ObservedLogWriter extends ExecutionLogWriter {
  readonly #listeners: ReadonlySet<ToolCallListener>;
  readonly #observerLogger: Logger;

  constructor(store: Store, logger: Logger, listeners: ReadonlySet<ToolCallListener>) {
    super(store, logger, { batchSize: store.logBatchSize });
    this.#listeners = listeners;
    this.#observerLogger = logger;
  }

  protected override given(record: ExecutionLogRecord): void {
    for (const listener of this.#listeners) {
      try {
        listener(record);
      } catch (error) {
        this.#observerLogger.error(`toolmux: a tool call listener failed: ${quotedMessage(error)}`);
      }
    }
  }
}

/**
 * The embedded engine behind `new ToolMux()` without an `apiKey`: the catalog, the store, and sessions
 * whose calls run in this process.
 */
/** Said once per process (see {@link NO_WORKER_THREADS_WARNING}). */
let warnedNoWorkerThreads = false;

/**
 * What an operator is told, once, when a ToolMux is made in a process that may not start worker
 * threads: what runs elsewhere, what is refused, and the fix.
 */
const NO_WORKER_THREADS_WARNING =
  "toolmux: this process may not start worker threads (Node.js's --permission without --allow-worker): " +
  'tool schemas are checked on the main thread (a large call holds the event loop while it is checked), ' +
  'values that must match a pattern RE2 cannot run, and values of schemas whose check can grow faster than the value, are refused, ' +
  'and SQLite checkpoints run on the connection. Start Node.js with --allow-worker.';

export class EmbeddedToolMux<P extends Provider<unknown> = PlainProvider> {
  readonly provider: P;
  readonly catalog: Catalog;
  readonly baseUrl: string;
  /** Where connections without a callbackUrl send the user back to. */
  readonly defaultCallbackUrl: string;
  /** The OAuth `redirect_uri`, where `auth.handleCallback` must be mounted. */
  readonly oauthRedirectUri: string;
  readonly #options: ToolMuxOptions<P>;
  readonly #callbackUrls: CallbackUrlPolicy;
  readonly #logger: Logger;
  #hostedConnectPage: boolean;
  readonly #proxyMaxResponseBytes: number;
  readonly #oauthRequestTimeoutMs: number;
  readonly #accountCacheTtlMs: number;
  readonly #logRetentionDays: number | undefined;
  #engine: Promise<Engine> | undefined;
  readonly #callListeners = new Set<ToolCallListener>();
  readonly #updateListeners = new Set<(sessionId: string) => void>();

  constructor(options: ToolMuxOptions<P>, provider: P) {
    checkOptionKinds(options);
    this.#options = options;
    this.provider = provider;
    this.#logger = options.logger ?? consoleLogger;
    this.catalog = new Catalog(options.toolkits ?? [], { embed: options.embed });
    this.baseUrl = checkOptionUrl(options.baseUrl ?? 'http://localhost:8787', 'baseUrl', {
      base: true,
    }).replace(/\/+$/, '');
    this.defaultCallbackUrl =
      options.defaultCallbackUrl === undefined
        ? `${this.baseUrl}/connect/done`
        : checkOptionUrl(options.defaultCallbackUrl, 'defaultCallbackUrl', { appScheme: true });
    // a mistyped TOOLMUX_WORKBENCH_* variable fails here, not in every workbench call (or not at all)
    workbenchThread();
    checkWorkbenchEnv();
    if (!workerThreadsPermitted() && !warnedNoWorkerThreads) {
      warnedNoWorkerThreads = true;
      this.#logger.warn(NO_WORKER_THREADS_WARNING);
    }
    this.#callbackUrls = new CallbackUrlPolicy({
      allowed: options.allowedCallbackUrls,
      baseUrl: this.baseUrl,
      production: process.env.NODE_ENV === 'production',
      defaultCallbackUrl: this.defaultCallbackUrl,
    });
    this.oauthRedirectUri =
      options.oauthRedirectUri === undefined
        ? `${this.baseUrl}/auth/callback`
        : checkOptionUrl(options.oauthRedirectUri, 'oauthRedirectUri', { fragment: false });
    this.#hostedConnectPage = options.hostedConnectPage ?? false;
    this.#proxyMaxResponseBytes = proxyResponseLimitOf(options.proxyMaxResponseBytes);
    this.#oauthRequestTimeoutMs = oauthRequestTimeoutOf(options.oauthRequestTimeoutMs);
    this.#accountCacheTtlMs = accountCacheTtlOf(
      options.accountCacheTtlMs,
      "how long a call's connected account is reused by the next calls, and a session object trusts that its session still exists",
    );
    this.#logRetentionDays = logRetentionDaysOf(options.logRetentionDays);
    checkManagedAuth(options.managedAuth);
    checkStoreAndKeys(options);
  }

  /**
   * @internal `createServer()` of @toolmux/server calls this for the ToolMux it serves: from now on
   * OAuth links open its hosted connect page (see `ToolMuxOptions.hostedConnectPage`).
   */
  useHostedConnectPage(): void {
    this.#hostedConnectPage = true;
  }

  /** @internal Calls `listener` with the log entry of every tool call from now on; returns the unsubscribe. */
  onToolCall(listener: ToolCallListener): () => void {
    this.#callListeners.add(listener);
    return () => this.#callListeners.delete(listener);
  }

  /**
   * @internal Calls `listener` with the id of every session whose config an `update()` of this
   * ToolMux stores from now on, once it is stored; returns the unsubscribe.
   */
  onSessionUpdated(listener: (sessionId: string) => void): () => void {
    this.#updateListeners.add(listener);
    return () => this.#updateListeners.delete(listener);
  }

  /** @internal How many tool-call and session-update listeners are subscribed now. */
  listenerCounts(): { toolCalls: number; sessionUpdates: number } {
    return { toolCalls: this.#callListeners.size, sessionUpdates: this.#updateListeners.size };
  }

  /**
   * @internal Opens (and migrates) the store and loads the secret key now instead of on first use,
   * so a server can refuse to start on a bad store or key; resolves with the store.
   */
  async openStore(): Promise<Store> {
    return (await this.#ready()).store;
  }

  /** @internal the provider's authorization URL of an open OAuth request, for the hosted connect page */
  async connectionRequestAuthorizationUrl(id: string): Promise<string> {
    return (await this.#ready()).auth.connectionRequestAuthorizationUrl(id);
  }

  /** @internal the hosted connect page's "Continue": the provider's URL and the binding cookie */
  async continueConnectionRequest(
    id: string,
    cookies: string | null,
  ): Promise<{ authorizationUrl: string; setCookie: string }> {
    return (await this.#ready()).auth.connectionRequests.continueAtProvider(id, cookies);
  }

  /** @internal the `Set-Cookie` of the hosted connect page of a request */
  async connectPageCookie(id: string, expiresAt: Date): Promise<string> {
    return (await this.#ready()).auth.connectionRequests.connectPageCookie(id, expiresAt);
  }

  /**
   * @internal The MCP endpoint's check of a session token, made before anything else of the session
   * is read, built or cached: one primary-key read of the session's token version and hash (none for
   * a token or an id that cannot be one), then the token derived from each configured key (the secret
   * key and `previousSecretKeys`, so that a token another instance handed out during a rolling key
   * change still opens the endpoint here) compared in constant time. `valid` with the stored token hash; `unknown` for the token a session that does not exist
   * (any more) had first, so that its holder, and no one else, hears that it is gone; `invalid` for
   * every other token, whether or not the session exists.
   */
  async checkSessionToken(sessionId: string, token: string): Promise<SessionTokenCheck> {
    if (
      !hasSessionTokenForm(token) ||
      typeof sessionId !== 'string' ||
      textProblem(sessionId, { maxLength: MAX_ID_LENGTH, allowEmpty: false }) !== undefined
    ) {
      return { status: 'invalid' };
    }
    const { store, tokenKeys } = await this.#ready();
    const stored = store.getSessionToken
      ? await store.getSessionToken(sessionId)
      : await store.getSession(sessionId);
    if (!sessionTokenMatches(tokenKeys, sessionId, stored?.tokenVersion ?? 0, token))
      return { status: 'invalid' };
    return stored ? { status: 'valid', tokenHash: stored.tokenHash } : { status: 'unknown' };
  }

  /** `close()` was called: the store is not opened again. */
  #closed = false;

  /**
   * Opens the store and loads the key on first use; later calls share the same promise. After
   * `close()`, TOOLMUX_CLOSED: a closed ToolMux does not open its store again.
   */
  #ready(): Promise<Engine> {
    if (this.#closed) {
      return Promise.reject(
        new ToolMuxError({
          code: 'TOOLMUX_CLOSED',
          message:
            'This ToolMux was closed (mux.close()) and does not open its store again. Create a new ToolMux to go on: sessions, accounts and logs are kept in the store, and use(sessionId) on the new one takes a session up.',
        }),
      );
    }
    this.#engine ??= (async () => {
      const spec = this.#options.store;
      const parsed = typeof spec === 'object' ? undefined : parseStoreSpec(spec);
      const keyFile =
        parsed?.dialect === 'sqlite' && parsed.path !== ':memory:'
          ? join(dirname(parsed.path), 'secret.key')
          : undefined;
      // A key file about to be created beside a database that already exists: opened first, to see
      // whether it holds credentials another key encrypted (the database restored without its key file)
      const opened =
        keyFile !== undefined &&
        parsed?.dialect === 'sqlite' &&
        configuredSecretKey(this.#options.secretKey) === undefined &&
        !existsSync(keyFile) &&
        existsSync(parsed.path)
          ? await openStore(spec)
          : undefined;
      let key: Buffer;
      let previous: Buffer[];
      try {
        if (opened && keyFile && parsed?.dialect === 'sqlite')
          await refuseLostKeyFile(opened, parsed.path, keyFile);
        key = resolveSecretKey({
          secretKey: this.#options.secretKey,
          keyFile,
          ephemeral: parsed?.dialect === 'sqlite' && parsed.path === ':memory:',
          logger: this.#logger,
        });
        previous = previousKeys(this.#options.previousSecretKeys);
      } catch (error) {
        await opened?.close();
        throw error;
      }
      const vault = new Vault(key, previous);
      const tokenKeys = [key, ...previous.filter((other) => !other.equals(key))];
      const store = opened ?? (await openStore(spec));
      const pruners: Pruner[] = [];
      if (this.#logRetentionDays !== undefined) {
        try {
          pruners.push(logPruner(store, this.#logRetentionDays, this.#logger));
        } catch (error) {
          // a store passed in is the application's to close
          if (store !== spec) await store.close();
          throw error;
        }
      }
      const connectionState = connectionStatePruner(store, this.#logger);
      if (connectionState) pruners.push(connectionState);
      for (const pruner of pruners) pruner.start();
      const fetch = this.#options.fetch ?? globalThis.fetch;
      const auth = new AuthService({
        store,
        vault,
        catalog: this.catalog,
        logger: this.#logger,
        fetch,
        oauthRequestTimeoutMs: this.#oauthRequestTimeoutMs,
        managedAuth: this.#options.managedAuth ?? {},
        callbackUrls: this.#callbackUrls,
        defaultCallbackUrl: this.defaultCallbackUrl,
        redirectUri: this.oauthRedirectUri,
        baseUrl: this.baseUrl,
        connectPageUrl: (requestId) => connectPageUrlOf(this.baseUrl, requestId),
        hostedConnectPage: () => this.#hostedConnectPage,
        accountCacheTtlMs: this.#accountCacheTtlMs,
      });
      const env: ExecutionEnvironment = {
        logs: new ObservedLogWriter(store, this.#logger, this.#callListeners),
        logger: this.#logger,
        fetch,
        resolveAccount: (request) => auth.resolveAccount(request),
        renewCredentials: (request) => auth.renewCredentials(request),
        calls: new CallsInFlight(),
      };
      return { store, pruners, key, tokenKeys, vault, auth, env };
    })();
    this.#engine.catch(() => {
      this.#engine = undefined;
    });
    return this.#engine;
  }

  #runtime(engine: Engine, catalog: Catalog): SessionRuntime {
    return {
      env: engine.env,
      store: engine.store,
      auth: engine.auth,
      catalog,
      provider: this.provider,
      mcpUrl: (sessionId) => `${this.baseUrl}/mcp/${sessionId}`,
      sessionToken: (sessionId, version) => deriveSessionToken(engine.key, sessionId, version),
      presenceTtlMs: this.#accountCacheTtlMs,
      proxyMaxResponseBytes: this.#proxyMaxResponseBytes,
      sessionUpdated: (sessionId) => {
        for (const listener of this.#updateListeners) {
          try {
            listener(sessionId);
          } catch (error) {
            this.#logger.error(`toolmux: a session update listener failed: ${quotedMessage(error)}`);
          }
        }
      },
    };
  }

  /**
   * Creates a session for one of your users. The config is validated against the catalog; every
   * mistake is a ToolMuxError naming the bad value.
   */
  async create(userId: string, config: SessionConfig = {}): Promise<SessionOf<P>> {
    checkUserId(userId);
    const parsed = parseSessionConfig(config);
    const customTools = parsed.experimental?.customTools ?? [];
    const customToolkits = parsed.experimental?.customToolkits ?? [];
    // thousands of custom tools are a long stretch of work: it lets other requests run between slices
    const slice = new WorkSlice();
    const catalog = await this.catalog.extendSliced(customToolkits, customTools, slice);
    const normalized = normalizeSessionConfig(parsed, catalog);
    await checkClientToolsNeedNoAccount(catalog, customTools, slice);
    if (userId === 'default') {
      this.#logger.warn(
        'toolmux: a session for user "default" shares connected accounts with every caller using that id; pass your own user id.',
      );
    }
    const engine = await this.#ready();
    engine.auth.checkConnectionCallbackUrl(normalized.connectionCallbackUrl);
    await engine.auth.checkSelection(userId, normalized);
    const id = newId('ses');
    const now = new Date();
    const record: SessionRecord = {
      id,
      userId,
      config: normalized as unknown as Record<string, unknown>,
      configVersion: 1,
      tokenHash: hashToken(deriveSessionToken(engine.key, id)),
      tokenVersion: 0,
      metadata: normalized.metadata,
      createdAt: now,
      updatedAt: now,
    };
    await engine.store.insertSession(record);
    return new EmbeddedSession(record, this.#runtime(engine, catalog), {
      tools: customTools,
      toolkits: customToolkits,
    });
  }

  /**
   * Resumes a stored session (in a later turn, another process, another instance). Custom tools the
   * session was created with must be given again: their code is not stored.
   */
  async use(
    sessionId: string,
    given?: { customTools?: Tool[]; customToolkits?: Toolkit[] },
  ): Promise<SessionOf<P>> {
    const options = checkedOptions(given, 'mux.use()');
    const engine = await this.#ready();
    const record = await engine.store.getSession(sessionIdOf(sessionId, 'use'));
    if (!record) throw sessionNotFound(sessionId, 'use');
    const config = record.config as Partial<NormalizedSessionConfig>;
    // Tools of a remote-mode client are rebuilt from their stored declarations (their code is there),
    // a slice at a time: thousands of them are a long stretch of checks
    const slice = new WorkSlice();
    const givenTools = slugsOf(options.customTools ?? []);
    const customTools = [
      ...(options.customTools ?? []),
      ...(await declaredToolsSliced(
        (config.clientTools ?? []).filter((declaration) => !givenTools.has(declaration.slug)),
        slice,
      )),
    ];
    const givenToolkits = slugsOf(options.customToolkits ?? []);
    const customToolkits = [
      ...(options.customToolkits ?? []),
      ...(await declaredToolkitsSliced(
        (config.clientToolkits ?? []).filter((declaration) => !givenToolkits.has(declaration.slug)),
        slice,
      )),
    ];
    const toolSlugs = slugsOf(customTools);
    const toolkitSlugs = slugsOf(customToolkits);
    const missing = [
      ...(config.customTools ?? []).filter((slug) => !toolSlugs.has(slug)),
      ...(config.customToolkits ?? []).filter((slug) => !toolkitSlugs.has(slug)),
    ];
    if (missing.length > 0) {
      throw new ToolMuxError({
        code: 'SESSION_CUSTOM_TOOLS_MISSING',
        // over REST and MCP the server resumes it: it has no custom tools to pass
        message: `Session ${sessionId} was created with custom tools or toolkits ${missing.join(', ')}; ${apiRef('use.customTools')}.`,
      });
    }
    const catalog = await this.catalog.extendSliced(customToolkits, customTools, slice);
    return new EmbeddedSession(record, this.#runtime(engine, catalog), {
      tools: customTools,
      toolkits: customToolkits,
    });
  }

  /**
   * A deleted session, to take the log entries a remote client uploads for it after the deletion (a
   * custom-tool call that was running, or that started before its session object learnt of the
   * deletion), as an embedded session's calls are logged: undefined for an id that names a session,
   * or that names none and has no entry in the log (one that never existed, or left no trace: the
   * store keeps nothing else of a deleted session). Its user is the one its entries name.
   *
   * @internal the server's `POST /sessions/:id/logs`
   */
  async deletedSession(sessionId: string): Promise<EmbeddedSession<unknown> | undefined> {
    let id: string;
    try {
      id = sessionIdOf(sessionId, 'use');
    } catch {
      return undefined;
    }
    const engine = await this.#ready();
    if ((await engine.store.getSession(id)) !== undefined) return undefined;
    const trace = (await engine.store.listLogs({ sessionId: id, limit: 1 })).items[0];
    if (trace === undefined || trace.sessionId !== id) return undefined;
    const now = new Date();
    const record: SessionRecord = {
      id,
      userId: trace.userId,
      config: normalizeSessionConfig({}, this.catalog) as unknown as Record<string, unknown>,
      configVersion: 0,
      tokenHash: '',
      tokenVersion: 0,
      metadata: {},
      createdAt: now,
      updatedAt: now,
    };
    return new EmbeddedSession(
      record,
      this.#runtime(engine, this.catalog),
      { tools: [], toolkits: [] },
      { deleted: true },
    );
  }

  readonly sessions = {
    /**
     * Deletes a session: `use(id)` is `SESSION_NOT_FOUND` from then on and its MCP token is refused on
     * every server instance sharing the store; its execution log stays. `SESSION_NOT_FOUND` for an
     * unknown id.
     */
    delete: async (sessionId: string): Promise<void> => {
      const id = sessionIdOf(sessionId, 'delete');
      const engine = await this.#ready();
      if (!(await engine.store.deleteSession(id))) throw sessionNotFound(sessionId, 'delete');
      noteSessionChanged(engine.store);
      endSessionConnectionWaits(engine.store, sessionId);
      endSessionWorkbench(engine.store, sessionId);
    },
    /**
     * Sessions, newest first, optionally of one user: `limit` per page (1 to 1000, 20 by default);
     * `cursor` the `nextCursor` of the page before, for the sessions after it. `nextCursor` is the
     * page's last session id, `undefined` when no session came after the page as it was read (the
     * list is complete). A session created after the first page is read is on no later page.
     */
    list: async (given?: {
      userId?: string;
      limit?: number;
      cursor?: string;
    }): Promise<{
      items: SessionSummary[];
      nextCursor: string | undefined;
    }> => {
      const query = checkedOptions(given, 'mux.sessions.list()');
      if (query.userId !== undefined) checkUserId(query.userId);
      const engine = await this.#ready();
      const page = await engine.store.listSessions({
        userId: query.userId,
        limit: query.limit ?? 20,
        cursor: query.cursor,
      });
      return {
        items: page.items.map(sessionSummaryOf),
        nextCursor: page.nextCursor,
      };
    },
  };

  readonly logs = {
    /**
     * The project's execution log, newest first: every session's calls (a deleted session's
     * included) and calls without a session, filtered by session, user or tool.
     */
    list: async (
      given?: ListLogsOptions,
    ): Promise<{ items: ExecutionLogRecord[]; nextCursor: string | undefined }> => {
      const query = checkedOptions(given, 'mux.logs.list()');
      if (query.sessionId !== undefined) filterIdOf(checkSessionId(query.sessionId), 'sessionId', 'ses_');
      if (query.userId !== undefined) checkUserId(query.userId);
      if (query.toolSlug !== undefined) checkId(query.toolSlug, 'toolSlug');
      if (query.parentId !== undefined) filterIdOf(checkId(query.parentId, 'parentId'), 'parentId', 'log_');
      const engine = await this.#ready();
      // A call's children are entries of its session: by parent alone, the log is read within that
      // session (its parent index) instead of the whole table. A parent not stored yet (a remote
      // client's call whose entry is still on its way) leaves the query as it was asked.
      let sessionId = query.sessionId;
      if (sessionId === undefined && query.parentId !== undefined && engine.store.getLog) {
        sessionId = (await engine.store.getLog(query.parentId))?.sessionId ?? undefined;
      }
      // the engine's log writer is durable: every answered call's entry is stored already
      return engine.store.listLogs({
        sessionId,
        userId: query.userId,
        toolSlug: query.toolSlug,
        parentId: query.parentId,
        limit: query.limit ?? 50,
        cursor: query.cursor,
      });
    },
  };

  readonly toolkits = {
    /** Toolkits of the catalog, by slug, optionally matching a search text. */
    list: async (given?: {
      search?: string;
      limit?: number;
      cursor?: string;
    }): Promise<{
      items: ToolkitInfo[];
      nextCursor: string | undefined;
      total: number;
    }> => {
      const query = checkedOptions(given, 'mux.toolkits.list()');
      const limit = validateLimit(query.limit ?? 50, 500);
      const offset = decodeOffsetCursor(query.cursor);
      const needle = query.search?.trim().toLowerCase();
      const all = [...this.catalog.toolkits.values()]
        .filter((toolkit) => !needle || toolkitMatchesSearch(toolkit, needle))
        .sort((a, b) => a.slug.localeCompare(b.slug));
      return {
        items: all.slice(offset, offset + limit).map(toolkitInfo),
        nextCursor: offset + limit < all.length ? encodeOffsetCursor(offset + limit) : undefined,
        total: all.length,
      };
    },
    /** One toolkit with its tools. */
    get: async (slug: string): Promise<ToolkitInfo> =>
      toolkitInfo(this.catalog.getToolkit(toolkitSlugOf(slug))),
  };

  readonly tools = {
    /** Provider-wrapped tools for a user, without a session or meta-tools. */
    get: async (
      userId: string,
      filter: Pick<SessionConfig, 'toolkits' | 'tools' | 'tags'>,
      given?: ToolModifiers,
    ): Promise<CollectionOf<P>> => {
      const modifiers = given === undefined ? undefined : checkedOptions(given, 'mux.tools.get()');
      checkUserId(userId);
      const specs = catalogToolSpecs(this.catalog, filter);
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
    /** Runs one tool for a user, without a session. */
    execute: (slug: string, given: ToolExecuteRequest): Promise<ToolResult> =>
      this.executeToolFor('sdk', slug, given),
  };

  /**
   * `tools.execute` whose failures name the application's operations and fields in the words of
   * `audience`: the REST API's for an HTTP client of the server (`POST /api/v1/connected-accounts/link`
   * and `connected_account_id` where the SDK reads `connectedAccounts.link(…)` and `connectedAccountId`).
   *
   * @internal the server's `POST /api/v1/tools/execute` (`executeToolFor` of `@toolmux/core/internal`)
   */
  async executeToolFor(
    audience: ErrorAudience,
    slug: string,
    given: ToolExecuteRequest,
  ): Promise<ToolResult> {
    const request = checkedRequest(given, 'mux.tools.execute()');
    checkUserId(request.userId);
    const refused = toolSlugRefusal(slug, 'tools.execute()');
    if (refused) return refused;
    checkCallId(request.callId);
    checkSignal(request.signal, 'tools.execute()');
    if (request.connectedAccountId !== undefined) checkId(request.connectedAccountId, 'connectedAccountId');
    const engine = await this.#ready();
    const tool = this.catalog.tools.get(slug);
    if (!tool) {
      return rejectToolCall(
        engine.env,
        {
          slug,
          arguments: request.arguments,
          userId: request.userId,
          sessionId: null,
          callId: request.callId,
        },
        new ToolMuxError({ code: 'TOOL_NOT_FOUND', message: catalogToolNotFound(slug, this.catalog) }),
        undefined,
        audience,
      );
    }
    return executeTool(engine.env, {
      tool,
      toolkit: this.catalog.getToolkit(tool.toolkit),
      arguments: request.arguments ?? {},
      userId: request.userId,
      sessionId: null,
      callId: request.callId,
      signal: request.signal,
      connectedAccountId: request.connectedAccountId,
      reader: readerFor(applicationReader(false), audience),
    });
  }

  readonly authConfigs = {
    /**
     * How a toolkit authenticates: an OAuth app (client id and secret, scopes) or the kind of
     * credentials users provide. The client secret is encrypted and never returned.
     *
     * @example
     * const config = await mux.authConfigs.create('github', { type: 'oauth2', clientId, clientSecret });
     */
    create: async (toolkit: string, options: CreateAuthConfigOptions): Promise<AuthConfig> => {
      toolkitSlugOf(toolkit);
      return (await this.#ready()).auth.createAuthConfig(toolkit, options);
    },
    /** Auth configs, newest first, optionally of one toolkit. */
    list: async (query?: {
      toolkit?: string;
      limit?: number;
      cursor?: string;
    }): Promise<{ items: AuthConfig[]; nextCursor: string | undefined }> => {
      const checked = checkedOptions(query, 'mux.authConfigs.list()');
      const { auth } = await this.#ready();
      // the list checks the filter's text first
      const page = await auth.listAuthConfigs(checked);
      await this.catalog.checkToolkitFilter(
        'toolkit',
        checked.toolkit === undefined ? undefined : [checked.toolkit],
        async (toolkit) => (await auth.listAuthConfigs({ toolkit, limit: 1 })).items.length > 0,
      );
      return page;
    },
    get: async (id: string): Promise<AuthConfig> => (await this.#ready()).auth.getAuthConfig(id),
    /**
     * Changes an auth config in place, e.g. a rotated client secret: an oauth2 config's `clientId`,
     * `clientSecret`, `scopes` and `name`; an api_key, bearer or basic config's `name`. Accounts
     * connected through it stay connected; their next token refresh uses the new client.
     *
     * @example
     * await mux.authConfigs.update(config.id, { clientSecret: process.env.GITHUB_CLIENT_SECRET });
     */
    update: async (id: string, changes: UpdateAuthConfigOptions): Promise<AuthConfig> =>
      (await this.#ready()).auth.updateAuthConfig(id, changes),
    /** Deletes the config and every account connected through it. */
    delete: async (id: string): Promise<void> => (await this.#ready()).auth.deleteAuthConfig(id),
  };

  readonly connectedAccounts = {
    /**
     * Starts connecting a user's account through an auth config: the user opens `redirectUrl` and
     * signs in at the provider (oauth2) or gives the API key, token or password on the hosted connect
     * page (api_key, bearer, basic); `waitForConnection()` resolves when the account is ACTIVE.
     * `callbackUrl` must be allowed by `allowedCallbackUrls`.
     *
     * @example
     * const request = await mux.connectedAccounts.link('user_123', config.id, { callbackUrl });
     * // send the user to request.redirectUrl, then
     * const account = await request.waitForConnection(120_000);
     */
    link: async (
      userId: string,
      authConfigId: string,
      given?: { callbackUrl?: string; alias?: string },
    ): Promise<ConnectionRequest> => {
      const options = checkedOptions(given, 'mux.connectedAccounts.link()');
      checkUserId(userId);
      return (await this.#ready()).auth.link(userId, authConfigId, options);
    },
    /**
     * Stores credentials a user gave (API key, token, username and password) as an ACTIVE account. The
     * fields are checked against the toolkit's auth scheme.
     *
     * @example
     * await mux.connectedAccounts.create('user_123', config.id, { apiKey: 'sk_…' }, { alias: 'work' });
     */
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
      return (await this.#ready()).auth.createConnectedAccount(userId, authConfigId, credentials, options);
    },
    /**
     * Renames an account: `{ alias: 'work' }`, or `{ alias: null }` to remove its alias. Aliases are
     * unique per user and toolkit (ALIAS_TAKEN).
     *
     * @example
     * await mux.connectedAccounts.update('ca_…', { alias: 'personal' });
     */
    update: async (id: string, changes: { alias: string | null }): Promise<ConnectedAccount> => {
      const checked = aliasChangeOf(changes);
      return (await this.#ready()).auth.updateConnectedAccount(id, checked);
    },
    /** Accounts, newest first, filtered by any of the given users, toolkits, statuses. */
    list: async (
      query?: ListConnectedAccountsOptions,
    ): Promise<{ items: ConnectedAccount[]; nextCursor: string | undefined }> => {
      const checked = checkedOptions(query, 'mux.connectedAccounts.list()');
      const { auth } = await this.#ready();
      // the list checks the filters' text first
      const page = await auth.listConnectedAccounts(checked);
      await this.catalog.checkToolkitFilter(
        'toolkits',
        checked.toolkits,
        async (toolkit) =>
          (await auth.listConnectedAccounts({ toolkits: [toolkit], limit: 1 })).items.length > 0,
      );
      return page;
    },
    get: async (id: string): Promise<ConnectedAccount> => (await this.#ready()).auth.getConnectedAccount(id),
    delete: async (id: string): Promise<void> => (await this.#ready()).auth.deleteConnectedAccount(id),
    /**
     * Refreshes an OAuth account's access token now (one token request, however many callers and
     * instances ask at once; a refresh under way elsewhere is waited for). `signal` ends this caller's
     * wait at once, rejecting with its reason (as `proxyExecute` and `waitForConnections` do): other
     * callers waiting for the same refresh go on, and a token request already sent still stores the
     * tokens it gets.
     *
     * @example
     * const account = await mux.connectedAccounts.refresh('ca_…', { signal: AbortSignal.timeout(10_000) });
     */
    refresh: async (id: string, options?: { signal?: AbortSignal }): Promise<ConnectedAccount> => {
      const { signal } = checkedOptions(options, 'mux.connectedAccounts.refresh()');
      checkSignal(signal, 'connectedAccounts.refresh()');
      signal?.throwIfAborted();
      return untilAborted(
        this.#ready().then((engine) => engine.auth.refreshConnectedAccount(id, { signal })),
        signal,
      );
    },
    /**
     * Connects an account again in place: the user opens `redirectUrl` and signs in at the provider
     * again (oauth2) or gives a new API key, token or password on the hosted connect page (api_key,
     * bearer, basic), and the new credentials go to this same account, ACTIVE again, with its id,
     * alias, user, toolkit and auth config kept: sessions that name it (`connectedAccounts`) use it
     * again without `session.update()`. For an EXPIRED account (a revoked refresh token, a refused
     * API key), or an ACTIVE one whose grant should change. A disabled (INACTIVE) account is enabled
     * first; an attempt never connected is INVALID_REQUEST (start one with `link()`). Several
     * reconnects may be open at once: the last one the user finishes stands.
     *
     * @example
     * const request = await mux.connectedAccounts.reconnect('ca_…', { callbackUrl });
     * // send the user to request.redirectUrl, then
     * await request.waitForConnection(120_000); // the same ca_… id, ACTIVE
     */
    reconnect: async (id: string, given?: { callbackUrl?: string }): Promise<ConnectionRequest> => {
      const options = checkedOptions(given, 'mux.connectedAccounts.reconnect()');
      return (await this.#ready()).auth.reconnect(id, options);
    },
    /** Stops using an ACTIVE account (INACTIVE): its credentials stay, no call runs with it. */
    disable: async (id: string): Promise<ConnectedAccount> =>
      (await this.#ready()).auth.setConnectedAccountEnabled(id, false),
    /** Uses an INACTIVE account again (ACTIVE). */
    enable: async (id: string): Promise<ConnectedAccount> =>
      (await this.#ready()).auth.setConnectedAccountEnabled(id, true),
  };

  readonly connectionRequests = {
    /**
     * How a connection request (from `session.authorize()` or `connectedAccounts.link()`) stands:
     * PENDING, COMPLETED, FAILED or EXPIRED, with its account once there is one. Never the provider's
     * authorization URL or any secret. CONNECTION_REQUEST_NOT_FOUND for an unknown id.
     */
    get: async (id: string): Promise<ConnectionRequestInfo> =>
      (await this.#ready()).auth.getConnectionRequest(id),
    /**
     * Completes a credentials request (kind `fields`) with what the user gave: the fields are checked
     * like `connectedAccounts.create()` (wrong ones leave the request open), the account is stored
     * ACTIVE and the request COMPLETED, once. A used request fails with CONNECTION_REQUEST_INVALID, an
     * expired one with CONNECTION_REQUEST_EXPIRED. The hosted connect page calls this; an application
     * with its own form may too.
     *
     * @example
     * const account = await mux.connectionRequests.complete(request.id, { apiKey: 'sk_…' });
     */
    complete: async (id: string, credentials: Record<string, string>): Promise<ConnectedAccount> => {
      lookupId('connectionRequest', id);
      credentialsObject(credentials, 'mux.connectionRequests.complete()');
      return (await this.#ready()).auth.completeConnectionRequest(id, credentials);
    },
  };

  readonly auth = {
    /**
     * The OAuth callback as a fetch handler (`Request` → `Response`): mount it at `oauthRedirectUri`
     * in any web framework. It completes the connection and redirects (302) to the callbackUrl of the
     * connection with `status=success|failed&connected_account_id=…`; an unknown, reused or expired
     * state is answered 400 with its code, and nothing is stored.
     *
     * @example
     * app.get('/auth/callback', (c) => mux.auth.handleCallback(c.req.raw)); // Hono
     */
    handleCallback: async (request: Request): Promise<Response> =>
      (await this.#ready()).auth.handleCallback(request),
  };

  /**
   * @internal `toolmux keys rotate`: `vault.rotate()` that reports a record it cannot decrypt to
   * `onFailure` and goes on, rather than stopping at it.
   */
  async rotateSecretsReporting(options: {
    batchSize?: number;
    onFailure: (failure: RotationFailure) => void;
  }): Promise<RotationResult> {
    const engine = await this.#ready();
    return rotateSecrets(engine.store, engine.vault, options);
  }

  readonly vault = {
    /**
     * Re-encrypts every stored credential under the current `secretKey`, in batches, while the
     * service keeps running. Rotate by setting the new key as `secretKey` and the old one in
     * `previousSecretKeys`, calling this once, then dropping the old key.
     */
    rotate: async (options?: { batchSize?: number }): Promise<RotationResult> => {
      const checked = checkedOptions(options, 'mux.vault.rotate()');
      const engine = await this.#ready();
      return rotateSecrets(engine.store, engine.vault, checked);
    },
  };

  /**
   * Ends what runs on the store, then closes the log writer and the store: new tool calls are refused
   * (TOOLMUX_CLOSED), connection waits end, workbench cells end (their contexts in this process are
   * dropped), and tool calls in flight get `timeoutMs` to finish before they are stopped
   * (TOOL_ABORTED); every call that answered has its log entry stored (it answers after that), and
   * the entries of stopped calls get 2 s more to be stored (a database that stopped answering: then
   * they are reported lost). The token revocations OAuth callbacks left running after they answered
   * end first (each within `oauthRequestTimeoutMs`).
   */
  async close(options?: { timeoutMs?: number }): Promise<void> {
    return this.#close(closeTimeoutOf(checkedOptions(options, 'mux.close()')));
  }

  /**
   * @internal `close({ timeoutMs: 0 })` after a server's shutdown drain gave the calls in flight
   * their time (`drain`): the warning about the calls it stops names that setting and its time.
   */
  closeAfterDrain(drain: DrainTime): Promise<void> {
    return this.#close(0, drain);
  }

  async #close(timeoutMs: number, drain?: DrainTime): Promise<void> {
    this.#closed = true;
    const engine = this.#engine;
    this.#engine = undefined;
    if (engine) {
      const closing = this.#closeEngine(engine, timeoutMs, drain);
      this.#closing = closing;
      try {
        await closing;
      } finally {
        if (this.#closing === closing) this.#closing = undefined;
      }
    } else {
      // a close() while another one runs resolves when that one is done, not before
      await this.#closing;
    }
  }

  /** The close that runs (`close()` called again meanwhile waits for it). */
  #closing: Promise<void> | undefined;

  async #closeEngine(engine: Promise<Engine>, timeoutMs: number, drain?: DrainTime): Promise<void> {
    const { env, store, pruners, auth } = await engine;
    const pruned = Promise.all(pruners.map((pruner) => pruner.stop()));
    // the token revocations OAuth callbacks left running (each ends within oauthRequestTimeoutMs)
    const revoked = auth.settleRevocations();
    const calls = env.calls?.close(timeoutMs);
    endConnectionWaits(store);
    await closeWorkbench(store);
    reportStopped(this.#logger, await calls, timeoutMs, drain);
    // Every call that answered has its entry stored (it answers after that). An entry still being
    // stored now is one of a call that did not answer in time: its commit waits on a database that
    // stopped answering (a statement waits up to query_timeout, 30 s, and is then tried again).
    // close() waits for it as long as for a stopped call; then the store's close cuts the
    // connections it still waits on (within connect_timeout), and the entry is reported lost.
    // A pruning statement waits on it likewise: both within the one grace.
    await settlesWithin(Promise.all([env.logs.close(), pruned]), STOPPED_GRACE_MS);
    await revoked;
    await store.close();
  }
}

/** A stored session as `sessions.list()` lists it. */
export function sessionSummaryOf(record: SessionRecord): SessionSummary {
  return {
    sessionId: record.id,
    userId: record.userId,
    metadata: record.metadata,
    configVersion: record.configVersion,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
}

/**
 * Why `tools.execute(slug)` has no tool to run, and what to run instead: a meta-tool runs only in a
 * session (its search, connections and workbench are the session's); another slug, the closest tools
 * of the catalog and where the catalog's tools are listed.
 */
function catalogToolNotFound(slug: string, catalog: Catalog): string {
  if (ALL_META_TOOL_SLUGS.has(slug.toUpperCase())) {
    return `There is no tool "${slug}" in the catalog: it is a meta-tool, which runs only in a session. Run it with ${apiRef('session.execute')}.`;
  }
  return `There is no tool "${slug}" in the catalog.${didYouMean(slug, catalog.toolNames)} The catalog's tools are listed by ${apiRef('tools.get')}.`;
}
