import { inspect } from 'node:util';
import { ConnectionRequest } from '../auth/connection-request.js';
import {
  checkConnectionsWaitTimeout,
  checkWaitToolkits,
  type WaitForConnectionsResult,
} from '../auth/connection-waiter.js';
import { checkMaxResponseBytes } from '../auth/proxy.js';
import type { ProxyExecuteRequest, ProxyExecuteResponse } from '../auth/types.js';
import type { Catalog } from '../catalog/catalog.js';
import type { Tool } from '../catalog/types.js';
import {
  exposedMetaToolKinds,
  isToolVisible,
  metaToolNamesOf,
  type NormalizedSessionConfig,
  parseSessionConfig,
  type SessionConfig,
  workbenchOf,
} from '../config/session-config.js';
import { quotedMessage, ToolMuxError } from '../errors.js';
import type { CallInFlight } from '../execution/calls-in-flight.js';
import {
  admitCall,
  type ExecutionEnvironment,
  executeTool,
  rejectToolCall,
  shapeArgumentsMessage,
} from '../execution/execute.js';
import type { ToolResult } from '../execution/result.js';
import {
  composioMultiExecuteResult,
  EACH_CALL_RESULT,
  type EachCallResult,
  META_TOOLKIT,
  type MultiExecuteOptions,
  metaToolSlugs,
  metaToolsOf,
  runCalls,
} from '../meta-tools/meta-tools.js';
import type { ExecuteFn, ExecuteOptions, Provider, ToolSpec } from '../provider.js';
import {
  type AuthorizeOptions,
  checkToolkitsFilters,
  deletedAlreadyError,
  deletedSessionLogsError,
  type EnsureConnectedResult,
  type ExecutionLog,
  handleToolCallsWith,
  type SearchToolsResult,
  type Session,
  type SessionToolkit,
  type SessionToolkitsOptions,
  searchRequestOf,
  sessionDeletedError,
  specsBySlug,
  toolSpecOf,
} from '../session.js';
import { configVersionConflictError } from '../store/store-errors.js';
import type { ExecutionLogRecord } from '../store/types.js';
import { toolCallExecute } from '../tool-calls.js';
import {
  applyToolModifiers,
  hasModifiers,
  type ToolModifiers,
  type UnlistedTools,
} from '../tool-modifiers.js';
import type { SessionLogsOptions } from '../toolmux-types.js';
import { abortedCallMessage, checkSignal } from '../util/abort.js';
import { toolkitSlugOf, toolSlugRefusal } from '../util/arguments.js';
import { newId } from '../util/ids.js';
import { MAX_JSON_DEPTH } from '../util/json-depth.js';
import { jsonShapeSliced, jsonTextSliced, MAX_OBJECT_KEYS } from '../util/json-slices.js';
import { checkedOptions, requestObject } from '../util/options-object.js';
import { WorkSlice } from '../util/slices.js';
import { OFFLOAD_PREVIEW_CHARS, WORKBENCH_FILES_QUOTA_BYTES } from '../workbench/file-limits.js';
import { notOffloadedNotice } from '../workbench/offload-notice.js';
import { JsonBodyText, type Query, type Read, type RemoteApi, type RemoteCall } from './http.js';
import {
  type ConnectionRequestWire,
  connectedAccountOf,
  connectionRequestWireOf,
  countedPageOf,
  type ExecuteInSessionWire,
  ensureConnectedWireOf,
  executionLogOf,
  offloadOf,
  pageOf,
  proxyResponseOf,
  type SessionWire,
  searchResultOf,
  sessionMcpOf,
  sessionToolkitOf,
  sessionWireOf,
  toolResultOf,
  toolSpecOfWire,
  waitForConnectionsOf,
} from './wire.js';

/** A call's options, and for a call a client-run multi-execute makes, that call's entry. */
interface InnerCallOptions extends ExecuteOptions {
  /** The id this process gave the multi-execute's log entry. */
  parentId?: string;
  /** Takes the entry of a call that ran (or was refused) here instead of writing it. */
  holdLog?: (entry: ExecutionLogRecord) => void;
}

/** How a server older than `parent_id` on `POST /sessions/:id/execute` refuses it. */
const UNKNOWN_PARENT_KEY = /(unknown|unrecognized) keys?\b[^.]*"parent_id"/i;
/** How a server older than `arguments_refused` of `POST /sessions/:id/execute` refuses it. */
const UNKNOWN_REFUSED_KEY = /(unknown|unrecognized) keys?\b[^.]*"arguments_refused"/i;

/** What a remote session shares with its ToolMux. */
export interface RemoteSessionRuntime {
  api: RemoteApi;
  provider: Provider<unknown, unknown>;
  /** Runs the session's custom tools here, in the client: no accounts, logs sent to the server. */
  env: ExecutionEnvironment;
  /**
   * How long a session object trusts, for the custom-tool calls it runs here, that its session still
   * exists with the config it has (the ToolMux's `accountCacheTtlMs`, as an embedded session object).
   */
  sessionFreshMs: number;
}

