import { inspect } from 'node:util';
import { apiRef, type ErrorAudience, inputRef } from './api-refs.js';
import { type AccountChoices, isSessionBlock, pinnedOnly } from './auth/account-selection.js';
import { checkAlias } from './auth/aliases.js';
import type { AuthService } from './auth/auth-service.js';
import type { ConnectionRequest } from './auth/connection-request.js';
import {
  checkConnectionsWaitTimeout,
  checkWaitToolkits,
  connectionWaitScopeOf,
  endSessionConnectionWaits,
  toolkitConnectionState,
  type WaitForConnectionsResult,
  waitResultJson,
  waitUntilSettled,
} from './auth/connection-waiter.js';
import { proxyExecute } from './auth/proxy.js';
import type { ConnectionResult, ProxyExecuteRequest, ProxyExecuteResponse } from './auth/types.js';
import { type Catalog, toolkitMatchesSearch } from './catalog/catalog.js';
import { lowerCaseSlug } from './catalog/define.js';
import type { Tool, Toolkit } from './catalog/types.js';
import {
  exposedMetaToolKinds,
  isToolVisible,
  metaToolNamesOf,
  type NormalizedSessionConfig,
  normalizeSessionConfig,
  parseSessionConfig,
  parseToolFilter,
  type SessionConfig,
  withJoinedToolkits,
  workbenchOf,
} from './config/session-config.js';
import { quotedMessage, ToolMuxError } from './errors.js';
import type { CallInFlight } from './execution/calls-in-flight.js';
import {
  type AccountSelection,
  admitCall,
  type ExecutionEnvironment,
  executeTool,
  markFailed,
  rejectToolCall,
} from './execution/execute.js';
import { HeldLogEntries } from './execution/log-writer.js';
import type { ToolResult } from './execution/result.js';
import {
  accountOptionWay,
  applicationReader,
  forReader,
  type HintReader,
  inWordsOf,
  messageFor,
  mustChooseText,
  readerFor,
} from './meta-tools/hints.js';
import {
  ALL_META_TOOL_SLUGS,
  CELL_CALL_HOOKS,
  type CellCallHooks,
  EACH_CALL_RESULT,
  META_TOOL_NAMES,
  META_TOOLKIT,
  type MetaTool,
  type MetaToolHost,
  type MetaToolKind,
  type MultiExecuteOptions,
  metaToolKind,
  metaToolSlugs,
  metaToolsOf,
  renameMetaTools,
  runCalls,
  type SearchToolsResult,
  workbenchWithoutMetaTools,
} from './meta-tools/meta-tools.js';
import type {
  CollectionOf,
  ExecuteFn,
  ExecuteOptions,
  Provider,
  ToolCallReplyOf,
  ToolCallResponseOf,
  ToolSpec,
} from './provider.js';
import { shapeInputSchema } from './schema/shape.js';
import { MAX_QUERY_CHARS } from './search/tool-index.js';
import { configVersionConflictError } from './store/store-errors.js';
import type { AuthConfigType, ExecutionLogRecord, SessionRecord, Store } from './store/types.js';
import { toolCallExecute } from './tool-calls.js';
import { applyToolModifiers, hasModifiers, type ToolModifiers } from './tool-modifiers.js';
import type { SessionLogsOptions } from './toolmux-types.js';
import { checkSignal } from './util/abort.js';
import { filterIdOf, toolkitSlugOf, toolSlugRefusal } from './util/arguments.js';
import { closestNames, didYouMean, NameMatcher } from './util/closest-names.js';
import { idTime, newId } from './util/ids.js';
import type { Logger } from './util/logger.js';
import { checkedOptions, checkedRequest, fieldsOf, requestObject } from './util/options-object.js';
import { decodeSlugCursor, encodeSlugCursor, validateLimit } from './util/pagination.js';
import { hashToken } from './util/secret-key.js';
import { checkCallId, checkId, leadingText, shownValue } from './util/stored-text.js';
import { listOf } from './util/zod-issues.js';
import { offloadLarge, type WorkbenchSessionPort, workbenchHost } from './workbench/host.js';
import { endSessionWorkbench, workbenchPoolOf } from './workbench/workbench.js';

/** How far from now the time in a client's log entry id may be for the entry to keep that id. */
const CLIENT_LOG_ID_SKEW_MS = 5 * 60_000;

/**
 * The codes of the calls a remote-mode client refuses itself, before it sends anything, and logs: a
 * failed entry of one of them is taken for any tool (it says no tool ran), any other entry only for
 * the session's custom tools (and the multi-execute the client runs around them).
 */
export const CLIENT_REFUSAL_CODES: ReadonlySet<string> = new Set([
  // aborted before it was sent
  'TOOL_ABORTED',
  // arguments JSON would change (a NaN, a sparse array's holes, too many keys)
  'TOOL_ARGUMENTS_INVALID',
  // a client-run multi-execute's refusals of its calls (an unknown slug, a bad account, a meta-tool)
  'TOOL_NOT_FOUND',
  'INVALID_REQUEST',
  'TOOL_NOT_IN_SESSION',
]);
/** An execution log id as `newId('log')` makes them. */
const LOG_ID = /^log_[0-9a-z]{38}$/;

/** A toolkit as `session.toolkits()` lists it. */
export interface SessionToolkit {
  slug: string;
  name: string;
  description: string;
  noAuth: boolean;
  connection: {
    isActive: boolean;
    connectedAccount?: { id: string; status: string };
    /**
     * The auth config the account is connected through or, without one, the config a connection
     * would use (`managed`: toolmux created it). Absent for a toolkit without auth, and where no
     * config exists yet.
     */
    authConfig?: { id: string; type: AuthConfigType; managed: boolean };
    /**
     * With `multiAccount` on: the user's usable (ACTIVE) accounts of the toolkit, and which one a
     * call without `account` uses (`isDefault`; none when the agent must choose).
     */
    accounts?: SessionAccount[];
    /** With `multiAccount.requireExplicitSelection` and several ACTIVE accounts: calls must name one. */
    accountSelectionRequired?: boolean;
  };
}

/** A usable account of a toolkit, as `session.toolkits()` lists it. */
export interface SessionAccount {
  id: string;
  alias: string | null;
  isDefault: boolean;
}

/** What `session.authorize()` and `session.ensureConnected()` take. */
/** The options of `session.waitForConnections()`. */
type WaitOptions = { timeoutMs?: number; signal?: AbortSignal };

/** A running workbench cell's log: the entries its calls hold, and how the cell failed, once it has. */
interface CellLog {
  held: HeldLogEntries;
  failure?: { code: string; message: string };
}

export interface AuthorizeOptions {
  /** Where the user lands after connecting (on the allowlist). @default the ToolMux's defaultCallbackUrl */
  callbackUrl?: string;
  /** The alias of the new account (unique per user and toolkit: ALIAS_TAKEN otherwise), e.g. 'work'. */
  alias?: string;
}

/** What `session.toolkits()` takes; every filter is optional. */
export interface SessionToolkitsOptions {
  /** Only these toolkits (of the session's). */
  toolkits?: string[];
  /** Only toolkits whose slug, name, description or one of whose keywords contains this text (any case). */
  search?: string;
  /** Only connected (`true`) or unconnected (`false`) toolkits. */
  connected?: boolean;
  /** 1..100. @default 20 */
  limit?: number;
  cursor?: string;
}

/**
 * What `session.ensureConnected()` returns: the account the session's calls of the toolkit would use
 * (`null` for a toolkit that needs none, and where each call must name one of several accounts:
 * `accountSelectionRequired`), or the connection request the user must finish.
 */
export type EnsureConnectedResult =
  | {
      status: 'CONNECTED';
      account: ConnectionResult | null;
      /**
       * With `multiAccount.requireExplicitSelection` and several ACTIVE accounts: no call runs without
       * naming one of `accounts` (`account` option), so `account` is null.
       */
      accountSelectionRequired?: true;
      /** With `accountSelectionRequired`: the accounts a call may name, by id or alias. */
      accounts?: Array<{ id: string; alias: string | null; isDefault: boolean }>;
    }
  | { status: 'NEEDS_USER'; request: ConnectionRequest };

/**
 * What `session.search()` was given, checked alike in both modes: INVALID_REQUEST for anything but
 * an object with a non-empty `query` (a string), `knownFields` a string, `limit` within bounds.
 */
export function searchRequestOf(given: { query: string; knownFields?: string; limit?: number }): {
  query: string;
  knownFields?: string;
  limit?: number;
} {
  const options = checkedRequest(given, 'session.search()');
  const query = (options as { query?: unknown }).query;
  if (typeof query !== 'string' || query.trim() === '') {
    const got = typeof query === 'string' ? 'an empty query' : `query ${shownValue(query)}`;
    throw new ToolMuxError({
      code: 'INVALID_REQUEST',
      message: `search() takes { query }, the task in plain words, e.g. session.search({ query: 'create a GitHub issue' }); got ${got}.`,
    });
  }
  // as the REST route's schema: a limit of 0, -1 or 'x' found nothing, silently
  const limit =
    options.limit === undefined ? undefined : validateLimit(options.limit, MAX_SEARCH_RESULTS_PER_QUERY);
  return { query, knownFields: options.knownFields ?? undefined, limit };
}

/**
 * The filters of `session.toolkits()` of either session kind (a remote one checks them before they go
 * into a query string, where an array is joined and any value becomes text): INVALID_REQUEST naming
 * the one that is not of its type.
 */
export function checkToolkitsFilters(options: SessionToolkitsOptions): void {
  const { toolkits, search, connected } = options;
  if (
    toolkits !== undefined &&
    (!Array.isArray(toolkits) || toolkits.some((slug) => typeof slug !== 'string'))
  ) {
    throw new ToolMuxError({
      code: 'INVALID_REQUEST',
      message: `toolkits must be an array of toolkit slugs, not ${
        Array.isArray(toolkits)
          ? `an array holding ${shownValue(toolkits.find((slug) => typeof slug !== 'string'))}`
          : shownValue(toolkits)
      }.`,
    });
  }
  if (search !== undefined && typeof search !== 'string') {
    throw new ToolMuxError({
      code: 'INVALID_REQUEST',
      message: `search must be a string, not ${shownValue(search)}.`,
    });
  }
  if (connected !== undefined && typeof connected !== 'boolean') {
    throw new ToolMuxError({
      code: 'INVALID_REQUEST',
      message: `connected must be true (only connected toolkits) or false (only unconnected ones), not ${shownValue(connected)}.`,
    });
  }
}

/** One entry of the execution log. Payloads are redacted JSON, cut to 4 KB. */
export type ExecutionLog = ExecutionLogRecord;

/** What the session needs from its ToolMux; internal. */
export interface SessionRuntime {
  env: ExecutionEnvironment;
  store: Store;
  auth: AuthService;
  catalog: Catalog;
  provider: Provider<unknown, unknown>;
  mcpUrl: (sessionId: string) => string;
  sessionToken: (sessionId: string, version: number) => string;
  /**
   * How long a session object trusts that its session still exists, as it has it, before it reads the
   * store again (the ToolMux's `accountCacheTtlMs`): a deletion or an update on another instance
   * shows in its calls here after at most this long; one made in this process at once
   * (`noteSessionChanged`).
   */
  presenceTtlMs: number;
  /** The ToolMux's `proxyMaxResponseBytes` (checked). */
  proxyMaxResponseBytes: number;
  /**
   * Told the id of each session whose config an `update()` of this ToolMux stored (a server serving
   * it drops what it derived from the old config at once).
   */
  sessionUpdated: (sessionId: string) => void;
}

/** How many sessions were deleted or updated through each store in this process (see `noteSessionChanged`). */
const sessionChanges = new WeakMap<object, number>();

/**
 * A session was deleted or updated through `store` in this process: every session object of this
 * process reads the store again before its next call, so none of them runs anything for a deleted
 * session, or under a config that an update replaced.
 */
export function noteSessionChanged(store: object): void {
  sessionChanges.set(store, (sessionChanges.get(store) ?? 0) + 1);
}

/** SESSION_NOT_FOUND of `logs()` of a session object whose session was deleted: its log stays. */
export function deletedSessionLogsError(sessionId: string): ToolMuxError {
  return new ToolMuxError({
    code: 'SESSION_NOT_FOUND',
    message: `Session "${sessionId}" was deleted; its execution log stays: read it with ${apiRef('logs.list', { sessionId })}.`,
    details: { sessionId },
  });
}

/** SESSION_NOT_FOUND of `delete()` of a session object whose session was deleted already. */
export function deletedAlreadyError(sessionId: string): ToolMuxError {
  return new ToolMuxError({
    code: 'SESSION_NOT_FOUND',
    message: `Session "${sessionId}" was deleted already: there is nothing more to delete.`,
    details: { sessionId },
  });
}

/** SESSION_NOT_FOUND of a session object whose session was deleted (here or on another instance). */
export function sessionDeletedError(sessionId: string): ToolMuxError {
  return new ToolMuxError({
    code: 'SESSION_NOT_FOUND',
    message: `Session "${sessionId}" does not exist any more (it was deleted): it runs nothing for its user now. Create a new session with ${apiRef('create')}.`,
    details: { sessionId },
  });
}

/** How many tools one TOOLMUX_SEARCH_TOOLS query returns. */
const SEARCH_RESULTS_PER_QUERY = 5;
/** The most tools `session.search()` returns for a query (`limit`). */
const MAX_SEARCH_RESULTS_PER_QUERY = 50;

const specCache = new WeakMap<Tool, ToolSpec>();
/** What shaping each tool's input schema for the model changed (see `shapeInputSchema`), until logged. */
const shapingWarnings = new WeakMap<Tool, readonly string[]>();

/**
 * The provider-facing spec of a tool, shaped once per tool. With `logger`, what shaping changed (a
 * schema the model sees as an object of any properties, refs it could not inline, …) is logged once
 * per tool as one warning: it was worked out and dropped, so an operator never learned why a model
 * called a tool blind.
 */
export function toolSpecOf(tool: Tool, logger?: Logger): ToolSpec {
  const spec = shapedSpecOf(tool);
  const warnings = logger ? shapingWarnings.get(tool) : undefined;
  if (warnings !== undefined) {
    shapingWarnings.delete(tool);
    logger!.warn(
      `toolmux: the input schema of ${tool.slug} as the model sees it: ${warnings.join(' ')}`.slice(0, 2000),
    );
  }
  return spec;
}

function shapedSpecOf(tool: Tool): ToolSpec {
  let spec = specCache.get(tool);
  if (!spec) {
    const shaped = shapeInputSchema(tool.inputSchema);
    if (shaped.warnings.length > 0) shapingWarnings.set(tool, shaped.warnings);
    spec = {
      slug: tool.slug,
      name: tool.name,
      description: tool.description,
      inputSchema: shaped.schema,
      outputSchema: tool.outputSchema,
      toolkit: tool.toolkit,
      annotations: tool.annotations,
      ...('strictInputSchema' in tool
        ? { strictInputSchema: (tool as { strictInputSchema: ToolSpec['inputSchema'] }).strictInputSchema }
        : {}),
    };
    specCache.set(tool, spec);
  }
  return spec;
}

/**
 * One user's tool session: which toolkits and tools the agent may use, with whose accounts.
 * Create with `toolmux.create()`, resume with `toolmux.use()`. The same interface whether the
 * ToolMux is embedded (this process runs the calls) or remote (a toolmux server does).
 */
export interface Session<TCollection = unknown, TResponse = never, TReply = unknown> {
  readonly sessionId: string;
  readonly userId: string;
  /** The normalized config as stored. */
  readonly config: Readonly<NormalizedSessionConfig>;
  /** Starts at 1; `update()` increments it. */
  readonly configVersion: number;
  readonly metadata: Readonly<Record<string, string>>;
  /** The per-session MCP endpoint and the headers that authenticate to it (this session only). */
  readonly mcp: { url: string; headers: { Authorization: string } };
  /**
   * Replaces the session's MCP token and returns the new `mcp` (URL and headers). The old token stops
   * working at once, on every server instance sharing the store; the session, its config and its log
   * stay as they were. Session objects resumed before the rotation (here or elsewhere) still show the
   * old token in `mcp`: resume the session again to read the new one.
   *
   * @example
   * const { url, headers } = await session.rotateMcpToken(); // hand these to the MCP client again
   */
  rotateMcpToken(): Promise<{ url: string; headers: { Authorization: string } }>;
  /**
   * The session's tools as the provider's native collection (a Vercel `ToolSet`, OpenAI Agents
   * `FunctionTool[]`, LangChain tools, or plain tools by default). `modifiers` change the schemas the
   * model sees, the arguments before a call runs and the result before the model reads it, for any
   * provider (see `ToolModifiers`).
   *
   * @example
   * const tools = await session.tools({
   *   beforeExecute: ({ slug, args }) => (slug === 'GITHUB_CREATE_ISSUE' ? { ...args, owner: 'acme' } : args),
   * });
   */
  tools(modifiers?: ToolModifiers): Promise<TCollection>;
  /**
   * Runs a tool of this session (or a meta-tool). Never throws for a tool's failure: the result says
   * what went wrong in words the model can act on.
   */
  execute(slug: string, args?: unknown, options?: ExecuteOptions): Promise<ToolResult>;
  /**
   * Runs every tool call of a model response through the session, in parallel, each with its call
   * id, and returns what to send back to the model in the SDK's own format (Chat Completions `tool`
   * messages, Responses `function_call_output` items, Anthropic `tool_result` blocks, Google
   * `functionResponse` parts). A call to a tool the session does not have, or one that fails, is an
   * error result the model can read, never a throw. `signal` aborts every call still running. The
   * calls run as the tools of the latest `tools()` call do: with its modifiers' `beforeExecute` and
   * `afterExecute`, or without when it had none. Needs a provider with `handleToolCalls` (`@toolmux/openai`, `@toolmux/anthropic`,
   * `@toolmux/google`); with any other it throws `NOT_SUPPORTED`.
   *
   * @example
   * const response = await openai.chat.completions.create({ model, messages, tools: await session.tools() });
   * messages.push(response.choices[0].message, ...(await session.handleToolCalls(response)));
   */
  handleToolCalls(response: TResponse, options?: { signal?: AbortSignal }): Promise<TReply>;
  /**
   * Starts connecting one of the session's toolkits for the session's user: the user opens
   * `redirectUrl`, and `waitForConnection()` resolves once the account is ACTIVE.
   */
  authorize(toolkit: string, options?: AuthorizeOptions): Promise<ConnectionRequest>;
  /**
   * The account the session's calls of `toolkit` would use if it is ACTIVE (`status: 'CONNECTED'`),
   * else a new connection request for the user (`status: 'NEEDS_USER'`, as `authorize()` makes one).
   *
   * @example
   * const result = await session.ensureConnected('github', { callbackUrl: 'https://myapp.com/connected' });
   * if (result.status === 'NEEDS_USER') console.log('Connect GitHub:', result.request.redirectUrl);
   */
  ensureConnected(toolkit: string, options?: AuthorizeOptions): Promise<EnsureConnectedResult>;
  /**
   * Waits until the user has finished connecting `toolkits` (each CONNECTED, FAILED, EXPIRED or
   * NOT_STARTED: none PENDING any more) or `timeoutMs` passed (0 to 120 000; default 60 000), whichever
   * process or server instance sharing the store saw the connection finish. Resolves with each
   * toolkit's status; rejects with the abort reason when `signal` aborts. What
   * TOOLMUX_WAIT_FOR_CONNECTIONS runs.
   *
   * @example
   * const { redirectUrl } = await session.authorize('github');
   * // hand redirectUrl to the user, then
   * const { toolkits, timedOut } = await session.waitForConnections(['github'], { timeoutMs: 120_000 });
   * if (toolkits.github.status === 'CONNECTED') await session.execute('GITHUB_GET_ME', {});
   */
  waitForConnections(
    toolkits: string[],
    options?: { timeoutMs?: number; signal?: AbortSignal },
  ): Promise<WaitForConnectionsResult>;
  /**
   * Deletes the session: from then on `use()` of its id is `SESSION_NOT_FOUND` and its MCP token is
   * refused, on every server instance sharing the store, and the session objects that had it run
   * nothing more (`execute()` answers SESSION_NOT_FOUND; on another instance of an embedded ToolMux
   * after at most its `accountCacheTtlMs`). Its execution log stays readable by the project
   * (`GET /api/v1/logs?session_id=…`). Throws `SESSION_NOT_FOUND` if it is already gone.
   */
  delete(): Promise<void>;
  /** Calls a toolkit's API directly with the user's account (chosen like a tool call's). */
  proxyExecute(request: ProxyExecuteRequest): Promise<ProxyExecuteResponse>;
  /**
   * Toolkits the session enables, with their connection status and auth config, filtered by slug,
   * search text and connection.
   *
   * @example
   * const { items } = await session.toolkits({ search: 'mail', connected: false });
   */
  toolkits(options?: SessionToolkitsOptions): Promise<{
    items: SessionToolkit[];
    nextCursor: string | undefined;
    total: number;
  }>;
  /** What TOOLMUX_SEARCH_TOOLS returns, without a model. */
  search(options: { query: string; knownFields?: string; limit?: number }): Promise<SearchToolsResult>;
  /**
   * Changes the stored config and returns the new config version. Validated like `create()`.
   * `expectedVersion`: SESSION_VERSION_CONFLICT unless the stored config has that version (the
   * `configVersion` read), as `expected_version` of `PATCH /api/v1/sessions/:id`.
   */
  update(changes: SessionConfig, options?: { expectedVersion?: number }): Promise<number>;
  /**
   * This session's execution log, newest first. `parentId`: only the entries made by that call (the
   * tool calls of a TOOLMUX_WORKBENCH cell, the calls of a TOOLMUX_MULTI_EXECUTE_TOOL); each entry's
   * `parentId` names the call that made it, so the log reads as a tree.
   */
  logs(options?: SessionLogsOptions): Promise<{ items: ExecutionLog[]; nextCursor: string | undefined }>;
  toJSON(): { sessionId: string; userId: string; configVersion: number; mcp: { url: string } };
}

/** "Toolkit x is" or "Toolkits x, y are", to start a sentence about them. */
function toolkitsAre(slugs: readonly string[]): string {
  return slugs.length === 1 ? `Toolkit ${slugs[0]} is` : `Toolkits ${slugs.join(', ')} are`;
}

/**
 * Failures of one toolkit's entry of TOOLMUX_MANAGE_CONNECTIONS that are answered in that entry (the
 * others' links still reach the model): the toolkit's setup or the user's accounts, not a fault.
 */
const ENTRY_FAILURES: ReadonlySet<string> = new Set([
  'ACCOUNT_LIMIT_REACHED',
  'ALIAS_TAKEN',
  'AUTH_CONFIG_NOT_FOUND',
  'AUTH_CONFIG_INVALID',
  'AUTH_CONFIG_MISMATCH',
  'CALLBACK_URL_NOT_ALLOWED',
  'CONNECTED_ACCOUNT_NOT_FOUND',
  'CONNECTION_REQUIRED',
  'CONNECTION_EXPIRED',
]);

/**
 * A session of an embedded ToolMux: its tools run in this process, against the store.
 */