/**
 * A connection request whose status is read from the server (`GET /connection-requests/:id`), for
 * OAuth and credential requests alike.
 */
export function remoteConnectionRequest(api: RemoteApi, wire: ConnectionRequestWire): ConnectionRequest {
  return new ConnectionRequest(
    {
      id: wire.id,
      kind: wire.kind,
      connectedAccountId: wire.connected_account_id,
      reconnectOf: wire.reconnect_of ?? null,
      toolkit: wire.toolkit,
      redirectUrl: wire.redirect_url,
      expiresAt: new Date(wire.expires_at),
    },
    async () => {
      try {
        const current = await api.get(
          `/connection-requests/${encodeURIComponent(wire.id)}`,
          undefined,
          connectionRequestWireOf,
        );
        const accountId = current.connected_account_id;
        // why it failed is the account's status reason (as the embedded wait reads it)
        const statusReason =
          current.status === 'FAILED' && accountId
            ? await api
                .get(`/connected-accounts/${encodeURIComponent(accountId)}`, undefined, connectedAccountOf)
                .then(
                  (account) => account.statusReason,
                  (error: unknown) => {
                    // deleted meanwhile: the failure is still reported, without its reason
                    if (ToolMuxError.isInstance(error) && error.code === 'CONNECTED_ACCOUNT_NOT_FOUND')
                      return null;
                    throw error;
                  },
                )
            : null;
        return { status: current.status, connectedAccountId: accountId, statusReason };
      } catch (error) {
        if (ToolMuxError.isInstance(error) && error.code === 'CONNECTION_REQUEST_NOT_FOUND') return undefined;
        throw error;
      }
    },
  );
}

/**
 * A tool call the server runs (`post` sends it), answered as an embedded call is: never a rejection.
 * Aborted before it is sent, it is not sent: a failed result, logged here for a session's call (the
 * server has no log of calls without a session to take it). With arguments JSON would change (a NaN,
 * a sparse array's holes, an object of too many keys), they are not sent: `postRefused` sends the
 * call with the refusal's message instead, which the server answers after the checks an embedded
 * call makes before its arguments' (the session, the tool), and logs; without it (or when the
 * server is too old to take it, `undefined`) the refusal is answered and logged here. Aborted while it runs (the server
 * sees the client go away and stops the tool), stopped by close(), or answered with an error or not
 * at all, it is a failed result of that code (`logId` empty: the server's entry is not known here).
 */
export async function callOnServer(
  env: ExecutionEnvironment,
  call: {
    slug: string;
    arguments: unknown;
    userId: string;
    sessionId: string | null;
    callId?: string;
    parentId?: string;
    signal?: AbortSignal;
    holdLog?: (entry: ExecutionLogRecord) => void;
  },
  post: () => Promise<ToolResult>,
  postRefused?: (message: string) => Promise<ToolResult | undefined>,
): Promise<ToolResult> {
  const { slug, signal, holdLog, ...logged } = call;
  // Never sent: logged here, like an embedded call refused before it started.
  const refuse = (error: ToolMuxError): Promise<ToolResult> =>
    logged.sessionId === null
      ? Promise.resolve({ successful: false, data: null, error: error.message, code: error.code, logId: '' })
      : rejectToolCall(env, { slug, ...logged }, error, holdLog);
  if (signal?.aborted) {
    return refuse(
      new ToolMuxError({
        code: 'TOOL_ABORTED',
        message: abortedCallMessage(
          slug,
          signal,
          ' before it started',
          `${slug} was aborted before it started.`,
        ),
      }),
    );
  }
  // the request's JSON would write every hole of a sparse array, and a NaN or ±Infinity, as null,
  // and writing an object of too many keys lists them (the server checks the rest)
  const shape = await jsonShapeSliced(call.arguments, MAX_JSON_DEPTH, new WorkSlice(), {
    root: 'arguments',
    maxKeys: MAX_OBJECT_KEYS,
    finiteNumbers: true,
  });
  const refused = shapeArgumentsMessage(slug, shape);
  const refusedHere = () => refuse(new ToolMuxError({ code: 'TOOL_ARGUMENTS_INVALID', message: refused! }));
  if (refused !== undefined && postRefused === undefined) return refusedHere();
  try {
    if (refused === undefined) return await post();
    // an embedded session checks the session and the tool before the arguments: a call of a tool
    // it does not have is TOOL_NOT_IN_SESSION (or TOOL_NOT_FOUND) whatever its arguments
    return (await postRefused!(refused)) ?? (await refusedHere());
  } catch (error) {
    if (signal?.aborted) {
      return {
        successful: false,
        data: null,
        error: abortedCallMessage(slug, signal),
        code: 'TOOL_ABORTED',
        logId: '',
      };
    }
    if (!ToolMuxError.isInstance(error)) throw error;
    if (error.code === 'TOOLMUX_CLOSED' && error.details?.closeTimeoutMs !== undefined) {
      // close() stopped the request: the server sees the client go away and stops the call
      return {
        successful: false,
        data: null,
        error: `${slug} was stopped: its ToolMux was closed, and the call ran on past the ${String(error.details.closeTimeoutMs)} ms that close() waits for calls in flight.`,
        code: 'TOOL_ABORTED',
        logId: '',
      };
    }
    return { successful: false, data: null, error: error.message, code: error.code, logId: '' };
  }
}