export class EmbeddedSession<TCollection = unknown, TResponse = never, TReply = unknown>
  implements Session<TCollection, TResponse, TReply>
{
  readonly sessionId: string;
  readonly userId: string;
  readonly #runtime: SessionRuntime;
  readonly #customTools: readonly Tool[];
  readonly #customToolkits: readonly Toolkit[];
  #config: NormalizedSessionConfig;
  #configVersion: number;
  #metadata: Record<string, string>;
  #tokenVersion: number;
  #visible: Map<string, Tool> | undefined;
  /** The slugs of {@link #visible}, and of their toolkits, ready for "did you mean" hints. */
  #visibleNames: NameMatcher | undefined;
  #visibleToolkits: { slugs: Set<string>; names?: NameMatcher } | undefined;
  #tools: TCollection | undefined;
  /**
   * How the tools the latest `tools()` call handed out run a call: with its modifiers' hooks, or
   * plainly (`undefined`). `handleToolCalls` runs the model's calls this way.
   */
  #toolCallExecute: ExecuteFn | undefined;
  /** The specs the latest `tools()` call handed out (modified ones with modifiers), by slug. */
  #toolCallSpecs: ReadonlyMap<string, ToolSpec> | undefined;
  #metaRuntime: Map<string, Tool> | undefined;
  #reader: HintReader | undefined;
  /**
   * A running workbench cell's, by its log id, until the cell's own entry is made: the log entries
   * its calls hold, which that entry takes along (one batch, one commit; see `#execute`), and how the
   * cell failed, which that entry says.
   */
  readonly #cellEntries = new Map<string, CellLog>();
  /** Until when the store's answer that the session exists, at `#configVersion`, stands (see `#checkExists`). */
  #existsUntil = 0;
  /**
   * A session deleted already, made only to take the log entries a remote client uploads for it
   * (`deletedSession`): its custom tools are not known any more.
   */
  readonly #deleted: boolean;
  /** The count of deletions and updates in this process (`noteSessionChanged`) when the store answered. */
  #existsSeenChanges = -1;

  /** @internal use `toolmux.create()` or `toolmux.use()` */
  constructor(
    record: SessionRecord,
    runtime: SessionRuntime,
    custom: { tools: readonly Tool[]; toolkits: readonly Toolkit[] },
    options: { deleted?: boolean } = {},
  ) {
    this.#deleted = options.deleted === true;
    this.sessionId = record.id;
    this.userId = record.userId;
    this.#runtime = runtime;
    this.#customTools = custom.tools;
    this.#config = withJoinedToolkits(
      record.config as unknown as NormalizedSessionConfig,
      runtime.catalog,
      custom.tools,
    );
    this.#configVersion = record.configVersion;
    this.#metadata = record.metadata;
    this.#tokenVersion = record.tokenVersion;
    this.#customToolkits = custom.toolkits;
    // made from what create() wrote or use() read just now
    this.#existsSeenChanges = sessionChanges.get(runtime.store) ?? 0;
    this.#existsUntil = Date.now() + runtime.presenceTtlMs;
  }

  /** The normalized config as stored. */
  get config(): Readonly<NormalizedSessionConfig> {
    return this.#config;
  }

  /** Starts at 1; `update()` increments it. */
  get configVersion(): number {
    return this.#configVersion;
  }

  get metadata(): Readonly<Record<string, string>> {
    return this.#metadata;
  }

  /** The per-session MCP endpoint and the headers that authenticate to it (this session only). */
  get mcp(): { url: string; headers: { Authorization: string } } {
    return {
      url: this.#runtime.mcpUrl(this.sessionId),
      headers: {
        Authorization: `Bearer ${this.#runtime.sessionToken(this.sessionId, this.#tokenVersion)}`,
      },
    };
  }

  /**
   * Replaces the session's MCP token (the next token version) and returns the new `mcp`. When another
   * rotation wins the race, this one rotates again after it, so the token returned is always the
   * newest. Throws `SESSION_NOT_FOUND` if the session is gone.
   */
  async rotateMcpToken(): Promise<{ url: string; headers: { Authorization: string } }> {
    const { store } = this.#runtime;
    let current = this.#tokenVersion;
    for (let attempt = 0; attempt < 5; attempt++) {
      const next = current + 1;
      const rotated = await store.rotateSessionToken(this.sessionId, {
        expectedTokenVersion: current,
        tokenVersion: next,
        tokenHash: hashToken(this.#runtime.sessionToken(this.sessionId, next)),
      });
      if (rotated) {
        this.#tokenVersion = rotated.tokenVersion;
        return this.mcp;
      }
      const stored = await store.getSession(this.sessionId);
      if (!stored) {
        throw new ToolMuxError({ code: 'SESSION_NOT_FOUND', message: `No session "${this.sessionId}".` });
      }
      current = stored.tokenVersion;
    }
    throw new ToolMuxError({
      code: 'SESSION_VERSION_CONFLICT',
      message: `The MCP token of session "${this.sessionId}" is being rotated by other callers at the same time; try again.`,
    });
  }

  /**
   * SESSION_NOT_FOUND once the session was deleted, so that no session object that had it (this one,
   * another of this process, one on another instance) runs calls or starts connections for its user
   * afterwards, as a remote session, whose server reads the store on every request; and the config an
   * update stored since, taken up, so that none of them runs a tool, or uses an account, that the
   * update took away. One primary-key read (and the config when its version moved on), then trusted
   * for `presenceTtlMs` unless a session was deleted or updated in this process meanwhile.
   */
  async #checkExists(): Promise<void> {
    if (this.#existsKnown()) return;
    const store = this.#runtime.store;
    const changes = sessionChanges.get(store) ?? 0;
    // a store of your own without getSessionConfigVersion tells only whether the session is there
    const version = store.getSessionConfigVersion
      ? await store.getSessionConfigVersion(this.sessionId)
      : (await store.getSessionTokenHash(this.sessionId)) === undefined
        ? undefined
        : this.#configVersion;
    if (version === undefined) throw sessionDeletedError(this.sessionId);
    if (version > this.#configVersion) {
      const record = await store.getSession(this.sessionId);
      if (record === undefined) throw sessionDeletedError(this.sessionId);
      this.#takeConfig(record);
    }
    this.#existsSeenChanges = changes;
    this.#existsUntil = Date.now() + this.#runtime.presenceTtlMs;
  }

  /** Whether the store's last answer that the session exists, at `#configVersion`, still stands. */
  #existsKnown(): boolean {
    return (
      this.#existsSeenChanges === (sessionChanges.get(this.#runtime.store) ?? 0) &&
      Date.now() < this.#existsUntil
    );
  }

  /**
   * Takes up a stored config newer than the one this object has (from an update through another
   * object, here or on another instance), with what was derived from the old one dropped.
   */
  #takeConfig(record: SessionRecord): void {
    if (record.configVersion <= this.#configVersion) return;
    this.#config = withJoinedToolkits(
      record.config as unknown as NormalizedSessionConfig,
      this.#runtime.catalog,
      this.#customTools,
    );
    this.#configVersion = record.configVersion;
    this.#metadata = record.metadata;
    this.#visible = undefined;
    this.#visibleNames = undefined;
    this.#visibleToolkits = undefined;
    this.#tools = undefined;
    this.#metaRuntime = undefined;
    this.#reader = undefined;
  }

  /** Tools the session may run (its toolkits, tools and tags filters applied), by slug. */
  #visibleTools(): Map<string, Tool> {
    if (!this.#visible) {
      this.#visible = new Map();
      for (const tool of this.#runtime.catalog.tools.values()) {
        if (isToolVisible(this.#config, tool)) this.#visible.set(tool.slug, tool);
      }
    }
    return this.#visible;
  }

  /** The slugs of {@link #visibleTools}, for hints: the catalog's, or those of them the session sees. */
  #visibleToolNames(): NameMatcher {
    if (!this.#visibleNames) {
      const visible = this.#visibleTools();
      const { catalog } = this.#runtime;
      this.#visibleNames =
        visible.size === catalog.tools.size
          ? catalog.toolNames
          : catalog.toolNames.subset((slug) => visible.has(slug));
    }
    return this.#visibleNames;
  }

  /**
   * The slug a call names, as the session knows the tool. A session with Composio's names
   * (`metaToolNames: 'composio'`) takes a tool's slug in any case, as Composio does
   * (`github_create_issue` is `GITHUB_CREATE_ISSUE`): every slug of toolmux is upper case, so the
   * upper-case form names one tool at most. A slug the session has no tool of stays as written.
   */
  #sessionSlug(slug: string): string {
    // not text: execute() refuses it as it is
    if (typeof slug !== 'string' || metaToolNamesOf(this.#config) !== 'composio') return slug;
    const upper = slug.toUpperCase();
    if (upper === slug || this.#metaTools().has(slug) || this.#visibleTools().has(slug)) return slug;
    return this.#metaTools().has(upper) || this.#visibleTools().has(upper) ? upper : slug;
  }

  /** The toolkits the session has a tool of. */
  #visibleToolkitSlugs(): Set<string> {
    this.#visibleToolkits ??= {
      slugs: new Set([...this.#visibleTools().values()].map((tool) => tool.toolkit)),
    };
    return this.#visibleToolkits.slugs;
  }

  /** {@link #visibleToolkitSlugs}, for hints. */
  #visibleToolkitNames(): NameMatcher {
    const slugs = this.#visibleToolkitSlugs();
    this.#visibleToolkits!.names ??= NameMatcher.sorted(slugs);
    return this.#visibleToolkits!.names;
  }

  /** The slug of each meta-tool in the session's naming style (`metaToolNames`). */
  #slugs(): Readonly<Record<MetaToolKind, string>> {
    return metaToolSlugs(metaToolNamesOf(this.#config));
  }

  /** Who reads the failures of this session's calls: its agent, with the meta-tools it has. */
  #hintReader(): HintReader {
    this.#reader ??= { metaTools: exposedMetaToolKinds(this.#config), session: true };
    return this.#reader;
  }

  /** The meta-tools the session hands its agent (`exposedMetaToolKinds`), by slug. */
  #metaTools(): Map<string, Tool> {
    if (!this.#metaRuntime) {
      const host = this.#host();
      const kinds = this.#hintReader().metaTools;
      this.#metaRuntime = new Map();
      for (const meta of metaToolsOf(metaToolNamesOf(this.#config)).values()) {
        if (!kinds.has(meta.metaKind)) continue;
        // beside direct tools, the workbench's description names no search or multi-execute
        const description =
          meta.metaKind === 'WORKBENCH' && !kinds.has('MULTI_EXECUTE_TOOL')
            ? workbenchWithoutMetaTools(meta.description, metaToolNamesOf(this.#config))
            : meta.description;
        this.#metaRuntime.set(meta.slug, {
          ...meta,
          description,
          execute: (input, context) =>
            meta.run(host, input, { signal: context.signal, callId: context.callId, logId: context.logId }),
        });
      }
    }
    return this.#metaRuntime;
  }

  /**
   * The session's multi-execute running `eachResult` on each of its calls' results (`tools()`'s
   * `afterExecute`), before they are offloaded to the workbench files, and its workbench running
   * `cellHooks` around each call of the cell (`tools()`'s `beforeExecute` and `afterExecute`) and on
   * what its `toolmux.search` finds (`modifySchema`); with an `audience` (`executeFor`), a meta-tool
   * whose results and calls name the application's operations in its words; any other tool as it is.
   */
  #withCallHooks(
    meta: Tool | undefined,
    options: MultiExecuteOptions & { audience?: ErrorAudience },
  ): Tool | undefined {
    const kind = meta === undefined ? undefined : metaToolKind(meta.slug);
    const eachResult = kind === 'MULTI_EXECUTE_TOOL' ? options[EACH_CALL_RESULT] : undefined;
    const cellHooks = kind === 'WORKBENCH' ? options[CELL_CALL_HOOKS] : undefined;
    const { audience } = options;
    if (!meta || (!eachResult && !cellHooks && !audience)) return meta;
    // what it says of the application's operations in the words of the call's reader (`executeFor`)
    const host = this.#host(audience ? readerFor(this.#hintReader(), audience) : this.#hintReader());
    return {
      ...meta,
      execute: (input, context) =>
        (meta as MetaTool).run(host, input, {
          signal: context.signal,
          callId: context.callId,
          logId: context.logId,
          ...(eachResult ? { eachResult } : {}),
          ...(cellHooks ? { cellHooks } : {}),
        }),
    };
  }

  /**
   * The tools handed to the agent: the session's meta-tools (`exposedMetaToolKinds`), then the
   * preloaded tools (META_TOOLS) or every tool the filters leave (DIRECT_TOOLS, where `preload` has
   * nothing to add).
   */
  exposedTools(): Tool[] {
    const visible = this.#visibleTools();
    if (this.#config.sessionPreset === 'DIRECT_TOOLS')
      return [...this.#metaTools().values(), ...visible.values()];
    const preloaded =
      this.#config.preload.tools === 'all'
        ? [...visible.values()]
        : this.#config.preload.tools.map((slug) => visible.get(slug)).filter((tool) => tool !== undefined);
    return [...this.#metaTools().values(), ...preloaded];
  }

  /**
   * The session's tools as the provider's native collection (a Vercel `ToolSet`, OpenAI Agents
   * `FunctionTool[]`, LangChain tools, or plain tools by default).
   */
  /** {@link exposedTools} as the provider-facing specs, what shaping changed logged once per tool. */
  exposedSpecs(): ToolSpec[] {
    const logger = this.#runtime.env.logger;
    return this.exposedTools().map((tool) => toolSpecOf(tool, logger));
  }

  async tools(given?: ToolModifiers): Promise<TCollection> {
    const modifiers = given === undefined ? undefined : checkedOptions(given, 'session.tools()');
    await this.#checkExists();
    const specs = this.exposedSpecs();
    const execute = toolCallExecute((slug, args, options) => this.execute(slug, args, options));
    if (hasModifiers(modifiers)) {
      const catalog = this.#runtime.catalog;
      const modified = applyToolModifiers(specs, execute, modifiers, {
        toolkitOf: (slug) => catalog.tools.get(slug)?.toolkit,
        inputSchemaOf: (slug) => {
          const tool = this.#visibleTools().get(slug);
          return tool && toolSpecOf(tool).inputSchema;
        },
      });
      this.#toolCallExecute = modified.execute;
      this.#toolCallSpecs = specsBySlug(modified.specs);
      return this.#runtime.provider.wrapTools(modified.specs, modified.execute) as TCollection;
    }
    this.#toolCallExecute = undefined;
    this.#toolCallSpecs = specsBySlug(specs);
    this.#tools ??= this.#runtime.provider.wrapTools(specs, execute) as TCollection;
    return this.#tools;
  }

  /**
   * Runs a tool of this session (or a meta-tool). Never throws for a tool's failure: the result says
   * what went wrong in words the model can act on.
   */
  async execute(slug: string, args: unknown = {}, given?: ExecuteOptions): Promise<ToolResult> {
    const options = checkedOptions(given, fieldsOf<ExecuteOptions>()('session.execute()'));
    // a deleted session's call is a failed result with no log entry, as a remote session's
    return this.#execute(this.#sessionSlug(slug), args, { ...options, admit: this.#admitCall });
  }

  /** The check of `execute`'s calls (see `ExecuteRequest.admit`): nothing to wait for while fresh. */
  readonly #admitCall = (): Promise<void> | undefined =>
    this.#existsKnown() ? undefined : this.#checkExists();

  /**
   * `execute` for a call made by a call a remote-mode client runs itself (its TOOLMUX_MULTI_EXECUTE_TOOL,
   * in a session with custom tools): the entry names `parentId`, an entry of this session or the id
   * the client will upload that call's entry under (not stored yet: that call is still running; see
   * `recordClientLogs` for an upload stored under another id). A value that is not a log id, or an
   * entry of another session, is refused (INVALID_REQUEST) before the call runs. A store without
   * `getLog` cannot tell: the call runs, without the parent.
   *
   * @internal the server's `POST /sessions/:id/execute` with `parent_id`
   */
  async executeUnder(
    parentId: string,
    slug: string,
    args: unknown = {},
    options: ExecuteOptions & { audience?: ErrorAudience; argumentsRefused?: string } = {},
  ): Promise<ToolResult> {
    if (typeof parentId !== 'string' || !parentId.startsWith('log_') || idTime(parentId) === undefined) {
      throw new ToolMuxError({
        code: 'INVALID_REQUEST',
        message: `parent_id ${shownValue(parentId)} is not a log entry id: name the entry of the call that made this one ("log_" and 38 letters and digits, as a result's log_id), or leave parent_id out.`,
      });
    }
    const store = this.#runtime.store;
    if (store.getLog === undefined) return this.#execute(slug, args, options);
    const parent = await store.getLog(parentId);
    if (parent !== undefined && parent.sessionId !== this.sessionId) {
      throw new ToolMuxError({
        code: 'INVALID_REQUEST',
        message: `parent_id ${parentId} is an entry of another session: a call's parent must be an entry of session ${this.sessionId} (or the id the client will upload that entry under).`,
      });
    }
    return this.#execute(slug, args, { ...options, parentId });
  }

  /**
   * `execute` whose failures name the application's operations in the words of `audience`: the REST
   * API's for an HTTP client of the server (`POST /api/v1/sessions/:sessionId/authorize` where the SDK
   * reads `session.authorize("github")`).
   *
   * @internal the server's `POST /sessions/:id/execute`
   */
  async executeFor(
    audience: ErrorAudience,
    slug: string,
    args: unknown = {},
    options: ExecuteOptions & { argumentsRefused?: string } = {},
  ): Promise<ToolResult> {
    // admitted as execute()'s calls are: a deleted session runs nothing, close() waits for it
    return this.#execute(this.#sessionSlug(slug), args, { ...options, audience, admit: this.#admitCall });
  }

  /**
   * `waitForConnections` whose messages name the application's operations in the words of
   * `audience`, with the result as the REST API answers it (`waitResultJson`).
   *
   * @internal the server's `POST /sessions/:id/wait-for-connections`
   */
  async waitForConnectionsFor(
    audience: ErrorAudience,
    toolkits: string[],
    options: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<ReturnType<typeof waitResultJson>> {
    const reader = readerFor(applicationReader(true), audience);
    return waitResultJson(await this.#waitForConnections(toolkits, options, reader), reader);
  }

  /** `execute`, and for calls made by a meta-tool, the log entry of that call as the parent. */
  async #execute(
    slug: string,
    args: unknown,
    options: MultiExecuteOptions & {
      parentId?: string;
      holdLog?: (entry: ExecutionLogRecord) => void;
      audience?: ErrorAudience;
      admit?: () => Promise<void> | undefined;
      /** See `ExecuteRequest.argumentsRefused`. */
      argumentsRefused?: string;
    },
  ): Promise<ToolResult> {
    const refused = toolSlugRefusal(slug, 'execute()');
    if (refused) return refused;
    checkCallId(options.callId);
    checkSignal(options.signal, 'execute()');
    // before the tool and the accounts are chosen: by the config as it is now (an update may have
    // taken them away), and not at all for a deleted session. Nothing to wait for while fresh.
    // counted in flight from its admission on (close() waits for it), handed to executeTool
    let admitted: CallInFlight | undefined;
    const admitting = options.admit?.();
    if (admitting !== undefined) {
      const admission = await admitCall(this.#runtime.env, slug, this.sessionId, admitting);
      if ('refused' in admission) return admission.refused;
      admitted = admission.inFlight;
    }
    // A workbench cell's own entry is written with its calls' entries still held (one batch, one
    // commit), and the call answers once they are all stored.
    let cellStored: Promise<void> | undefined;
    // how the cell failed (its code threw, it reached a limit), once its entry was made
    let cellFailure: CellLog['failure'];
    let cell: boolean;
    let holdLog: ((entry: ExecutionLogRecord) => void) | undefined;
    let executed: Promise<ToolResult>;
    const call = {
      slug,
      arguments: args,
      userId: this.userId,
      sessionId: this.sessionId,
      callId: options.callId,
      parentId: options.parentId,
    };
    try {
      const meta = this.#withCallHooks(this.#metaTools().get(slug), options);
      const tool = meta ?? this.#visibleTools().get(slug);
      if (!tool) {
        return rejectToolCall(
          this.#runtime.env,
          call,
          this.#notAvailable(slug),
          options.holdLog,
          options.audience,
        );
      }
      cell = meta !== undefined && metaToolKind(slug) === 'WORKBENCH';
      holdLog =
        options.holdLog ??
        (cell
          ? (entry: ExecutionLogRecord) => {
              const cellLog = this.#cellEntries.get(entry.id);
              this.#cellEntries.delete(entry.id);
              // the model reads the cell's error in its answer; the log says that the cell failed
              cellFailure = cellLog?.failure;
              if (cellFailure) markFailed(entry, cellFailure);
              cellStored = cellLog
                ? cellLog.held.storedWith(entry)
                : this.#runtime.env.logs.write(entry).then(() => undefined);
            }
          : undefined);
      executed = executeTool(this.#runtime.env, {
        tool,
        toolkit: meta ? META_TOOLKIT : this.#runtime.catalog.getToolkit(tool.toolkit),
        arguments: args,
        userId: this.userId,
        sessionId: this.sessionId,
        callId: options.callId,
        parentId: options.parentId,
        signal: options.signal,
        account: meta ? undefined : options.account,
        selection: this.#selection(),
        reader: options.audience ? readerFor(this.#hintReader(), options.audience) : this.#hintReader(),
        holdLog,
        inFlight: admitted,
        ...(options.argumentsRefused !== undefined ? { argumentsRefused: options.argumentsRefused } : {}),
      });
      admitted = undefined;
    } finally {
      // not handed on (a tool the session does not have): rejectToolCall counts it itself
      if (admitted) this.#runtime.env.calls?.leave(admitted);
    }
    const result = await (cell
      ? // `ToolMux.close()` ends the cell and waits for this (until its log entries are stored)
        // before it closes the log writer and the store
        workbenchPoolOf(this.#runtime.store).track(
          executed.then(async (result) => {
            if (holdLog !== options.holdLog) {
              // executeTool always gives the entry; were it not given, the cell's calls' entries still go
              const leftover = this.#cellEntries.get(result.logId);
              this.#cellEntries.delete(result.logId);
              cellFailure ??= leftover?.failure;
              await Promise.all([cellStored, leftover?.held.stored()]);
            }
            // the model reads the cell's error in its answer; providers flag the call as failed
            return cellFailure && result.successful
              ? { ...result, cellFailed: true as const, cellError: { ...cellFailure } }
              : result;
          }),
        )
      : executed);
    // Messages that point the model to a meta-tool name the session's own meta-tools.
    const names = metaToolNamesOf(this.#config);
    if (names === 'toolmux') return result;
    if (!result.successful) return { ...result, error: renameMetaTools(result.error, names) };
    // a failed cell's error as its answer tells it (the workbench names toolmux's meta-tools)
    return result.cellError
      ? {
          ...result,
          cellError: { ...result.cellError, message: renameMetaTools(result.cellError.message, names) },
        }
      : result;
  }

  /**
   * Runs every tool call of a model response through the session with the provider's
   * `handleToolCalls`, as the tools of the latest `tools()` call run them (with its modifiers); see
   * `Session.handleToolCalls`.
   */
  async handleToolCalls(response: TResponse, given?: { signal?: AbortSignal }): Promise<TReply> {
    const options = checkedOptions(given, fieldsOf<{ signal?: AbortSignal }>()('session.handleToolCalls()'));
    return handleToolCallsWith(
      this.#runtime.provider,
      response,
      options.signal,
      this.#toolCallExecute ?? ((slug, args, callOptions) => this.execute(slug, args, callOptions)),
      // a session resumed with use() runs the calls of tools an earlier process handed out: its own
      this.#toolCallSpecs ?? specsBySlug(this.exposedSpecs()),
    ) as Promise<TReply>;
  }

  /** The config's say on accounts, for the precedence rules. */
  #selection(): AccountSelection {
    return {
      connectedAccounts: this.#config.connectedAccounts,
      authConfigs: this.#config.authConfigs,
      ...(this.#config.multiAccount ? { multiAccount: this.#config.multiAccount } : {}),
    };
  }

  /**
   * A toolkit of this session (one its filters leave at least one tool of). Another is refused with
   * what the application can do: the session's toolkits, and how to allow a catalog's toolkit (an
   * update of its config), or where the catalog's toolkits are listed.
   */
  #sessionToolkit(slug: string): Toolkit {
    if (!this.#visibleToolkitSlugs().has(slug)) {
      const named = String(slug);
      const inCatalog = this.#runtime.catalog.toolkits.has(slug);
      const close = didYouMean(named, this.#visibleToolkitNames());
      // a slug close to none of the session's: the catalog's close ones, which an update would allow
      const closeInCatalog = close === '' ? closestNames(named, this.#runtime.catalog.toolkits.keys()) : [];
      const fix = inCatalog
        ? `To use it, allow it in the session's config: ${apiRef('session.update.toolkits', { toolkit: named })} (its tools and tags filters, when set, must leave it a tool).`
        : `The catalog has no toolkit of that slug either${closeInCatalog.length > 0 ? ` (it has ${closeInCatalog.map((name) => `"${name}"`).join(', ')})` : ''}: its toolkits are listed by ${apiRef('toolkits.list')}.`;
      throw new ToolMuxError({
        code: inCatalog ? 'TOOL_NOT_IN_SESSION' : 'TOOLKIT_NOT_FOUND',
        // the slug as the caller named it (the Composio-compatible API's toolkit_slug, as sent)
        message: `${inputRef('toolkit', shownValue(slug))} is not a toolkit of this session.${close} The session's toolkits: ${listOf([...this.#visibleToolkitSlugs()].sort(), ',') || 'none'}. ${fix}`,
      });
    }
    return this.#runtime.catalog.getToolkit(slug);
  }

  /**
   * Starts connecting one of the session's toolkits for the session's user: the user opens
   * `redirectUrl` (to sign in at the provider, or to give an API key, token or password), and
   * `waitForConnection()` resolves once the account is ACTIVE, whichever process saw it finish. The auth
   * config is the session's `authConfigs` entry, else the one toolmux manages from `managedAuth`.
   *
   * @example
   * const request = await session.authorize('github', { callbackUrl: 'https://myapp.com/connected' });
   * // send the user to request.redirectUrl, then
   * const account = await request.waitForConnection(120_000);
   */
  async authorize(toolkit: string, given?: AuthorizeOptions): Promise<ConnectionRequest> {
    const options = checkedOptions(given, fieldsOf<AuthorizeOptions>()('session.authorize()'));
    toolkitSlugOf(toolkit);
    await this.#checkExists();
    return this.#runtime.auth.authorize({
      userId: this.userId,
      toolkit: this.#sessionToolkit(toolkit),
      selection: this.#selection(),
      callbackUrl: options?.callbackUrl,
      alias: options?.alias,
    });
  }

  /**
   * The account the session's calls of `toolkit` would use if it is ACTIVE, else a new connection
   * request (see `authorize()`); a toolkit that needs no account is CONNECTED with `account: null`.
   */
  async ensureConnected(toolkit: string, given?: AuthorizeOptions): Promise<EnsureConnectedResult> {
    const options = checkedOptions(given, fieldsOf<AuthorizeOptions>()('session.ensureConnected()'));
    toolkitSlugOf(toolkit);
    await this.#checkExists();
    const found = this.#sessionToolkit(toolkit);
    if (found.noAuth) return { status: 'CONNECTED', account: null };
    if (options?.alias !== undefined) {
      // the account of that alias, if the session may use it and it is ACTIVE; else connect one under it
      const { accounts } = await this.#runtime.auth.accountChoices({
        toolkit: found,
        userId: this.userId,
        selection: this.#selection(),
      });
      const named = accounts.find((account) => account.alias === options.alias);
      return named
        ? { status: 'CONNECTED', account: { id: named.id, status: 'ACTIVE', toolkit: found.slug } }
        : { status: 'NEEDS_USER', request: await this.authorize(toolkit, options) };
    }
    const { connection, blocked } = await this.#connectionState(found);
    if (connection.isActive) {
      // calls must name one of several accounts: none is "the account the calls use"
      const choices = await this.#accountChoices(found);
      if (choices?.mustChoose) {
        return {
          status: 'CONNECTED',
          account: null,
          accountSelectionRequired: true,
          accounts: choices.accounts.map(({ id, alias, isDefault }) => ({ id, alias, isDefault })),
        };
      }
      const account = connection.connectedAccount;
      return {
        status: 'CONNECTED',
        account: account ? { id: account.id, status: 'ACTIVE', toolkit: found.slug } : null,
      };
    }
    // the accounts the session may only use are not usable, or its auth config is gone: the
    // request handed out before connected an account the session could never use. One of them
    // expired is reconnected in place: the session uses it again once the user finishes.
    if (blocked) {
      const request = await this.#reconnectPinned(found, blocked, options?.callbackUrl, { form: true });
      if (request) return { status: 'NEEDS_USER', request };
      throw blocked;
    }
    return { status: 'NEEDS_USER', request: await this.authorize(toolkit, options) };
  }

  /**
   * Waits until the user finished connecting `toolkits` or `timeoutMs` passed; see
   * `Session.waitForConnections` and `auth/connection-waiter.ts` for how it learns of a connection
   * finished elsewhere.
   */
  async waitForConnections(
    toolkits: string[],
    given?: { timeoutMs?: number; signal?: AbortSignal },
  ): Promise<WaitForConnectionsResult> {
    const options = checkedOptions(given, fieldsOf<WaitOptions>()('session.waitForConnections()'));
    checkSignal(options.signal, 'waitForConnections()');
    return this.#waitForConnections(toolkits, options);
  }

  /** `waitForConnections`, its messages for `reader` (the application's words by default). */
  async #waitForConnections(
    toolkits: string[],
    options: { timeoutMs?: number; signal?: AbortSignal },
    reader?: HintReader,
  ): Promise<WaitForConnectionsResult> {
    const slugs = checkWaitToolkits(toolkits);
    const timeoutMs = checkConnectionsWaitTimeout(options.timeoutMs);
    const found = new Map(slugs.map((slug) => [slug, this.#sessionToolkit(slug)]));
    const { store } = this.#runtime;
    return waitUntilSettled({
      store,
      toolkits: slugs,
      timeoutMs,
      signal: options.signal,
      scope: connectionWaitScopeOf(this),
      session: {
        id: this.sessionId,
        exists: async () => (await store.getSession(this.sessionId)) !== undefined,
      },
      watch: store.watchConnections
        ? (onChange) => store.watchConnections!(this.userId, onChange)
        : undefined,
      read: async (slug) => {
        const toolkit = found.get(slug)!;
        if (toolkit.noAuth) {
          return { status: 'CONNECTED', account: null, message: `${toolkit.name} needs no account.` };
        }
        const request = await store.latestConnectionRequest?.(this.userId, slug);
        // why the attempt failed, which says when a new link cannot help (a refused OAuth client)
        const failed =
          request?.status === 'FAILED' && request.connectedAccountId
            ? await store.getConnectedAccountStatus(request.connectedAccountId)
            : undefined;
        const { connection, blocked } = await this.#connectionState(toolkit);
        // the session's settings leave it no account a connection could give: no wait can end
        // that, and "get a new link" sent the model round in a loop; unless the latest request
        // reconnects the account that expired, which ends it (or, failed or expired, says so and
        // that a new link reconnects it again: TOOLMUX_MANAGE_CONNECTIONS gives one)
        const reconnecting =
          request !== undefined && request.connectedAccountId === blocked?.details?.connectedAccountId;
        if (blocked && !reconnecting) {
          const blockReader = reader ?? applicationReader(true);
          return {
            status: 'FAILED',
            message: messageFor(forReader(blocked, blockReader) as ToolMuxError, blockReader),
          };
        }
        // several accounts, and calls must name one: connected, yet no account is the calls' own
        const choices = connection.isActive ? await this.#accountChoices(toolkit) : undefined;
        return toolkitConnectionState(
          toolkit,
          request,
          connection,
          new Date(),
          reader,
          failed?.statusReason,
          choices?.mustChoose ? choices.accounts : undefined,
        );
      },
    });
  }

  /**
   * Deletes the session from the store; its execution log stays. Throws `SESSION_NOT_FOUND` if it is
   * already gone.
   */
  async delete(): Promise<void> {
    if (!(await this.#runtime.store.deleteSession(this.sessionId))) throw deletedAlreadyError(this.sessionId);
    noteSessionChanged(this.#runtime.store);
    endSessionConnectionWaits(this.#runtime.store, this.sessionId);
    endSessionWorkbench(this.#runtime.store, this.sessionId);
  }

  /**
   * Calls a toolkit's API directly with the user's account (chosen like a tool call's): `endpoint` is
   * a path under the toolkit's `baseUrl` or an absolute URL on its origin. Credentials are applied as
   * the auth scheme says and masked in what comes back; redirects are returned, not followed.
   */
  async proxyExecute(given: ProxyExecuteRequest): Promise<ProxyExecuteResponse> {
    const request = requestObject(given, 'session.proxyExecute()');
    toolkitSlugOf(request.toolkit);
    checkSignal(request.signal, 'proxyExecute()');
    await this.#checkExists();
    return proxyExecute(this.#runtime.auth, this.#runtime.env.fetch, {
      toolkit: this.#sessionToolkit(request.toolkit),
      userId: this.userId,
      selection: this.#selection(),
      request,
      maxResponseBytes: this.#runtime.proxyMaxResponseBytes,
    });
  }

  #notAvailable(slug: string): ToolMuxError {
    const { catalog } = this.#runtime;
    const kinds = this.#hintReader().metaTools;
    const find = kinds.has('SEARCH_TOOLS')
      ? `Use ${this.#slugs().SEARCH_TOOLS} to find the tools you can use.`
      : 'Call only the tools this session gave you.';
    const kind = metaToolKind(slug);
    if (kind) {
      return new ToolMuxError({
        code: 'TOOL_NOT_IN_SESSION',
        message: `${slug} is not a tool of this session: it does not include that meta-tool (${this.#config.sessionPreset === 'DIRECT_TOOLS' ? 'it gives its tools directly' : 'its config turns it off'}). ${find}`,
      });
    }
    if (catalog.tools.has(slug)) {
      return new ToolMuxError({
        code: 'TOOL_NOT_IN_SESSION',
        message: `Tool ${slug} is not available in this session (its toolkit, tool or tag filters exclude it). ${find}`,
      });
    }
    return new ToolMuxError({
      code: 'TOOL_NOT_FOUND',
      message: `There is no tool ${shownValue(slug)}.${didYouMean(slug, this.#visibleToolNames())} ${kinds.has('SEARCH_TOOLS') ? `Use ${this.#slugs().SEARCH_TOOLS} to find the right slug.` : 'Call only the tools this session gave you.'}`,
    });
  }

  /** Toolkits the session enables, with their connection status. */
  async toolkits(given?: SessionToolkitsOptions): Promise<{
    items: SessionToolkit[];
    nextCursor: string | undefined;
    total: number;
  }> {
    const options = checkedOptions(given, 'session.toolkits()');
    const limit = validateLimit(options.limit ?? 20, 100);
    const from = decodeSlugCursor(options.cursor);
    checkToolkitsFilters(options);
    await this.#checkExists();
    // a slug the session's catalog lacks is a typo, not a toolkit with nothing to list
    await this.#runtime.catalog.checkToolkitFilter('toolkits', options.toolkits);
    const only = options.toolkits ? new Set(options.toolkits) : undefined;
    const needle = options.search?.trim().toLowerCase();
    const toolkitSlugs = [...this.#visibleToolkitSlugs()]
      .filter((slug) => !only || only.has(slug))
      .filter((slug) => {
        if (!needle) return true;
        return toolkitMatchesSearch(this.#runtime.catalog.getToolkit(slug), needle);
      });
    let items = await Promise.all(toolkitSlugs.sort().map((slug) => this.#toolkitInfo(slug)));
    if (options.connected !== undefined)
      items = items.filter((item) => item.connection.isActive === options.connected);
    // the page starts after the last slug the page before showed: a toolkit connected, added or
    // filtered out since (or a cursor of the list with other filters) moves no other one
    const rest = from ? items.filter((item) => item.slug > from.after) : items;
    const page = rest.slice(0, limit);
    const last = page.at(-1);
    return {
      items: page,
      nextCursor:
        rest.length > limit && last
          ? encodeSlugCursor({ after: last.slug, shown: (from?.shown ?? 0) + page.length })
          : undefined,
      total: items.length,
    };
  }

  async #toolkitInfo(slug: string): Promise<SessionToolkit> {
    const toolkit = this.#runtime.catalog.getToolkit(slug);
    const connection = await this.#connection(toolkit);
    const authConfig = toolkit.noAuth ? undefined : await this.#authConfigOf(toolkit, connection);
    const choices = await this.#accountChoices(toolkit);
    return {
      slug,
      name: toolkit.name,
      description: toolkit.description,
      noAuth: toolkit.noAuth,
      connection: {
        ...connection,
        ...(authConfig ? { authConfig } : {}),
        ...(choices ? { accounts: choices.accounts, accountSelectionRequired: choices.mustChoose } : {}),
      },
    };
  }

  /** With `multiAccount` on, a toolkit's usable accounts and whether calls must choose one. */
  async #accountChoices(toolkit: Toolkit): Promise<AccountChoices | undefined> {
    if (!this.#config.multiAccount?.enable || toolkit.noAuth) return undefined;
    return this.#runtime.auth.accountChoices({
      toolkit,
      userId: this.userId,
      selection: this.#selection(),
    });
  }

  /** The auth config of the toolkit's account, else the one a connection would use (none is created). */
  async #authConfigOf(
    toolkit: Toolkit,
    connection: SessionToolkit['connection'],
  ): Promise<SessionToolkit['connection']['authConfig']> {
    const { auth } = this.#runtime;
    let id: string | undefined;
    if (connection.connectedAccount) {
      id = (await auth.getConnectedAccount(connection.connectedAccount.id)).authConfigId;
    } else {
      // the session's auth config deleted since: its entry shows no auth config (every other
      // toolkit of the session is still listed; the whole list failed AUTH_CONFIG_NOT_FOUND)
      const plan = await auth
        .connectionPlan(toolkit, this.#selection(), { create: false })
        .catch((error: unknown) => {
          if (ToolMuxError.isInstance(error) && error.code === 'AUTH_CONFIG_NOT_FOUND') return undefined;
          throw error;
        });
      id =
        plan?.kind === 'oauth2'
          ? plan.authConfig.id
          : plan?.kind === 'fields'
            ? plan.authConfigId
            : undefined;
    }
    if (!id) return undefined;
    const config = await auth.getAuthConfig(id);
    return { id: config.id, type: config.type, managed: config.createdBy === 'toolmux' };
  }

  async #connection(toolkit: Toolkit): Promise<SessionToolkit['connection']> {
    return (await this.#connectionState(toolkit)).connection;
  }

  /**
   * How `toolkit` stands for this session's calls, and (`blocked`) why its own settings leave it no
   * usable account such that a new connection would not help (the accounts it may only use are not
   * usable; its auth config was deleted), as the error its calls get: one account lookup for both.
   */
  async #connectionState(
    toolkit: Toolkit,
  ): Promise<{ connection: SessionToolkit['connection']; blocked?: ToolMuxError | undefined }> {
    if (toolkit.noAuth) return { connection: { isActive: true } };
    try {
      const account = await this.#runtime.env.resolveAccount({
        toolkit,
        userId: this.userId,
        sessionId: this.sessionId,
        selection: this.#selection(),
        peek: true,
      });
      return {
        connection: account.accountId
          ? {
              isActive: true,
              connectedAccount: { id: account.accountId, status: account.status ?? 'ACTIVE' },
            }
          : { isActive: true },
      };
    } catch (error) {
      const expired =
        ToolMuxError.isInstance(error) && error.code === 'CONNECTION_EXPIRED' ? error.details : undefined;
      return {
        connection:
          typeof expired?.connectedAccountId === 'string'
            ? { isActive: false, connectedAccount: { id: expired.connectedAccountId, status: 'EXPIRED' } }
            : { isActive: false },
        blocked: isSessionBlock(error) ? error : undefined,
      };
    }
  }

  /**
   * What TOOLMUX_SEARCH_TOOLS returns, without a model; its `next_steps` name the application's
   * operations (`session.authorize`, `session.execute`), not the agent's meta-tools.
   */
  async search(given: { query: string; knownFields?: string; limit?: number }): Promise<SearchToolsResult> {
    return this.#searchFor(given, applicationReader(true));
  }

  /**
   * `search` whose `next_steps` are for the application (`reader`, the default) or for the session's
   * agent (`'agent'`: its meta-tools, as TOOLMUX_SEARCH_TOOLS does), naming the application's
   * operations in the words of `audience`.
   *
   * @internal the server's `POST /sessions/:id/search` (an application's), and the search of its
   * Composio-compatible API (whose answer, as Composio's, guides the agent)
   */
  async searchFor(
    audience: ErrorAudience,
    given: { query: string; knownFields?: string; limit?: number },
    reader: 'application' | 'agent' = 'application',
  ): Promise<SearchToolsResult> {
    return this.#searchFor(
      given,
      readerFor(reader === 'agent' ? this.#hintReader() : applicationReader(true), audience),
    );
  }

  /** One search of `search()`'s arguments, its `next_steps` for `reader`. */
  async #searchFor(
    given: { query: string; knownFields?: string; limit?: number },
    reader: HintReader,
  ): Promise<SearchToolsResult> {
    const options = searchRequestOf(given);
    await this.#checkExists();
    return this.#search(
      [{ use_case: options.query, known_fields: options.knownFields }],
      options.limit,
      reader,
    );
  }

  /**
   * The search of TOOLMUX_SEARCH_TOOLS, `toolmux.search` and `search()`: `next_steps` tell `reader`
   * (the agent, with the meta-tools it has, by default) how to go on.
   */
  async #search(
    queries: Array<{ use_case: string; known_fields?: string | null }>,
    limit = SEARCH_RESULTS_PER_QUERY,
    reader: HintReader = this.#hintReader(),
  ): Promise<SearchToolsResult> {
    const visible = this.#visibleTools();
    const filter = (slug: string) => visible.has(slug);
    const connections = new Map<string, SessionToolkit['connection']>();
    const choices = new Map<string, AccountChoices | undefined>();
    const results: SearchToolsResult['results'] = [];
    // built on the first search, a slice at a time (thousands of custom tools are a long stretch)
    const index = await this.#runtime.catalog.searchIndex();
    for (const query of queries) {
      const text = query.known_fields ? `${query.use_case} ${query.known_fields}` : query.use_case;
      // a use case that is a tool's slug or name ranks that tool first, whatever the known fields
      const hits = await index.searchHybrid(text, { limit, filter, exactQuery: query.use_case });
      const tools: SearchToolsResult['results'][number]['tools'] = [];
      for (const hit of hits) {
        const tool = visible.get(hit.slug)!;
        if (!connections.has(tool.toolkit)) {
          const toolkit = this.#runtime.catalog.getToolkit(tool.toolkit);
          connections.set(tool.toolkit, await this.#connection(toolkit));
          choices.set(tool.toolkit, await this.#accountChoices(toolkit));
        }
        tools.push({
          tool_slug: tool.slug,
          toolkit: tool.toolkit,
          description: tool.description,
          input_schema: toolSpecOf(tool).inputSchema,
        });
      }
      // the part of the use case search read: a megabyte a model sent is not sent back to it
      results.push({ use_case: leadingText(query.use_case, MAX_QUERY_CHARS), tools });
    }
    const toolkit_connections = [...connections].map(([toolkit, connection]) => {
      const accounts = choices.get(toolkit);
      return {
        toolkit,
        connected: connection.isActive,
        ...(connection.connectedAccount ? { connected_account_id: connection.connectedAccount.id } : {}),
        ...(accounts
          ? {
              accounts: accounts.accounts.map((account) => ({
                id: account.id,
                alias: account.alias,
                is_default: account.isDefault,
              })),
              account_selection_required: accounts.mustChoose,
            }
          : {}),
      };
    });
    const choosing = toolkit_connections.filter(
      (entry) => 'account_selection_required' in entry && entry.account_selection_required,
    );
    const several = toolkit_connections.filter(
      (entry) =>
        'accounts' in entry && (entry.accounts?.length ?? 0) > 1 && !entry.account_selection_required,
    );
    const unconnected = toolkit_connections.filter((entry) => !entry.connected).map((entry) => entry.toolkit);
    const found = results.some((result) => result.tools.length > 0);
    const slugs = this.#slugs();
    const kinds = reader.metaTools;
    // the agent reads TOOLMUX_SEARCH_TOOLS and toolmux.search (they are its meta-tools: it has one
    // at least); the application reads search(), and does what its agent is told in its own words
    const application = kinds.size === 0;
    const next_steps = !found
      ? 'No tool matched. Rephrase the use case with other words or the app name, or tell the user this session cannot do it.'
      : [
          unconnected.length > 0 && application
            ? `${toolkitsAre(unconnected)} not connected: before running ${unconnected.length === 1 ? 'its' : 'their'} tools, start ${unconnected.length === 1 ? 'its connection' : 'the connection of each'} with ${apiRef('session.authorize', unconnected.length === 1 ? { toolkit: unconnected[0]! } : {})}, hand the user its ${apiRef('redirectUrl')} and wait with ${apiRef('session.waitForConnections')}.`
            : unconnected.length > 0 && kinds.has('MANAGE_CONNECTIONS')
              ? `${toolkitsAre(unconnected)} not connected: call ${slugs.MANAGE_CONNECTIONS} for ${unconnected.length === 1 ? 'it' : 'them'} before running ${unconnected.length === 1 ? 'its' : 'their'} tools.`
              : unconnected.length > 0
                ? `${toolkitsAre(unconnected)} not connected: ask the user to connect ${unconnected.length === 1 ? 'it' : 'them'}.`
                : '',
          choosing.length > 0 && application
            ? `The user has several accounts of ${choosing.map((entry) => entry.toolkit).join(', ')} and each call of these toolkits must name one (an alias or id from accounts): ${accountOptionWay(reader)}.`
            : choosing.length > 0
              ? `The user has several accounts of ${choosing.map((entry) => entry.toolkit).join(', ')} and you must choose: set "account" (an alias or id from accounts) on each call of these toolkits; ask the user which account if it is not clear.`
              : '',
          several.length > 0 && application
            ? `The user has several accounts of ${several.map((entry) => entry.toolkit).join(', ')}: calls use the one with is_default unless they name another (an alias or id from accounts): ${accountOptionWay(reader)}.`
            : several.length > 0
              ? `The user has several accounts of ${several.map((entry) => entry.toolkit).join(', ')}: calls use the one with is_default unless you set "account" (an alias or id from accounts).`
              : '',
          application
            ? `Run the tools with ${apiRef('session.execute')}, using the tool_slug and argument names exactly as given.`
            : kinds.has('MULTI_EXECUTE_TOOL')
              ? `Run the tools you need with ${slugs.MULTI_EXECUTE_TOOL}, using the tool_slug and argument names exactly as given.`
              : 'Run the tools you need by their tool_slug, with the argument names exactly as given.',
        ]
          .filter(Boolean)
          .join(' ');
    return { results, toolkit_connections, next_steps: inWordsOf(reader, next_steps) };
  }

  /** What the meta-tools run with; `reader`: in whose words their results name the application's operations. */
  #host(reader: HintReader = this.#hintReader()): MetaToolHost {
    return {
      sessionId: this.sessionId,
      describeToolkit: (slug) => {
        const toolkit = this.#runtime.catalog.toolkits.get(slug);
        return toolkit ? { name: toolkit.name, description: toolkit.description } : undefined;
      },
      toolkitSlugIn: (slug) => {
        const lower = lowerCaseSlug(slug);
        return this.#visibleToolkitSlugs().has(lower) ? lower : slug;
      },
      searchTools: (queries) => this.#search(queries),
      waitForConnectionsTool: reader.metaTools.has('WAIT_FOR_CONNECTIONS')
        ? this.#slugs().WAIT_FOR_CONNECTIONS
        : undefined,
      getToolSchemas: (slugs) => {
        const visible = this.#visibleTools();
        const tools = [];
        const not_found = [];
        const hints = [];
        // each slug answered once, however often it is asked for (50 copies of one schema before)
        for (const slug of new Set(slugs.map((asked) => this.#sessionSlug(asked)))) {
          const tool = visible.get(slug);
          if (!tool) {
            not_found.push(slug);
            // a meta-tool the session has is one the agent holds already, with its schema: "not a
            // tool of this session" of TOOLMUX_WORKBENCH read as if the session had none
            const kind = metaToolKind(slug);
            hints.push(
              kind !== undefined && reader.metaTools.has(kind) && this.#slugs()[kind] === slug
                ? `${slug} is a meta-tool of this session: its schema is in its own tool definition, and it is called directly.`
                : `${shownValue(slug)} is not a tool of this session.${didYouMean(slug, this.#visibleToolNames())}`,
            );
            continue;
          }
          tools.push({
            tool_slug: slug,
            toolkit: tool.toolkit,
            description: tool.description,
            input_schema: toolSpecOf(tool).inputSchema,
            ...(tool.outputSchema ? { output_schema: tool.outputSchema } : {}),
          });
        }
        return not_found.length > 0
          ? {
              tools,
              not_found,
              hint: `${hints.join(' ')} Find the right slugs with ${this.#slugs().SEARCH_TOOLS}.`,
            }
          : { tools };
      },
      manageConnections: async (toolkitSlugs, reinitiate, alias) => {
        if (alias !== undefined) checkAlias(alias);
        const visibleToolkits = this.#visibleToolkitSlugs();
        const results = [];
        // each toolkit once: a repeated one started a connection request per repetition
        for (const slug of new Set(toolkitSlugs)) {
          if (!visibleToolkits.has(slug)) {
            results.push({
              toolkit: slug,
              connected: false,
              message: `${shownValue(slug)} is not a toolkit of this session.${didYouMean(slug, this.#visibleToolkitNames())}`,
            });
            continue;
          }
          const toolkit = this.#runtime.catalog.getToolkit(slug);
          try {
            results.push(await this.#manageConnection(toolkit, reinitiate, alias));
          } catch (error) {
            // one toolkit that cannot be connected now fails its own entry: the whole call failed,
            // and the links of the toolkits before it (started already) never reached the model
            if (!ToolMuxError.isInstance(error) || !ENTRY_FAILURES.has(error.code)) throw error;
            results.push(this.#unconnectable(toolkit, error));
          }
        }
        return { results };
      },
      multiExecute: async (calls, options, offload = 'auto') => {
        // results go to the workbench files only where the agent has the workbench to read them
        const workbench = {
          ...workbenchOf(this.#config),
          enable: reader.metaTools.has('WORKBENCH'),
        };
        return offloadLarge(
          await runCalls(
            calls,
            options,
            // its calls' failures in the words of the caller of the multi-execute
            (slug, args, callOptions) =>
              this.#execute(
                this.#sessionSlug(slug),
                args,
                reader.audience ? { ...callOptions, audience: reader.audience } : callOptions,
              ),
            metaToolNamesOf(this.#config),
            (slug, args, error, callOptions) =>
              rejectToolCall(
                this.#runtime.env,
                { slug, arguments: args, userId: this.userId, sessionId: this.sessionId, ...callOptions },
                error,
              ),
          ),
          offload === 'always' ? { ...workbench, autoOffloadThreshold: 0 } : workbench,
          this.#workbenchPort(),
          options.logId,
          this.#slugs().WORKBENCH,
        );
      },
      waitForConnections: async (toolkits, timeoutSeconds, options) =>
        waitResultJson(
          await this.#waitForConnections(
            toolkits,
            { timeoutMs: timeoutSeconds * 1000, signal: options.signal },
            reader,
          ),
          reader,
        ),
      workbench: async (code, options) => {
        // The cell's calls answer it without waiting for their log entries, which are written
        // together; the cell answers its caller only once they are all stored. Those still held
        // when it ends go with the cell's own entry (`#execute` takes them along by its log id).
        const cellLog: CellLog = { held: new HeldLogEntries(this.#runtime.env.logs) };
        const { held } = cellLog;
        const logId = options.logId;
        if (logId !== undefined) this.#cellEntries.set(logId, cellLog);
        try {
          const answer = await workbenchPoolOf(this.#runtime.store).run(
            this.sessionId,
            code,
            workbenchOf(this.#config),
            workbenchHost(this.#workbenchPort(held.hold, options.cellHooks), logId),
            options.signal,
            () => this.#ranWorkbench(),
          );
          if (answer.error) cellLog.failure = answer.error;
          return answer;
        } finally {
          // the cell's entry was made before the cell ended (its call ended first: a timeout, an
          // abort) and took what was held then: the rest is written here
          if (logId === undefined || this.#cellEntries.get(logId) !== cellLog) await held.stored();
        }
      },
    };
  }

  /**
   * Whether the session has a workbench cell logged, in either naming style of the meta-tools (the
   * running cell's own entry is written after it): one probe of an index that holds only cells.
   */
  async #ranWorkbench(): Promise<boolean> {
    const { store } = this.#runtime;
    if (store.hasWorkbenchCell) return store.hasWorkbenchCell(this.sessionId);
    for (const names of META_TOOL_NAMES) {
      const { items } = await store.listLogs({
        sessionId: this.sessionId,
        toolSlug: metaToolSlugs(names).WORKBENCH,
        limit: 1,
      });
      if (items.length > 0) return true;
    }
    return false;
  }

  /** The slugs of the config's custom tools whose code runs in a remote-mode client (made once per config). */
  #clientToolSlugs(): ReadonlySet<string> {
    const config = this.#config;
    if (this.#clientSlugs?.config !== config) {
      this.#clientSlugs = {
        config,
        slugs: new Set([
          ...(config.clientTools ?? []).map((tool) => tool.slug),
          ...(config.clientToolkits ?? []).flatMap((toolkit) => toolkit.tools.map((tool) => tool.slug)),
        ]),
      };
    }
    return this.#clientSlugs.slugs;
  }

  #clientSlugs: { config: NormalizedSessionConfig; slugs: ReadonlySet<string> } | undefined;

  /** What workbench code reaches of this session. */
  #workbenchPort(holdLog?: (entry: ExecutionLogRecord) => void, hooks?: CellCallHooks): WorkbenchSessionPort {
    // a deleted session's cell runs no more tools (deleted on another instance: once presenceTtlMs passed)
    const run = (slug: string, args: unknown, options: ExecuteOptions & { parentId?: string }) =>
      this.#execute(slug, args, { ...options, ...(holdLog ? { holdLog } : {}), admit: this.#admitCall });
    return {
      sessionId: this.sessionId,
      store: this.#runtime.store,
      logger: this.#runtime.env.logger,
      execute: hooks
        ? async (slug, args, options) =>
            hooks.after(slug, await run(slug, await hooks.before(slug, args), options))
        : run,
      // the schemas as tools()'s modifySchema shows them (the hooks' `searched`)
      search: async (query, limit) => {
        // the agent's code reads it: its next steps name the agent's meta-tools, as those of
        // TOOLMUX_SEARCH_TOOLS (search() names the application's operations)
        const found = await this.#searchFor({ query, limit }, this.#hintReader());
        return hooks?.searched ? hooks.searched(found) : found;
      },
      // a cell's failures are read by the agent: their way out names its meta-tools
      proxy: (request) =>
        this.proxyExecute(request).catch((error: unknown) => {
          throw forReader(error, this.#hintReader());
        }),
      clientTools: this.#clientToolSlugs(),
      metaTools: ALL_META_TOOL_SLUGS,
      ...(this.#hintReader().metaTools.has('MULTI_EXECUTE_TOOL')
        ? { multiExecuteSlug: this.#slugs().MULTI_EXECUTE_TOOL }
        : {}),
    };
  }

  /**
   * One toolkit's entry of TOOLMUX_MANAGE_CONNECTIONS: connected, or what the user must do. With
   * `alias`, about the account of that alias (a new one is connected under it when there is none).
   */
  async #manageConnection(
    toolkit: Toolkit,
    reinitiate: boolean,
    alias?: string,
  ): Promise<Record<string, unknown>> {
    if (toolkit.noAuth) {
      return {
        toolkit: toolkit.slug,
        connected: true,
        message: `${toolkit.name} needs no account: its tools are ready to use.`,
      };
    }
    const { connection, blocked } =
      alias === undefined
        ? await this.#connectionState(toolkit)
        : { connection: await this.#aliasConnection(toolkit, alias), blocked: undefined };
    const accountId = connection.connectedAccount
      ? { connected_account_id: connection.connectedAccount.id }
      : {};
    if (connection.isActive && !reinitiate) {
      // with several accounts of which each call must name one, no account is "the" connection:
      // "X is connected." and its newest account led the model to calls that all failed
      // ACCOUNT_SELECTION_REQUIRED
      const choices = alias === undefined ? await this.#accountChoices(toolkit) : undefined;
      if (choices?.mustChoose) {
        return {
          toolkit: toolkit.slug,
          connected: true,
          account_selection_required: true,
          accounts: choices.accounts.map(({ id, alias: name }) => ({ id, alias: name })),
          message: mustChooseText(toolkit.name, choices.accounts, this.#hintReader()),
        };
      }
      return {
        toolkit: toolkit.slug,
        connected: true,
        ...accountId,
        message: `${toolkit.name} is connected.`,
      };
    }
    if (alias === undefined && (!connection.isActive || pinnedOnly(this.#selection(), toolkit.slug))) {
      // no link where the session could not use what it connects: the accounts it may only use
      // are not usable (or, with reinitiate, a new one would not be one of them), or its auth
      // config is gone. The model was sent round in a loop: link, connect, "cannot be used".
      if (blocked) {
        const hosted = this.#runtime.auth.hostedConnectPage;
        const callbackUrl = this.#config.connectionCallbackUrl;
        const request = await this.#reconnectPinned(toolkit, blocked, callbackUrl, { form: hosted });
        if (!request) return this.#unconnectable(toolkit, blocked, accountId, { noLinkHere: true });
        const action =
          request.kind === 'fields'
            ? `enter new credentials for ${toolkit.name}`
            : `sign in to ${toolkit.name} again`;
        // the agent hears which account the link reconnects, and that nothing new is connected
        const reconnected = request.connectedAccountId!;
        const { alias } = (await this.#runtime.store.getConnectedAccount(reconnected)) ?? {};
        const named = alias ? `"${alias}" (${reconnected})` : reconnected;
        const before = `The ${toolkit.name} account ${named} this session uses has expired. The link reconnects that same account in place (same id and alias): no new account is made.`;
        return this.#linkEntry(toolkit, request, false, accountId, before, action);
      }
      if (connection.isActive) {
        return {
          toolkit: toolkit.slug,
          connected: true,
          ...accountId,
          message: `${toolkit.name} is connected with an account the application set for this session. A new connection would not be used by this session: if that account no longer works for the user, tell them that the application must reconnect it.`,
        };
      }
    }
    const expired = connection.connectedAccount?.status === 'EXPIRED' ? ' Its connection has expired.' : '';
    const plan = await this.#runtime.auth.connectionPlan(toolkit, this.#selection(), { create: true });
    const credentials =
      plan.kind === 'fields'
        ? plan.type === 'basic'
          ? 'a username and password'
          : plan.type === 'bearer'
            ? 'an access token'
            : 'an API key'
        : undefined;
    // A credentials form exists where a toolmux server hosts the connect page.
    const formLink = plan.kind === 'fields' && plan.authConfigId && this.#runtime.auth.hostedConnectPage;
    if (plan.kind === 'oauth2' || formLink) {
      const request = await this.authorize(toolkit.slug, {
        callbackUrl: this.#config.connectionCallbackUrl,
        ...(alias !== undefined ? { alias } : {}),
      });
      const action = credentials ? `enter ${credentials} for ${toolkit.name}` : `connect ${toolkit.name}`;
      return this.#linkEntry(toolkit, request, connection.isActive, accountId, expired, action);
    }
    return {
      toolkit: toolkit.slug,
      connected: connection.isActive,
      ...accountId,
      message: credentials
        ? `${toolkit.name} is not connected for this user.${expired} It connects with ${credentials}, which the user must provide in the application (there is no link to open). Ask the user to add it there, then try again.`
        : `${toolkit.name} cannot be connected yet: the application has no OAuth app configured for it. Tell the user that a developer must set one up.`,
    };
  }

  /** The entry of TOOLMUX_MANAGE_CONNECTIONS that hands out `request`'s link, for the user to `action`. */
  #linkEntry(
    toolkit: Toolkit,
    request: ConnectionRequest,
    connected: boolean,
    account: { connected_account_id?: string },
    before: string,
    action: string,
  ): Record<string, unknown> {
    return {
      toolkit: toolkit.slug,
      connected,
      ...account,
      redirect_url: request.redirectUrl,
      connection_request_id: request.id,
      expires_at: request.expiresAt.toISOString(),
      message: (
        `${before.trim()} Ask the user to open redirect_url to ${action} (the link works for 10 minutes), ` +
        (this.#hintReader().metaTools.has('WAIT_FOR_CONNECTIONS')
          ? `then call ${this.#slugs().WAIT_FOR_CONNECTIONS} to learn when they are done.`
          : 'then continue the task once they say they are done.')
      ).trim(),
    };
  }

  /**
   * In a session that may only use the accounts it names for `toolkit`, when `blocked` (its calls'
   * error) says one of them expired: a request that reconnects that account in place
   * (`connectedAccounts.reconnect()`), which the session uses again once the user finishes. A new
   * account is never connected here: the session could not use it. Undefined when there is nothing
   * to reconnect (a disabled or deleted account, one never connected), or (`form: false`) its link
   * would be a credentials form that no connect page serves: `blocked` stands.
   */
  async #reconnectPinned(
    toolkit: Toolkit,
    blocked: ToolMuxError,
    callbackUrl: string | undefined,
    options: { form: boolean },
  ): Promise<ConnectionRequest | undefined> {
    const id = blocked.details?.connectedAccountId;
    if (blocked.code !== 'CONNECTION_EXPIRED' || typeof id !== 'string') return undefined;
    if (!pinnedOnly(this.#selection(), toolkit.slug)) return undefined;
    if (!options.form) {
      const { store } = this.#runtime;
      const account = await store.getConnectedAccount(id);
      const config = account && (await store.getAuthConfig(account.authConfigId));
      if (config?.type !== 'oauth2') return undefined;
    }
    try {
      return await this.#runtime.auth.reconnect(id, { ...(callbackUrl ? { callbackUrl } : {}) });
    } catch (error) {
      // not reconnectable after all (disabled, or deleted, since the calls' error was made)
      if (
        ToolMuxError.isInstance(error) &&
        ['INVALID_REQUEST', 'CONNECTED_ACCOUNT_NOT_FOUND'].includes(error.code)
      )
        return undefined;
      throw error;
    }
  }

  /**
   * The entry of TOOLMUX_MANAGE_CONNECTIONS for a toolkit that cannot be connected now (`error`, in
   * the agent's words: a reader error names what it may do).
   */
  #unconnectable(
    toolkit: Toolkit,
    error: ToolMuxError,
    account?: { connected_account_id?: string },
    /** `noLinkHere`: this answer gives no link, so its message must not send the agent back for one. */
    options: { noLinkHere?: boolean } = {},
  ) {
    const reader = options.noLinkHere ? { ...this.#hintReader(), noLinkHere: true } : this.#hintReader();
    return {
      toolkit: toolkit.slug,
      connected: false,
      ...account,
      code: error.code,
      message: messageFor(forReader(error, reader) as ToolMuxError, reader),
    };
  }

  /** How the account named `alias` stands for this session: ACTIVE and usable, or not there. */
  async #aliasConnection(
    toolkit: Toolkit,
    alias: string,
  ): Promise<{ isActive: boolean; connectedAccount?: { id: string; status: string } }> {
    const { accounts } = await this.#runtime.auth.accountChoices({
      toolkit,
      userId: this.userId,
      selection: this.#selection(),
    });
    const named = accounts.find((account) => account.alias === alias);
    return named
      ? { isActive: true, connectedAccount: { id: named.id, status: 'ACTIVE' } }
      : { isActive: false };
  }

  /**
   * Changes the stored config (top-level keys given replace the stored ones) and returns the new
   * config version. Validated like `create()`; of `authConfigs` and `connectedAccounts`, only those
   * the changes give are looked up (a stored one deleted since fails the calls that need it).
   */
  async update(changes: SessionConfig, given?: { expectedVersion?: number }): Promise<number> {
    const { expectedVersion: asked } = checkedOptions(given, 'session.update()');
    const parsed = parseSessionConfig(changes);
    if (parsed.experimental) {
      throw new ToolMuxError({
        code: 'CONFIG_INVALID',
        message:
          'experimental (custom tools and toolkits) cannot change in update(): create a new session with them.',
      });
    }
    const unchanged = Object.keys(givenKeys(parsed)).length === 0;
    if (asked !== undefined || unchanged) {
      // the stored config's version decides, not the one this object took up last: read it now (and
      // the config with it, which the changes then apply to; the write below is a compare-and-set
      // on that version, so an update that lands in between is a conflict too)
      this.#existsUntil = 0;
      await this.#checkExists();
      if (asked !== undefined && asked !== this.#configVersion)
        throw configVersionConflictError(this.sessionId, asked, this.#configVersion, { given: true });
    }
    // no change: nothing is written. A write made a new configVersion, which every other object of
    // the session and every MCP client (its tools/list cursors) took for a change. The answer is the
    // stored version just read (SESSION_NOT_FOUND for a deleted session, as any update).
    if (unchanged) return this.#configVersion;
    // the version of the config the changes apply to: one taken up meanwhile (`#takeConfig`) is
    // not overwritten with changes made from this one (SESSION_VERSION_CONFLICT instead)
    const expectedVersion = this.#configVersion;
    const merged = {
      ...denormalize(this.#config),
      // a key given as undefined is not given: it keeps what is stored, as it does over PATCH and in
      // remote mode (JSON drops it); spread as it is, it reset the key to its default, so
      // `toolkits: undefined` opened every toolkit and `tags: undefined` dropped a filter
      ...keepingTurnedOn(givenKeys(parsed), this.#config),
      experimental: { customTools: [...this.#customTools], customToolkits: [...this.#customToolkits] },
    };
    // only the toolkits and tools the changes name must be in this catalog: the stored ones were
    // checked when they were set, on an instance whose catalog may have a toolkit this one lacks
    const config = normalizeSessionConfig(
      merged,
      this.#runtime.catalog,
      (field) => (parsed as Record<string, unknown>)[field] !== undefined,
    );
    // the stored one was checked when it was set (the allowlist may have changed since)
    if ((parsed as { manageConnections?: unknown }).manageConnections !== undefined) {
      this.#runtime.auth.checkConnectionCallbackUrl(config.connectionCallbackUrl);
    }
    // only what the changes name: the stored ones were checked when they were set, and one deleted
    // since (an auth config, an account) fails the calls that need it, naming it, not every update
    // (a change of metadata alone was AUTH_CONFIG_NOT_FOUND until the caller replaced authConfigs)
    await this.#runtime.auth.checkSelection(this.userId, {
      authConfigs: parsed.authConfigs === undefined ? undefined : config.authConfigs,
      connectedAccounts: parsed.connectedAccounts === undefined ? undefined : config.connectedAccounts,
    });
    const record = await this.#runtime.store
      .updateSession(this.sessionId, {
        config: config as unknown as Record<string, unknown>,
        metadata: config.metadata,
        expectedVersion,
      })
      .catch((error: unknown) => {
        // this object's session existed: gone now, it was deleted ("does not exist." said less)
        if (ToolMuxError.isInstance(error) && error.code === 'SESSION_NOT_FOUND')
          throw sessionDeletedError(this.sessionId);
        // another update landed between the check of the version given and the write: named as given
        if (
          asked !== undefined &&
          ToolMuxError.isInstance(error) &&
          error.code === 'SESSION_VERSION_CONFLICT'
        ) {
          const current = error.details?.currentVersion;
          if (typeof current === 'number')
            throw configVersionConflictError(this.sessionId, asked, current, { given: true });
        }
        throw error;
      });
    // the other session objects of this process take it up before their next call; this one has it
    noteSessionChanged(this.#runtime.store);
    this.#takeConfig({ ...record, config: config as unknown as Record<string, unknown> });
    this.#existsSeenChanges = sessionChanges.get(this.#runtime.store) ?? 0;
    this.#existsUntil = Date.now() + this.#runtime.presenceTtlMs;
    this.#runtime.sessionUpdated(this.sessionId);
    return record.configVersion;
  }

  /**
   * Offloads the result of a TOOLMUX_MULTI_EXECUTE_TOOL call that a remote-mode client ran itself
   * (a session with custom tools runs it in the client) to the workbench files, by the same rule as
   * this session's own multi-execute: when the workbench is on and the result is longer than
   * `autoOffloadThreshold` characters as JSON (`always`: at any length, Composio's
   * `sync_response_to_workbench`). Resolves with what the model receives instead of the result
   * (`{ offloaded: { path, size, preview, hint } }`), or undefined when the result stays inline (the
   * workbench is off, it is short, the store keeps no files, or the quota is full).
   *
   * @internal the server's `POST /sessions/:id/workbench/offload`
   */
  async offloadClientResult(result: unknown, logId: string, always = false): Promise<unknown> {
    if (!LOG_ID.test(logId)) {
      throw new ToolMuxError({
        code: 'INVALID_REQUEST',
        message: `${shownValue(logId)} is not a log id: pass the logId of the TOOLMUX_MULTI_EXECUTE_TOOL call whose result this is (log_ and 38 letters and digits).`,
      });
    }
    const workbench = { ...workbenchOf(this.#config), enable: this.#hintReader().metaTools.has('WORKBENCH') };
    const offloaded = await offloadLarge(
      result,
      always ? { ...workbench, autoOffloadThreshold: 0 } : workbench,
      this.#workbenchPort(),
      logId,
      this.#slugs().WORKBENCH,
    );
    return offloaded === result ? undefined : offloaded;
  }

  /**
   * {@link recordClientLogEntries}, refusing the request when it refuses an entry (the entries it
   * takes are stored first). Resolves with the ids once the entries are stored.
   *
   * @internal
   */
  async recordClientLogs(records: readonly ExecutionLogRecord[]): Promise<string[]> {
    const { ids, refused } = await this.recordClientLogEntries(records);
    if (refused.length > 0) throw refused[0]!.error;
    return ids as string[];
  }

  /**
   * Adds log entries of calls a remote-mode client ran itself (its custom tools, and
   * TOOLMUX_MULTI_EXECUTE_TOOL around them) or refused itself before it sent them (failed entries of
   * {@link CLIENT_REFUSAL_CODES}: aborted, arguments JSON would change, a multi-execute's refusals): an
   * entry that says a server tool ran, or that failed otherwise, is refused, and so is one whose
   * parent is not an entry of this session; each refused entry alone, the others are stored (`ids`:
   * null for a refused entry; `refused`: each with its index). Session and user are this session's,
   * whatever the entry says. An entry keeps
   * its id only if that is a fresh log id (`newId('log')` form, made within
   * {@link CLIENT_LOG_ID_SKEW_MS} of now) not used before; any other id (malformed, which would break
   * cursor pagination; far from now, which would pin the entry to one end of the log; repeated in the
   * request or already stored) is replaced by a new one. An entry sent again, stored already under
   * its id in this session with the same call, is not stored twice: its id is answered as stored.
   * Resolves once the entries taken are stored.
   *
   * @internal the server's `POST /sessions/:id/logs`
   */
  async recordClientLogEntries(
    given: readonly ExecutionLogRecord[],
  ): Promise<{ ids: Array<string | null>; refused: Array<{ index: number; error: ToolMuxError }> }> {
    const clientSlugs = new Set([
      ...(this.#config.clientTools ?? []).map((tool) => tool.slug),
      ...(this.#config.clientToolkits ?? []).flatMap((toolkit) => toolkit.tools.map((tool) => tool.slug)),
    ]);
    // a remote session runs its multi-execute itself when it has custom tools, or when a hook of
    // tools() changes its calls' results (afterExecute), whatever its tools
    if (this.#hintReader().metaTools.has('MULTI_EXECUTE_TOOL'))
      clientSlugs.add(this.#slugs().MULTI_EXECUTE_TOOL);
    // a deleted session's custom tools are not known any more: any tool that is not the server's
    // (a catalog tool, a meta-tool but the multi-execute) may have been one
    const clientRun = (slug: string) =>
      clientSlugs.has(slug) ||
      (this.#deleted &&
        (metaToolKind(slug) === undefined
          ? !this.#runtime.catalog.tools.has(slug)
          : metaToolKind(slug) === 'MULTI_EXECUTE_TOOL'));
    const refused: Array<{ index: number; error: ToolMuxError }> = [];
    const taken: number[] = [];
    for (const [index, record] of given.entries()) {
      const refusedByClient = record.status === 'error' && CLIENT_REFUSAL_CODES.has(record.errorCode ?? '');
      if (clientRun(record.toolSlug) || refusedByClient) taken.push(index);
      else {
        refused.push({
          index,
          error: new ToolMuxError({
            code: 'INVALID_REQUEST',
            message: `Log entry ${index}${record.id ? ` (${record.id})` : ''} names ${shownValue(record.toolSlug)}, which is not a custom tool of session ${this.sessionId}: only calls the client ran itself, or failed entries of calls it refused before sending them (error_code ${[...CLIENT_REFUSAL_CODES].join(', ')}), can be added to its log.`,
          }),
        });
      }
    }
    const { refusals: parentRefusals, storedParents } = await this.#clientLogParentRefusals(given, taken);
    const kept = taken.filter((index) => !parentRefusals.has(index));
    for (const [index, error] of parentRefusals) refused.push({ index, error });
    refused.sort((a, b) => a.index - b.index);
    const ids: Array<string | null> = given.map(() => null);
    if (kept.length > 0) {
      const stored = await this.#storeClientLogs(
        kept.map((index) => given[index]!),
        storedParents,
      );
      for (const [position, index] of kept.entries()) ids[index] = stored[position]!;
    }
    return { ids, refused };
  }

  /**
   * The entries of `taken` (indexes into `records`) whose parent is not an entry of this session
   * (stored already, or in the request), each with its refusal; and the parents found stored as
   * entries of this session, read once here for the write to link to.
   */
  async #clientLogParentRefusals(
    records: readonly ExecutionLogRecord[],
    taken: readonly number[],
  ): Promise<{ refusals: Map<number, ToolMuxError>; storedParents: ReadonlySet<string> }> {
    // an entry of the request, taken or not (one refused: the entry is stored without it)
    const inRequest = new Set(records.map((record) => record.id));
    const checked = new Map<string, boolean>();
    const refusals = new Map<number, ToolMuxError>();
    for (const index of taken) {
      const record = records[index]!;
      const parentId = record.parentId;
      if (parentId === null || parentId === undefined) continue;
      if (parentId !== record.id && inRequest.has(parentId)) continue;
      let ours = parentId === record.id ? false : checked.get(parentId);
      if (ours === undefined) {
        ours = (await this.#runtime.store.getLog?.(parentId))?.sessionId === this.sessionId;
        checked.set(parentId, ours);
      }
      if (!ours) {
        refusals.set(
          index,
          new ToolMuxError({
            code: 'INVALID_REQUEST',
            message: `Log entry ${index}${record.id ? ` (${record.id})` : ''} names parent ${shownValue(parentId)}, which is not an entry of session ${this.sessionId}: a parent must be an entry of the same session (stored already or in the same request), or null.`,
          }),
        );
      }
    }
    const storedParents = new Set([...checked].filter(([, ours]) => ours).map(([parentId]) => parentId));
    return { refusals, storedParents };
  }

  /** Stores entries {@link recordClientLogEntries} took; resolves with their ids. */
  async #storeClientLogs(
    records: readonly ExecutionLogRecord[],
    storedParents: ReadonlySet<string>,
  ): Promise<string[]> {
    const now = Date.now();
    const kept = new Set<string>();
    const ids = records.map(({ id }) => {
      const time = typeof id === 'string' && id.startsWith('log_') ? idTime(id) : undefined;
      if (time === undefined || Math.abs(time - now) > CLIENT_LOG_ID_SKEW_MS || kept.has(id))
        return newId('log');
      kept.add(id);
      return id;
    });
    const parents = this.#clientLogParents(records, ids, storedParents);
    const write = (record: ExecutionLogRecord, id: string) =>
      this.#runtime.env.logs.write({
        ...record,
        parentId: parents.get(record.parentId ?? '') ?? null,
        id,
        sessionId: this.sessionId,
        userId: this.userId,
        toolkit: metaToolKind(record.toolSlug)
          ? META_TOOLKIT.slug
          : (this.#runtime.catalog.tools.get(record.toolSlug)?.toolkit ?? record.toolkit),
      });
    const stored = await Promise.all(
      records.map(async (record, index) => {
        if (await write(record, ids[index]!)) return true;
        if (!kept.has(ids[index]!)) return false;
        // the client's id was taken: by this very entry, sent again (an upload that landed, whose
        // answer the client did not get), which is kept once; else (a replayed or repeated id, another
        // entry's) the entry is stored under a new one
        if (await this.#storedAlready(record, ids[index]!)) return true;
        ids[index] = newId('log');
        return write(record, ids[index]!);
      }),
    );
    await this.#moveReplacedParents(records, ids, stored);
    const lost = stored.filter((ok) => !ok).length;
    if (lost > 0) {
      throw new ToolMuxError({
        code: 'STORE_ERROR',
        message: `${lost} of ${records.length} log entries could not be stored (the database error is in the server's log); the other entries were added. Retry the failed ones later.`,
      });
    }
    return ids;
  }

  /**
   * Whether `record`, a client's entry whose id `id` could not be written, is stored under that id
   * already: an entry of this session of the same call (tool, call id, status, error code and time),
   * which the client sent again when it could not tell that its upload had landed (its connection
   * broke before the answer came). False when the store cannot tell (no `getLog`, or it failed).
   */
  async #storedAlready(record: ExecutionLogRecord, id: string): Promise<boolean> {
    const store = this.#runtime.store;
    if (store.getLog === undefined) return false;
    let stored: ExecutionLogRecord | undefined;
    try {
      stored = await store.getLog(id);
    } catch {
      return false;
    }
    return (
      stored !== undefined &&
      stored.sessionId === this.sessionId &&
      stored.toolSlug === record.toolSlug &&
      stored.callId === (record.callId ?? null) &&
      stored.status === record.status &&
      stored.errorCode === (record.errorCode ?? null) &&
      stored.createdAt.getTime() === record.createdAt.getTime()
    );
  }

  /**
   * A client's entry stored under another id than the one it sent: the calls the server ran for it
   * (`executeUnder`) name the id sent, so this session's entries that name it are moved to the stored
   * id. Not when an entry of this session has the id sent (a replayed upload: its calls stay with the
   * first copy). A failure is reported to the logger: the entries are stored, only links are missing.
   */
  async #moveReplacedParents(
    records: readonly ExecutionLogRecord[],
    ids: readonly string[],
    stored: readonly boolean[],
  ): Promise<void> {
    const store = this.#runtime.store;
    if (store.moveLogChildren === undefined) return;
    const seen = new Set<string>();
    for (const [index, record] of records.entries()) {
      const sent = record.id;
      if (!stored[index] || typeof sent !== 'string' || sent === ids[index] || seen.has(sent)) continue;
      seen.add(sent);
      if (!sent.startsWith('log_') || idTime(sent) === undefined) continue;
      try {
        if ((await store.getLog?.(sent))?.sessionId === this.sessionId) continue;
        await store.moveLogChildren(this.sessionId, sent, ids[index]!);
      } catch (error) {
        this.#runtime.env.logger.error(
          `toolmux: the calls of log entry ${ids[index]} (sent as ${sent}) could not be linked to it: ${quotedMessage(error)}`,
        );
      }
    }
  }

  /**
   * The stored id of each `parentId` a client's entries name: an entry of the same request (by the
   * id the client sent, which the entry may be stored under a new id) or an entry of this session
   * already stored. Another parent (of an entry of this request that was refused) is dropped: its
   * entry is stored without it.
   */
  #clientLogParents(
    records: readonly ExecutionLogRecord[],
    ids: readonly string[],
    storedParents: ReadonlySet<string>,
  ): Map<string, string> {
    const inRequest = new Map<string, string>();
    records.forEach((record, index) => {
      if (typeof record.id === 'string' && record.id !== '' && !inRequest.has(record.id))
        inRequest.set(record.id, ids[index]!);
    });
    const parents = new Map<string, string>();
    for (const record of records) {
      const parentId = record.parentId;
      if (parentId === null || parentId === undefined || parents.has(parentId)) continue;
      const sameRequest = inRequest.get(parentId);
      if (sameRequest !== undefined && parentId !== record.id) {
        parents.set(parentId, sameRequest);
        continue;
      }
      // read already (#clientLogParentRefusals): a parent that is not there is one refused in this
      // request, and the entry is stored without it
      if (parentId !== record.id && storedParents.has(parentId)) parents.set(parentId, parentId);
    }
    return parents;
  }

  /** This session's execution log, newest first. */
  async logs(given?: SessionLogsOptions): Promise<{ items: ExecutionLog[]; nextCursor: string | undefined }> {
    const options = checkedOptions(given, 'session.logs()');
    if (options.parentId !== undefined) filterIdOf(checkId(options.parentId, 'parentId'), 'parentId', 'log_');
    // a deleted session's log is the project's (as GET /sessions/:id/logs, a remote session's logs(), answers 404)
    await this.#checkExists().catch((error: unknown) => {
      if (!ToolMuxError.isInstance(error) || error.code !== 'SESSION_NOT_FOUND') throw error;
      throw deletedSessionLogsError(this.sessionId);
    });
    // Nothing to flush: a call answers only once its entry is stored (the engine's writer is durable),
    // so every finished call's entry is read; waiting would only queue this read behind running calls.
    return this.#runtime.store.listLogs({
      sessionId: this.sessionId,
      limit: options.limit ?? 50,
      cursor: options.cursor,
      parentId: options.parentId,
    });
  }

  toJSON(): { sessionId: string; userId: string; configVersion: number; mcp: { url: string } } {
    return {
      sessionId: this.sessionId,
      userId: this.userId,
      configVersion: this.#configVersion,
      mcp: { url: this.mcp.url },
    };
  }

  [inspect.custom](): string {
    return `Session ${inspect(this.toJSON())}`;
  }
}

/** The session a ToolMux with provider `P` hands out: its tools and tool-call types follow `P`. */
export type SessionOf<P> = Session<CollectionOf<P>, ToolCallResponseOf<P>, ToolCallReplyOf<P>>;

/**
 * `session.handleToolCalls()` of both session kinds: the provider's `handleToolCalls` with an
 * `execute` that adds the caller's abort signal to each call (the provider passes its call id).
 */
export function handleToolCallsWith(
  provider: Provider<unknown, unknown>,
  response: unknown,
  signal: AbortSignal | undefined,
  execute: ExecuteFn,
  tools: ReadonlyMap<string, ToolSpec> | Promise<ReadonlyMap<string, ToolSpec>>,
): Promise<unknown> {
  try {
    checkSignal(signal, 'handleToolCalls()');
  } catch (error) {
    return Promise.reject(error);
  }
  if (!provider.handleToolCalls) {
    return Promise.reject(
      new ToolMuxError({
        code: 'NOT_SUPPORTED',
        message: `handleToolCalls() needs a provider for an SDK whose tools are plain definitions (@toolmux/openai, @toolmux/anthropic, @toolmux/google); the "${provider.name}" provider runs tool calls itself: its tools carry their own execute.`,
      }),
    );
  }
  const handle = provider.handleToolCalls.bind(provider);
  const run = toolCallExecute(execute);
  return Promise.resolve(tools).then((specs) =>
    handle(
      response,
      (slug, args, options = {}) =>
        run(slug, args, signal && !options.signal ? { ...options, signal } : options),
      specs,
    ),
  );
}

/** Tool specs by slug, for a provider's `handleToolCalls`. */
export function specsBySlug(specs: readonly ToolSpec[]): ReadonlyMap<string, ToolSpec> {
  return new Map(specs.map((spec) => [spec.slug, spec]));
}

export type { SearchToolsResult };

/** The keys of `update()`'s changes whose value is not undefined: those it replaces. */
function givenKeys(changes: SessionConfig): SessionConfig {
  return Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined));
}

/** A normalized config turned back into the `create()` form (for `update()` merges). */
function denormalize(config: NormalizedSessionConfig): SessionConfig {
  const slugFilter = (filter: { mode: 'enable' | 'disable'; slugs: string[] }) =>
    filter.mode === 'enable' ? { enable: filter.slugs } : { disable: filter.slugs };
  return {
    ...(config.toolkits.mode === 'all' ? {} : { toolkits: slugFilter(config.toolkits) }),
    tools: Object.fromEntries(
      Object.entries(config.tools).map(([toolkit, filter]) => [
        toolkit,
        filter.mode === 'tags' ? { tags: filter.tags } : slugFilter(filter),
      ]),
    ),
    tags: config.tags,
    authConfigs: config.authConfigs,
    connectedAccounts: config.connectedAccounts,
    preload: config.preload,
    sessionPreset: config.sessionPreset,
    ...manageConnectionsOf(config),
    // off: only `enable`, since core refuses a count or selection without it (the stored ones are defaults)
    ...(config.multiAccount
      ? { multiAccount: config.multiAccount.enable ? config.multiAccount : { enable: false } }
      : {}),
    ...(config.workbench ? { workbench: workbenchChangesOf(config) } : {}),
    ...(config.metaToolNames ? { metaToolNames: config.metaToolNames } : {}),
    metadata: config.metadata,
  };
}

/**
 * `manageConnections` as `create()` took it: a default (on, not given) stays out, so that the merge
 * of `update()` does not take it for one the config turned on itself (DIRECT_TOOLS goes by that).
 */
function manageConnectionsOf(config: NormalizedSessionConfig): Pick<SessionConfig, 'manageConnections'> {
  const explicit = config.enabledExplicitly?.includes('manageConnections') === true;
  const fields = {
    ...(config.connectionCallbackUrl !== undefined ? { callbackUrl: config.connectionCallbackUrl } : {}),
    ...(config.waitForConnections !== undefined ? { waitForConnections: config.waitForConnections } : {}),
  };
  const hasFields = Object.keys(fields).length > 0;
  if (config.manageConnections && !explicit) return hasFields ? { manageConnections: fields } : {};
  return {
    manageConnections: hasFields ? { enable: config.manageConnections, ...fields } : config.manageConnections,
  };
}

/**
 * The changes of `update()` with `manageConnections` or `workbench` given as settings alone
 * (`{ callbackUrl }`, `{ timeoutMs }`, no `enable`) turned on as the stored config had turned them
 * on itself: settings alone change nothing about on or off (docs/sessions.md, DIRECT_TOOLS), but
 * replacing the stored option with them dropped its `enable: true`, and with it the meta-tool. An
 * empty object gives no setting: the option's default (Composio's `manage_connections: null`).
 */
function keepingTurnedOn(changes: SessionConfig, stored: NormalizedSessionConfig): SessionConfig {
  let kept = changes;
  for (const option of stored.enabledExplicitly ?? []) {
    const given = changes[option];
    if (
      typeof given === 'object' &&
      given !== null &&
      given.enable === undefined &&
      Object.keys(given).length > 0
    )
      kept = { ...kept, [option]: { ...given, enable: true } };
  }
  return kept;
}

/** The stored workbench settings, `enable` left out when it is only the default. */
function workbenchChangesOf(config: NormalizedSessionConfig): SessionConfig['workbench'] {
  const { enable, ...settings } = config.workbench!;
  return enable && !config.enabledExplicitly?.includes('workbench') ? settings : { enable, ...settings };
}

/** The tool specs an embedded session hands its provider (the server describes sessions from them). */
export function exposedToolSpecs(session: Session<unknown>): ToolSpec[] {
  return embeddedSession(session).exposedSpecs();
}

/** The session as an embedded one; a remote session here is a programming error of the caller. */
export function embeddedSession(session: Session<unknown>): EmbeddedSession<unknown> {
  if (session instanceof EmbeddedSession) return session;
  throw new ToolMuxError({
    code: 'NOT_SUPPORTED',
    message: 'This needs a session of an embedded ToolMux; this one is served by a remote toolmux server.',
  });
}

/**
 * The specs of the catalog tools a filter selects (`mux.tools.get` without the provider), validated
 * like a session config.
 */
export function catalogToolSpecs(
  catalog: Catalog,
  filter: Pick<SessionConfig, 'toolkits' | 'tools' | 'tags'>,
): ToolSpec[] {
  const config = normalizeSessionConfig(parseToolFilter(filter), catalog);
  return [...catalog.tools.values()]
    .filter((tool) => isToolVisible(config, tool))
    .map((tool) => toolSpecOf(tool));
}