/**
 * A session served by a toolmux server: tool lists, calls, search, connections and logs go over its
 * REST API; the session's custom tools (their code is here) run in this process and their log
 * entries are sent to the server, so `logs()` shows every call.
 */
export class RemoteSession<TCollection = unknown, TResponse = never, TReply = unknown>
  implements Session<TCollection, TResponse, TReply>
{
  readonly sessionId: string;
  readonly userId: string;
  readonly #runtime: RemoteSessionRuntime;
  /** The session's custom tools and their toolkits, as this process runs them. */
  readonly #local: Catalog;
  readonly #localSlugs: ReadonlySet<string>;
  readonly #path: string;

  /**
   * The server's API for this session's requests. The session existed (this object was made from
   * it), so a SESSION_NOT_FOUND from the server means it was deleted, and says so as an embedded
   * session does ("does not exist any more (it was deleted)", its log kept, deleted already): the
   * server, which keeps no trace of it, answered "No session … Create one with create()".
   */
  get #api(): Pick<RemoteApi, 'get' | 'post' | 'call'> {
    const api = this.#runtime.api;
    const gone =
      (path: string, method: string) =>
      (error: unknown): never => {
        throw this.#deletedError(error, path, method);
      };
    return {
      get: <W, R = W>(path: string, query?: Query, read?: Read<W, R>) =>
        api.get<W, R>(path, query, read).catch(gone(path, 'GET')),
      post: <W, R = W>(path: string, body: unknown, signal?: AbortSignal, read?: Read<W, R>) =>
        api.post<W, R>(path, body, signal, read).catch(gone(path, 'POST')),
      call: <W, R = W>(method: string, path: string, call?: RemoteCall<W, R>) =>
        api.call<W, R>(method, path, call).catch(gone(path, method)),
    };
  }

  /** `error` as embedded says it when it is this session's SESSION_NOT_FOUND (see {@link #api}). */
  #deletedError(error: unknown, path: string, method: string): unknown {
    if (!ToolMuxError.isInstance(error) || error.code !== 'SESSION_NOT_FOUND' || !path.startsWith(this.#path))
      return error;
    if (method === 'DELETE' && path === this.#path) return deletedAlreadyError(this.sessionId);
    if (path === `${this.#path}/logs`) return deletedSessionLogsError(this.sessionId);
    return sessionDeletedError(this.sessionId);
  }
  #wire: SessionWire;
  /** What `tools()` without modifiers handed out, and the specs it was made of. */
  #tools: Promise<{ specs: ReadonlyMap<string, ToolSpec>; tools: TCollection }> | undefined;
  /** The specs the latest `tools()` call handed out (modified ones with modifiers), by slug. */
  #toolCallSpecs: ReadonlyMap<string, ToolSpec> | undefined;
  /**
   * How the tools the latest `tools()` call handed out run a call: with its modifiers' hooks, or
   * plainly (`undefined`). `handleToolCalls` runs the model's calls this way.
   */
  #toolCallExecute: ExecuteFn | undefined;
  /** Counts `tools()` calls, so that only the latest one sets `#toolCallExecute`. */
  #toolsCalls = 0;
  /** False once the server refused `parent_id` on `POST /execute` as an unknown key (an older server). */
  #serverTakesParentIds = true;
  /** Until when `#wire` (the session's existence and config) is trusted for custom-tool calls run here. */
  #wireFreshUntil: number;
  /** The read of the session under way for custom-tool calls (`#checkCurrent`), shared. */
  #reading: Promise<void> | undefined;

  /** @internal use `toolmux.create()` or `toolmux.use()` */
  constructor(wire: SessionWire, runtime: RemoteSessionRuntime, local: Catalog) {
    this.sessionId = wire.session_id;
    this.userId = wire.user_id;
    this.#wire = wire;
    this.#runtime = runtime;
    this.#local = local;
    this.#localSlugs = new Set(local.tools.keys());
    this.#path = `/sessions/${encodeURIComponent(this.sessionId)}`;
    // made from what the server answered just now
    this.#wireFreshUntil = Date.now() + runtime.sessionFreshMs;
  }

  /**
   * Before a custom-tool call runs here (the server sees it only in the log): the session as the
   * server has it now, read at most once per `sessionFreshMs` (the ToolMux's `accountCacheTtlMs`), so
   * that a session deleted, or updated through another object, on the server runs no custom tool here
   * that it no longer has (SESSION_NOT_FOUND; a tool its config took away goes to the server, which
   * refuses it). Undefined while the last read stands.
   */
  #checkCurrent(): Promise<void> | undefined {
    if (Date.now() < this.#wireFreshUntil) return undefined;
    this.#reading ??= this.#runtime.api
      .get(this.#path, undefined, sessionWireOf)
      .then((wire) => {
        if (wire.config_version > this.#wire.config_version) this.#takeWire(wire);
        this.#wireFreshUntil = Date.now() + this.#runtime.sessionFreshMs;
      })
      .finally(() => {
        this.#reading = undefined;
      });
    return this.#reading;
  }

  /** Takes up the session as the server answered it, with what was derived from the old config dropped. */
  #takeWire(wire: SessionWire): void {
    this.#wire = wire;
    this.#tools = undefined;
    this.#toolCallSpecs = undefined;
  }

  /** A custom tool of the session that runs here, if the session's config has it. */
  #localTool(slug: string): Tool | undefined {
    const local = this.#localSlugs.has(slug) ? this.#local.tools.get(slug) : undefined;
    if (local === undefined) return undefined;
    // a server that answers a config without its filters (not toolmux's) leaves the tool to the session
    const { toolkits, tools, tags } = this.config as Partial<NormalizedSessionConfig>;
    if (toolkits === undefined || tools === undefined || tags === undefined) return local;
    return isToolVisible(this.config, local) ? local : undefined;
  }

  get config(): Readonly<NormalizedSessionConfig> {
    return this.#wire.config;
  }

  get configVersion(): number {
    return this.#wire.config_version;
  }

  get metadata(): Readonly<Record<string, string>> {
    return this.#wire.metadata;
  }

  get mcp(): { url: string; headers: { Authorization: string } } {
    return { url: this.#wire.mcp.url, headers: { Authorization: this.#wire.mcp.headers.Authorization } };
  }

  /**
   * Replaces the session's MCP token on the server (`POST /sessions/:id/mcp-token/rotate`) and
   * returns the new `mcp`; the old token stops working at once on every instance.
   */
  async rotateMcpToken(): Promise<{ url: string; headers: { Authorization: string } }> {
    const mcp = await this.#api.post(`${this.#path}/mcp-token/rotate`, {}, undefined, sessionMcpOf);
    this.#wire = { ...this.#wire, mcp };
    return this.mcp;
  }

  tools(given?: ToolModifiers): Promise<TCollection> {
    let modifiers: ToolModifiers | undefined;
    try {
      modifiers = given === undefined ? undefined : checkedOptions(given, 'session.tools()');
    } catch (error) {
      return Promise.reject(error);
    }
    const call = ++this.#toolsCalls;
    // As an embedded session's: the session read again once the last read is older than
    // `sessionFreshMs`, so that an update made through another object (here or anywhere) hands out
    // the tools of its config, not those of the config this object had, and a deleted session is
    // SESSION_NOT_FOUND, not the tool list read before it was deleted.
    const checking = this.#checkCurrent();
    return checking === undefined
      ? this.#toolsOf(call, modifiers)
      : checking.then(() => this.#toolsOf(call, modifiers));
  }

  /** `tools()` once the session is known current: call `call` of `tools()`, with `modifiers`. */
  #toolsOf(call: number, modifiers: ToolModifiers | undefined): Promise<TCollection> {
    const execute = toolCallExecute((slug, args, options) => this.execute(slug, args, options));
    if (hasModifiers(modifiers)) {
      return this.#specs().then((specs) => {
        const modified = applyToolModifiers(specs, execute, modifiers, this.#unlistedTools());
        if (call === this.#toolsCalls) {
          this.#toolCallExecute = modified.execute;
          this.#toolCallSpecs = specsBySlug(modified.specs);
        }
        return this.#runtime.provider.wrapTools(modified.specs, modified.execute) as TCollection;
      });
    }
    if (call === this.#toolsCalls) this.#toolCallExecute = undefined;
    this.#tools ??= this.#specs().then((specs) => {
      return {
        specs: specsBySlug(specs),
        tools: this.#runtime.provider.wrapTools(specs, execute) as TCollection,
      };
    });
    const plain = this.#tools;
    plain.then(
      ({ specs }) => {
        if (call === this.#toolsCalls) this.#toolCallSpecs = specs;
      },
      () => {
        if (this.#tools === plain) this.#tools = undefined;
      },
    );
    return plain.then(({ tools }) => tools);
  }

  /**
   * The toolkit and input schema of a tool `tools()` did not hand out, as an embedded session reads
   * them from its catalog: for a multi-execute or workbench entry of a tool the model named without a
   * listing, so that `beforeExecute` gets it without strict mode's nulls, and both hooks with its
   * toolkit (they got the nulls, and the toolkit `''`). The catalog (`POST /tools/list`) is read once, at the first such
   * call; a tool the session's filters hide has none, as in an embedded session.
   */
  #unlistedTools(): UnlistedTools {
    let catalog: Promise<Map<string, ToolSpec>> | undefined;
    const specOf = async (slug: string): Promise<ToolSpec | undefined> => {
      const local = this.#localTool(slug);
      if (local) return toolSpecOf(local);
      catalog ??= this.#api
        .post('/tools/list', { user_id: this.userId, filter: {} }, undefined, (page) =>
          pageOf(page, toolSpecOfWire),
        )
        .then(({ items }) => new Map(items.map((spec) => [spec.slug, spec])));
      const listed = catalog;
      // unread (the server unreachable): the call goes on as before, and its own request says why
      const spec = (
        await listed.catch(() => {
          if (catalog === listed) catalog = undefined;
          return new Map<string, ToolSpec>();
        })
      ).get(slug);
      // a server that answers a config without its filters (not toolmux's) leaves visibility to it
      const { toolkits, tools, tags } = this.config as Partial<NormalizedSessionConfig>;
      const filtered = toolkits !== undefined && tools !== undefined && tags !== undefined;
      return spec && (!filtered || isToolVisible(this.config, spec)) ? spec : undefined;
    };
    return {
      inputSchemaOf: async (slug) => (await specOf(slug))?.inputSchema,
      readToolkitOf: async (slug) => (await specOf(slug))?.toolkit,
    };
  }

  /** `GET /sessions/:id/tools` */
  #specs(): Promise<ToolSpec[]> {
    return this.#api.get(`${this.#path}/tools`, undefined, (page) => pageOf(page, toolSpecOfWire).items);
  }

  async execute(slug: string, args: unknown = {}, given?: ExecuteOptions): Promise<ToolResult> {
    const options = checkedOptions(given, 'session.execute()');
    const refused = toolSlugRefusal(slug, 'execute()');
    if (refused) return refused;
    checkSignal(options.signal, 'execute()');
    // only a session that has the multi-execute runs it here; one that has not (DIRECT_TOOLS) sends
    // the call to the server, which refuses it as an embedded session would
    // so does one whose calls' results a hook of tools() changes (afterExecute): before the result
    // is offloaded to the workbench files, which the server would do with the tools' own results
    const eachResult = (options as MultiExecuteOptions)[EACH_CALL_RESULT];
    if (
      (this.#localSlugs.size > 0 || eachResult !== undefined) &&
      slug === metaToolSlugs(metaToolNamesOf(this.config)).MULTI_EXECUTE_TOOL &&
      exposedMetaToolKinds(this.config).has('MULTI_EXECUTE_TOOL')
    ) {
      return this.#multiExecute(args, options, eachResult);
    }
    return this.#execute(slug, args, options);
  }

  /**
   * One call, here (a custom tool) or on the server. A call a client-run multi-execute makes names
   * that call's entry (`parentId`, the id this process gives it) and, when it runs here, hands its
   * entry to `holdLog` to be uploaded together with the multi-execute's.
   */
  async #execute(slug: string, args: unknown, options: InnerCallOptions): Promise<ToolResult> {
    if (!this.#localSlugs.has(slug)) return this.#remoteExecute(slug, args, options);
    // counted in flight from the session check on (close() waits for it), handed to executeTool
    let admitted: CallInFlight | undefined;
    const checking = this.#checkCurrent();
    if (checking !== undefined) {
      const admission = await admitCall(this.#runtime.env, slug, this.sessionId, checking);
      if ('refused' in admission) return admission.refused;
      admitted = admission.inFlight;
    }
    const local = this.#localTool(slug);
    if (local) {
      return executeTool(this.#runtime.env, {
        inFlight: admitted,
        tool: local,
        toolkit: this.#local.getToolkit(local.toolkit),
        arguments: args,
        userId: this.userId,
        sessionId: this.sessionId,
        callId: options.callId,
        parentId: options.parentId,
        signal: options.signal,
        holdLog: options.holdLog,
      });
    }
    if (admitted) this.#runtime.env.calls?.leave(admitted);
    return this.#remoteExecute(slug, args, options);
  }

  /**
   * One call on the server. Like an embedded call it never throws: an abort, an unreachable server or
   * a refused request is a failed result the model can read (`logId` is empty when the server's log
   * entry is not known here; the server logs an aborted call as TOOL_ABORTED, under `parentId` too).
   */
  #remoteExecute(slug: string, args: unknown, options: InnerCallOptions): Promise<ToolResult> {
    return callOnServer(
      this.#runtime.env,
      {
        slug,
        arguments: args,
        userId: this.userId,
        sessionId: this.sessionId,
        callId: options.callId,
        parentId: options.parentId,
        signal: options.signal,
        holdLog: options.holdLog,
      },
      async () => (await this.#postExecute(slug, args, options))!,
      (refused) => this.#postExecute(slug, undefined, options, refused),
    );
  }

  /**
   * `POST /sessions/:id/execute`; with `argumentsRefused` (arguments JSON cannot carry, see
   * `callOnServer`) in place of the arguments, `undefined` from a server too old to take it.
   */
  async #postExecute(
    slug: string,
    args: unknown,
    options: InnerCallOptions,
    argumentsRefused?: string,
  ): Promise<ToolResult | undefined> {
    const parentId = this.#serverTakesParentIds ? options.parentId : undefined;
    const body: ExecuteInSessionWire = {
      tool_slug: slug,
      ...(argumentsRefused === undefined
        ? { arguments: args ?? {} }
        : { arguments_refused: argumentsRefused }),
      ...(options.callId ? { call_id: options.callId } : {}),
      ...(options.account !== undefined ? { account: options.account } : {}),
      ...(parentId !== undefined ? { parent_id: parentId } : {}),
    };
    try {
      return await this.#api.post(`${this.#path}/execute`, body, options.signal, toolResultOf);
    } catch (error) {
      // a server older than `arguments_refused` refuses the field before it runs anything
      if (
        argumentsRefused !== undefined &&
        ToolMuxError.isInstance(error) &&
        error.code === 'INVALID_REQUEST' &&
        UNKNOWN_REFUSED_KEY.test(error.message)
      ) {
        return undefined;
      }
      // A server older than `parent_id` refuses the field before it runs anything: the call is sent
      // again without it (its entry then has no parent), and so are the next ones.
      if (
        parentId === undefined ||
        !ToolMuxError.isInstance(error) ||
        error.code !== 'INVALID_REQUEST' ||
        !UNKNOWN_PARENT_KEY.test(error.message)
      ) {
        throw error;
      }
      this.#serverTakesParentIds = false;
      return this.#postExecute(slug, args, options, argumentsRefused);
    }
  }

  /**
   * TOOLMUX_MULTI_EXECUTE_TOOL in a session with custom tools: run here, so that each custom call
   * runs in this process and every other call goes to the server (in parallel, as on the server).
   *
   * The log reads as a tree, as embedded: every call names the multi-execute's entry as its parent,
   * by the id this process gives that entry (`context.logId`). The server stores the calls it runs
   * under that id at once (`parent_id` of `POST /execute`); the entries of the calls that ran here
   * are held and uploaded in one request with the multi-execute's own, where the server resolves the
   * id. If the server stores the multi-execute's entry under another id (one far from its clock), it
   * moves the calls it ran to that id.
   */
  async #multiExecute(
    args: unknown,
    options: ExecuteOptions,
    eachResult: EachCallResult | undefined,
  ): Promise<ToolResult> {
    const names = metaToolNamesOf(this.config);
    const meta = metaToolsOf(names).get(metaToolSlugs(names).MULTI_EXECUTE_TOOL)!;
    const held: ExecutionLogRecord[] = [];
    const holdLog = (entry: ExecutionLogRecord) => {
      held.push(entry);
    };
    let calls: Promise<unknown> | undefined;
    const tool: Tool = {
      ...meta,
      execute: async (
        input: {
          /** As the model sent them: `runCalls` reads each. */
          tools: readonly unknown[];
          sync_response_to_workbench?: boolean | null;
        },
        context,
      ) => {
        const running = runCalls(
          input.tools,
          { signal: context.signal, callId: context.callId, logId: context.logId, eachResult },
          (slug, callArgs, callOptions) => this.#execute(slug, callArgs, { ...callOptions, holdLog }),
          names,
          // logged here and uploaded with the multi-execute's entry, as an embedded session logs
          // them: the server takes a client's failed entries of these refusals for any tool
          (slug, callArgs, error, callOptions) =>
            rejectToolCall(
              this.#runtime.env,
              { slug, arguments: callArgs, userId: this.userId, sessionId: this.sessionId, ...callOptions },
              error,
              holdLog,
            ),
        );
        calls = running;
        const result = await running;
        const shown =
          (await this.#offloaded(
            result,
            context.logId ?? newId('log'),
            input.sync_response_to_workbench === true,
          )) ?? result;
        return names === 'composio' ? composioMultiExecuteResult(shown) : shown;
      },
    };
    let entry: ExecutionLogRecord | undefined;
    const result = await executeTool(this.#runtime.env, {
      tool,
      toolkit: META_TOOLKIT,
      arguments: args,
      userId: this.userId,
      sessionId: this.sessionId,
      callId: options.callId,
      signal: options.signal,
      holdLog: (record) => {
        entry = record;
      },
    });
    // An abort or a timeout answers the multi-execute before its calls end (each ends at once, aborted
    // too): their entries are waited for, to go in the same upload.
    await calls?.catch(() => undefined);
    await this.#runtime.env.logs.writeTogether(entry ? [...held, entry] : held);
    return result;
  }

  /**
   * What the model receives instead of a multi-execute result run here, when the session's workbench
   * is on and the result is longer than its `autoOffloadThreshold` characters as JSON (or `always`):
   * the server saves it to the session's workbench files, as it does with the multi-executes it runs,
   * and answers `{ offloaded }` (`{ notOffloaded }` when its quota is full). Undefined keeps the
   * result inline: a short one, or a server that keeps no files. A failed upload (logged as a
   * warning: the call still answers) gives the model `{ notOffloaded }` too, never the whole result.
   */
  async #offloaded(result: unknown, logId: string, always: boolean): Promise<unknown> {
    const workbench = workbenchOf(this.config);
    if (!workbench.enable) return undefined;
    const json = (await jsonTextSliced(result, new WorkSlice())) ?? 'null';
    if (!always && json.length <= workbench.autoOffloadThreshold) return undefined;
    try {
      const answer = await this.#api.post(
        `${this.#path}/workbench/offload`,
        new JsonBodyText(
          `{"log_id":${JSON.stringify(logId)},${always ? '"always":true,' : ''}"result":${json}}`,
        ),
        undefined,
        offloadOf,
      );
      if (answer.offloaded !== null) return { offloaded: answer.offloaded };
      // the server could not save it (its files quota is full): the model gets the start of it
      return answer.not_offloaded ? { notOffloaded: answer.not_offloaded } : undefined;
    } catch (error) {
      // Not saved (the network failed, the server answered an error): the model gets the start of
      // the result and what to do, as when the server's store fails, never the whole of it (it went
      // inline, megabytes into the model's context); a body too large for the server is one larger
      // than the files quota. The server's or the network's own words go to the logger only.
      const slugs = metaToolSlugs(metaToolNamesOf(this.config));
      this.#runtime.env.logger.warn(
        `The result of ${slugs.MULTI_EXECUTE_TOOL} ${logId} (${json.length} characters) reaches the model as its start only: the server did not save it to the workbench files (${quotedMessage(error)}).`,
      );
      const tooLarge = ToolMuxError.isInstance(error) && error.code === 'REQUEST_TOO_LARGE';
      return notOffloadedNotice(
        json.length,
        json.slice(0, OFFLOAD_PREVIEW_CHARS + 1),
        tooLarge ? WORKBENCH_FILES_QUOTA_BYTES : undefined,
        slugs.WORKBENCH,
      );
    }
  }

  /**
   * Runs every tool call of a model response (on the server, or here for custom tools) with the
   * provider's `handleToolCalls`, as the tools of the latest `tools()` call run them (with its
   * modifiers); see `Session.handleToolCalls`.
   */
  async handleToolCalls(response: TResponse, given?: { signal?: AbortSignal }): Promise<TReply> {
    const options = checkedOptions(given, 'session.handleToolCalls()');
    return handleToolCallsWith(
      this.#runtime.provider,
      response,
      options.signal,
      this.#toolCallExecute ?? ((slug, args, callOptions) => this.execute(slug, args, callOptions)),
      // a session resumed with use() runs the calls of tools an earlier process handed out: its own
      this.#toolCallSpecs ?? this.#specs().then(specsBySlug),
    ) as Promise<TReply>;
  }

  async authorize(toolkit: string, given?: AuthorizeOptions): Promise<ConnectionRequest> {
    const options = checkedOptions(given, 'session.authorize()');
    toolkitSlugOf(toolkit);
    const wire = await this.#api.post(
      `${this.#path}/authorize`,
      {
        toolkit,
        ...(options.callbackUrl !== undefined ? { callback_url: options.callbackUrl } : {}),
        ...(options.alias !== undefined ? { alias: options.alias } : {}),
      },
      undefined,
      connectionRequestWireOf,
    );
    return remoteConnectionRequest(this.#runtime.api, wire);
  }

  async ensureConnected(toolkit: string, given?: AuthorizeOptions): Promise<EnsureConnectedResult> {
    const options = checkedOptions(given, 'session.ensureConnected()');
    toolkitSlugOf(toolkit);
    const wire = await this.#api.post(
      `${this.#path}/ensure-connected`,
      {
        toolkit,
        ...(options.callbackUrl !== undefined ? { callback_url: options.callbackUrl } : {}),
        ...(options.alias !== undefined ? { alias: options.alias } : {}),
      },
      undefined,
      ensureConnectedWireOf,
    );
    if (wire.status === 'NEEDS_USER')
      return { status: 'NEEDS_USER', request: remoteConnectionRequest(this.#runtime.api, wire.request) };
    return {
      status: 'CONNECTED',
      account: wire.account,
      ...(wire.account_selection_required
        ? {
            accountSelectionRequired: true as const,
            accounts: (wire.accounts ?? []).map(({ id, alias, is_default }) => ({
              id,
              alias,
              isDefault: is_default,
            })),
          }
        : {}),
    };
  }

  /**
   * Waits on the server (`POST /sessions/:id/wait-for-connections`) until the user finished connecting
   * `toolkits` or `timeoutMs` passed; `signal` ends the request.
   */
  async waitForConnections(
    toolkits: string[],
    given?: { timeoutMs?: number; signal?: AbortSignal },
  ): Promise<WaitForConnectionsResult> {
    const options = checkedOptions(given, 'session.waitForConnections()');
    checkSignal(options.signal, 'waitForConnections()');
    const slugs = checkWaitToolkits(toolkits);
    const timeoutMs = checkConnectionsWaitTimeout(options.timeoutMs);
    // the server answers once the wait ends: its time is the request's, besides requestTimeoutMs
    return this.#api.call('POST', `${this.#path}/wait-for-connections`, {
      body: { toolkits: slugs, timeout_seconds: timeoutMs / 1000 },
      signal: options.signal,
      heldMs: timeoutMs,
      read: waitForConnectionsOf,
    });
  }

  /** Deletes the session on the server (`DELETE /sessions/:id`); its log stays there. */
  async delete(): Promise<void> {
    await this.#runtime.env.logs.flush();
    await this.#api.call('DELETE', this.#path);
  }

  async proxyExecute(request: ProxyExecuteRequest): Promise<ProxyExecuteResponse> {
    const { signal, connectedAccountId, maxResponseBytes, ...rest } = requestObject(
      request,
      'session.proxyExecute()',
    );
    toolkitSlugOf(rest.toolkit);
    checkSignal(signal, 'proxyExecute()');
    // checked here as embedded (the server checks it against its proxyMaxResponseBytes)
    checkMaxResponseBytes(maxResponseBytes);
    return this.#api.post(
      `${this.#path}/proxy`,
      {
        ...rest,
        ...(connectedAccountId !== undefined ? { connected_account_id: connectedAccountId } : {}),
        ...(maxResponseBytes !== undefined ? { max_response_bytes: maxResponseBytes } : {}),
      },
      signal,
      proxyResponseOf,
    );
  }

  async toolkits(given?: SessionToolkitsOptions): Promise<{
    items: SessionToolkit[];
    nextCursor: string | undefined;
    total: number;
  }> {
    const options = checkedOptions(given, 'session.toolkits()');
    // checked here as embedded: in the query string an array would be joined and any value be text
    checkToolkitsFilters(options);
    return this.#api.get(
      `${this.#path}/toolkits`,
      {
        limit: options.limit,
        cursor: options.cursor,
        connected: options.connected,
        toolkits: options.toolkits,
        search: options.search,
      },
      (page) => countedPageOf(page, sessionToolkitOf),
    );
  }

  async search(given: { query: string; knownFields?: string; limit?: number }): Promise<SearchToolsResult> {
    const options = searchRequestOf(given);
    return this.#api.post(
      `${this.#path}/search`,
      {
        query: options.query,
        ...(options.knownFields ? { known_fields: options.knownFields } : {}),
        // a limit given is the server's to check (0 is INVALID_REQUEST, as embedded), never dropped
        ...(options.limit !== undefined ? { limit: options.limit } : {}),
      },
      undefined,
      searchResultOf,
    );
  }

  async update(changes: SessionConfig, given?: { expectedVersion?: number }): Promise<number> {
    const { expectedVersion } = checkedOptions(given, 'session.update()');
    const parsed = parseSessionConfig(changes);
    if (parsed.experimental) {
      throw new ToolMuxError({
        code: 'CONFIG_INVALID',
        message:
          'experimental (custom tools and toolkits) cannot change in update(): create a new session with them.',
      });
    }
    this.#takeWire(
      await this.#api
        .call('PATCH', this.#path, {
          // without expectedVersion: the version this object read, as embedded (an update made
          // elsewhere since is a conflict, not overwritten)
          body: { config: parsed, expected_version: expectedVersion ?? this.#wire.config_version },
          read: sessionWireOf,
        })
        .catch((error: unknown) => {
          // the server names the expected_version it was sent, which this caller did not give: the
          // conflict of a stale object, as embedded
          const { expectedVersion: sent, currentVersion } =
            (ToolMuxError.isInstance(error) && error.code === 'SESSION_VERSION_CONFLICT' && error.details) ||
            {};
          if (expectedVersion === undefined && typeof sent === 'number' && typeof currentVersion === 'number')
            throw configVersionConflictError(this.sessionId, sent, currentVersion);
          throw error;
        }),
    );
    this.#wireFreshUntil = Date.now() + this.#runtime.sessionFreshMs;
    return this.#wire.config_version;
  }

  async logs(given?: SessionLogsOptions): Promise<{ items: ExecutionLog[]; nextCursor: string | undefined }> {
    const options = checkedOptions(given, 'session.logs()');
    await this.#runtime.env.logs.flush();
    return this.#api.get(
      `${this.#path}/logs`,
      { limit: options.limit, cursor: options.cursor, parent_id: options.parentId },
      (page) => pageOf(page, executionLogOf),
    );
  }

  toJSON(): { sessionId: string; userId: string; configVersion: number; mcp: { url: string } } {
    return {
      sessionId: this.sessionId,
      userId: this.userId,
      configVersion: this.configVersion,
      mcp: { url: this.mcp.url },
    };
  }

  [inspect.custom](): string {
    return `Session ${inspect({ ...this.toJSON(), remote: true })}`;
  }
}
