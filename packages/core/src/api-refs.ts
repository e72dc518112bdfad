/**
 * Error messages point callers to the operation that fixes the problem ("list them with …"). The
 * same error reaches an application through the SDK and an HTTP client through the REST API of
 * @toolmux/server, so a message names the operation with {@link apiRef}, and each caller reads it in
 * its own words: `toolkits.list()` for the SDK, `GET /api/v1/toolkits` for REST.
 */

/**
 * Who reads an error message: an application (the SDK), an HTTP client, a person at the `toolmux` CLI,
 * or a client of the server's Composio-compatible API (`@composio/core`, its routes and snake_case
 * fields).
 */
export type ErrorAudience = 'sdk' | 'rest' | 'cli' | 'composio';

type Args = Record<string, string>;
/**
 * An operation in the SDK's and the REST API's words, in the CLI's where it has a command (else the
 * SDK's), and in the Composio-compatible API's where it has a route (else the REST API's, which the
 * same server serves).
 */
type Wording = Record<'sdk' | 'rest', (args: Args) => string> & {
  cli?: (args: Args) => string;
  composio?: (args: Args) => string;
};

/** The session routes of the Composio-compatible API (`/api/v3` for a client of that version). */
const COMPOSIO_SESSION = '/api/v3.1/tool_router/session';

/** A session config's keys in Composio's words (snake_case), where they differ from the SDK's. */
const COMPOSIO_CONFIG_KEYS: Readonly<Record<string, string>> = {
  authConfigs: 'auth_configs',
  connectedAccounts: 'connected_accounts',
  manageConnections: 'manage_connections',
  callbackUrl: 'callback_url',
  waitForConnections: 'enable_wait_for_connections',
  multiAccount: 'multi_account',
  maxAccountsPerToolkit: 'max_accounts_per_toolkit',
  requireExplicitSelection: 'require_explicit_selection',
  autoOffloadThreshold: 'auto_offload_threshold',
  timeoutMs: 'timeout_ms',
  memoryMb: 'memory_mb',
  sessionPreset: 'session_preset',
  metaToolNames: 'meta_tool_names',
};

/** A path in a session config (`multiAccount.maxAccountsPerToolkit`) in Composio's words. */
function composioConfigPath(path: string): string {
  return path
    .split('.')
    .map((key) => (Object.hasOwn(COMPOSIO_CONFIG_KEYS, key) ? COMPOSIO_CONFIG_KEYS[key] : key))
    .join('.');
}

const quoted = (value: string | undefined, fallback: string) =>
  value === undefined ? fallback : JSON.stringify(value);

/** Every operation a message may name, in the SDK's words and in the REST API's. */
const OPERATIONS = {
  'toolkits.list': {
    sdk: () => 'toolkits.list()',
    rest: () => 'GET /api/v1/toolkits',
    cli: () => '`toolmux toolkits list`',
  },
  'sessions.list': {
    sdk: () => 'sessions.list()',
    rest: () => 'GET /api/v1/sessions',
    cli: () => '`toolmux sessions list`',
  },
  'logs.list': {
    sdk: ({ sessionId }) => `logs.list({ sessionId: ${quoted(sessionId, 'sessionId')} })`,
    rest: ({ sessionId }) => `GET /api/v1/logs?session_id=${sessionId ?? '…'}`,
  },
  create: {
    sdk: () => 'create(userId, config)',
    rest: () => 'POST /api/v1/sessions',
    composio: () => `POST ${COMPOSIO_SESSION}`,
  },
  use: {
    sdk: ({ sessionId }) => `use(${quoted(sessionId, 'sessionId')})`,
    rest: ({ sessionId }) => `GET /api/v1/sessions/${sessionId ?? ':id'}`,
    composio: ({ sessionId }) => `GET ${COMPOSIO_SESSION}/${sessionId ?? ':sessionId'}`,
  },
  /** A path of a session config's field (`authConfigs.github`): camelCase in the SDK and REST alike. */
  'sessionConfig.field': {
    sdk: ({ path }) => path ?? 'config',
    rest: ({ path }) => path ?? 'config',
    composio: ({ path }) => composioConfigPath(path ?? 'config'),
  },
  /**
   * The way out of a session resumed without its custom tools: the application passes them again;
   * the server (REST, MCP) cannot, as they are the application's code.
   */
  'use.customTools': {
    sdk: () => 'pass them again: use(sessionId, { customTools, customToolkits })',
    rest: () =>
      'they are code of the application that created the session and run only in its process, so this server cannot serve the session (REST, MCP): create the sessions it is to serve through it (remote mode, new ToolMux({ baseUrl, apiKey }), declares custom tools to the server), or without custom tools',
  },
  'authConfigs.create': {
    sdk: ({ toolkit, type }) =>
      `authConfigs.create(${quoted(toolkit, 'toolkit')}, { ${type === undefined ? 'type, …' : `type: ${quoted(type, 'type')}`} })`,
    rest: ({ toolkit, type }) =>
      `POST /api/v1/auth-configs with { "toolkit": ${quoted(toolkit, '…')}, "type": ${quoted(type, '…')} }`,
  },
  'authConfigs.createOAuth': {
    sdk: ({ toolkit }) =>
      `authConfigs.create(${quoted(toolkit, 'toolkit')}, { type: "oauth2", clientId, clientSecret })`,
    rest: ({ toolkit }) =>
      `POST /api/v1/auth-configs with { "toolkit": ${quoted(toolkit, '…')}, "type": "oauth2", "client_id": …, "client_secret": … }`,
  },
  'authConfigs.update': {
    sdk: ({ authConfigId }) =>
      `authConfigs.update(${quoted(authConfigId, 'authConfigId')}, { clientId, clientSecret })`,
    rest: ({ authConfigId }) =>
      `PATCH /api/v1/auth-configs/${authConfigId ?? ':id'} with { "client_id": …, "client_secret": … }`,
  },
  'connectedAccounts.list': {
    sdk: ({ userId }) => `connectedAccounts.list({ userIds: [${quoted(userId, 'userId')}] })`,
    rest: ({ userId }) =>
      `GET /api/v1/connected-accounts?user_ids=${userId === undefined ? '…' : encodeURIComponent(userId)}`,
  },
  'connectedAccounts.create': {
    sdk: () => 'connectedAccounts.create(userId, authConfigId, { … })',
    rest: () => 'POST /api/v1/connected-accounts with { "user_id", "auth_config_id", "credentials" }',
  },
  'connectedAccounts.link': {
    sdk: ({ authConfigId }) =>
      `connectedAccounts.link(userId, ${quoted(authConfigId, 'authConfigId')}, { callbackUrl })`,
    rest: ({ authConfigId }) =>
      `POST /api/v1/connected-accounts/link with { "user_id", "auth_config_id": ${quoted(authConfigId, '…')}, "callback_url" }`,
  },
  'connectedAccounts.reconnect': {
    sdk: ({ connectedAccountId }) =>
      `connectedAccounts.reconnect(${quoted(connectedAccountId, 'connectedAccountId')}, { callbackUrl })`,
    rest: ({ connectedAccountId }) =>
      `POST /api/v1/connected-accounts/${connectedAccountId ?? ':id'}/reconnect`,
  },
  'connectedAccounts.enable': {
    sdk: () => 'connectedAccounts.enable(id)',
    rest: () => 'POST /api/v1/connected-accounts/:id/enable',
  },
  'connectedAccounts.delete': {
    sdk: () => 'connectedAccounts.delete(id)',
    rest: () => 'DELETE /api/v1/connected-accounts/:id',
  },
  'session.authorize': {
    sdk: ({ toolkit }) => `session.authorize(${quoted(toolkit, 'toolkit')})`,
    rest: ({ toolkit }) =>
      `POST /api/v1/sessions/:sessionId/authorize with { "toolkit": ${quoted(toolkit, '…')} }`,
    composio: ({ toolkit }) =>
      `POST ${COMPOSIO_SESSION}/:sessionId/link with { "toolkit": ${quoted(toolkit, '…')} }`,
  },
  /** The link a connection request hands out, as a field of its answer. */
  redirectUrl: {
    sdk: () => 'redirectUrl',
    rest: () => 'redirect_url',
  },
  /** Where a connection sends the user back to, as a field of the call that starts it. */
  callbackUrl: {
    sdk: () => 'callbackUrl',
    rest: () => 'callback_url',
  },
  /** The config version an update applies to, as a field of its request. */
  expectedVersion: {
    sdk: () => 'expectedVersion',
    rest: () => 'expected_version',
  },
  /** A session's config version, as a field of what reading it answers. */
  configVersion: {
    sdk: () => 'configVersion',
    rest: () => 'config_version',
  },
  /** The cursor of a list's next page, as a field of its answer. */
  nextCursor: {
    sdk: () => 'nextCursor',
    rest: () => 'next_cursor',
  },
  /** An oauth2 auth config's OAuth client, as fields of its create and update. */
  clientId: {
    sdk: () => 'clientId',
    rest: () => 'client_id',
  },
  clientSecret: {
    sdk: () => 'clientSecret',
    rest: () => 'client_secret',
  },
  /** The account a call without a session runs with, as a field of its request. */
  connectedAccountId: {
    sdk: () => 'connectedAccountId',
    rest: () => 'connected_account_id',
  },
  /** The session a list of the execution log is of, as a field of its query. */
  sessionId: {
    sdk: () => 'sessionId',
    rest: () => 'session_id',
  },
  /** The call whose entries a list of the execution log keeps, as a field of its query. */
  parentId: {
    sdk: () => 'parentId',
    rest: () => 'parent_id',
  },
  /** The id of a call's execution log entry, as a field of its result. */
  logId: {
    sdk: () => 'logId',
    rest: () => 'log_id',
  },
  /** The users a list of connected accounts is of, as a field of its query. */
  userIds: {
    sdk: () => 'userIds',
    rest: () => 'user_ids',
  },
  /** How much of an API's answer a proxy call reads, as a field of its request. */
  maxResponseBytes: {
    sdk: () => 'maxResponseBytes',
    rest: () => 'max_response_bytes',
  },
  /** The catalog's tools (of some toolkits), without a session. */
  'tools.get': {
    sdk: () => 'tools.get(userId, { toolkits })',
    rest: () => 'POST /api/v1/tools/list with { "user_id", "filter": { "toolkits": […] } }',
  },
  'session.execute': {
    sdk: () => 'session.execute(tool_slug, arguments)',
    rest: () => 'POST /api/v1/sessions/:sessionId/execute with { "tool_slug", "arguments" }',
    composio: () => `POST ${COMPOSIO_SESSION}/:sessionId/execute with { "tool_slug", "arguments" }`,
  },
  'session.execute.account': {
    sdk: () => 'session.execute(slug, args, { account })',
    rest: () => 'POST /api/v1/sessions/:sessionId/execute with { "tool_slug", "arguments", "account" }',
    composio: () =>
      `POST ${COMPOSIO_SESSION}/:sessionId/execute with { "tool_slug", "arguments", "account" }`,
  },
  /** A session's accounts of one toolkit, set anew. */
  'session.update.connectedAccounts': {
    sdk: ({ toolkit }) => `session.update({ connectedAccounts: { ${toolkit ?? 'toolkit'}: [accountId] } })`,
    rest: ({ toolkit }) =>
      `PATCH /api/v1/sessions/:sessionId with { "config": { "connectedAccounts": { ${quoted(toolkit, '…')}: ["…"] } } }`,
    composio: ({ toolkit }) =>
      `PATCH ${COMPOSIO_SESSION}/:sessionId with { "connected_accounts": { ${quoted(toolkit, '…')}: "…" } }`,
  },
  /** A session's toolkits, set anew with one more (its tools and tags filters may hide it too). */
  'session.update.toolkits': {
    sdk: ({ toolkit }) => `session.update({ toolkits: [${quoted(toolkit, '"toolkit"')}, …] })`,
    rest: ({ toolkit }) =>
      `PATCH /api/v1/sessions/:sessionId with { "config": { "toolkits": [${quoted(toolkit, '…')}, …] } }`,
    composio: ({ toolkit }) =>
      `PATCH ${COMPOSIO_SESSION}/:sessionId with { "toolkits": [${quoted(toolkit, '…')}, …] }`,
  },
  /** A session's auth config of one toolkit, set anew. */
  'session.update.authConfigs': {
    sdk: ({ toolkit }) => `session.update({ authConfigs: { ${toolkit ?? 'toolkit'}: authConfigId } })`,
    rest: ({ toolkit }) =>
      `PATCH /api/v1/sessions/:sessionId with { "config": { "authConfigs": { ${quoted(toolkit, '…')}: "…" } } }`,
    composio: ({ toolkit }) =>
      `PATCH ${COMPOSIO_SESSION}/:sessionId with { "auth_configs": { ${quoted(toolkit, '…')}: "…" } }`,
  },
  'session.ensureConnected': {
    sdk: ({ toolkit }) => `session.ensureConnected(${quoted(toolkit, 'toolkit')})`,
    rest: ({ toolkit }) =>
      `POST /api/v1/sessions/:sessionId/ensure-connected with { "toolkit": ${quoted(toolkit, '…')} }`,
  },
  'session.waitForConnections': {
    sdk: () => 'session.waitForConnections()',
    rest: () => 'POST /api/v1/sessions/:sessionId/wait-for-connections',
    // what waitForConnection() of Composio's SDK polls: the account of the link, until ACTIVE
    composio: () =>
      'GET /api/v3.1/connected_accounts/:id (the connected_account_id the link answered) until its status is ACTIVE',
  },
  'session.proxyExecute': {
    sdk: () => 'session.proxyExecute()',
    rest: () => 'POST /api/v1/sessions/:sessionId/proxy',
    composio: () => `POST ${COMPOSIO_SESSION}/:sessionId/proxy_execute`,
  },
  'session.proxyExecute.account': {
    sdk: () => 'session.proxyExecute({ …, connectedAccountId })',
    rest: () => 'POST /api/v1/sessions/:sessionId/proxy with { …, "connected_account_id" }',
  },
} satisfies Record<string, Wording>;

/** An operation an error message can name. */
export type ApiOperation = keyof typeof OPERATIONS;

const START = '\u2063⟦';
const END = '⟧\u2063';
const REFERENCE = /\u2063⟦([^⟧]*)⟧\u2063/g;

/**
 * A reference to an operation, for a ToolMuxError message: the error's `message` shows it in the
 * SDK's words, `messageFor('rest')` in the REST API's.
 *
 * @example
 * new ToolMuxError({ code: 'TOOLKIT_NOT_FOUND', message: `Unknown toolkit "x". List them with ${apiRef('toolkits.list')}.` })
 */
export function apiRef(operation: ApiOperation, args: Args = {}): string {
  return `${START}${JSON.stringify([operation, args])}${END}`;
}

/**
 * A path of a session config's field (`authConfigs.github`) for a message: camelCase for the SDK and
 * REST, snake_case (`auth_configs.github`) for a client of the Composio-compatible API.
 */
export function configField(path: string): string {
  return apiRef('sessionConfig.field', { path });
}

/** The reference kind of {@link inputRef} (not an operation). */
const INPUT = 'input';

/**
 * A value of the caller's input, for a message (`"github" is not a toolkit of this session`): `shown`
 * (the value as toolmux read it, quoted) unless the reader of the message says how it names that
 * input (`InputNames`), so that a client whose fields and values differ from toolmux's (the
 * Composio-compatible API's `toolkit_slug`, sent in upper case) reads the field and value it sent.
 */
export function inputRef(field: string, shown: string): string {
  return `${START}${JSON.stringify([INPUT, { field, shown }])}${END}`;
}

/**
 * How a reader names the inputs of its request in messages, by toolmux's name of each
 * ({@link inputRef}): `{ toolkit: 'toolkit_slug "GITHUB"' }`.
 */
export type InputNames = Readonly<Record<string, string>>;

/** Whether a message holds references of {@link apiRef}. */
export function hasApiRefs(message: string): boolean {
  return message.includes(START);
}

/**
 * A message with its references in the words of `audience`, and the inputs it names as `inputs` says
 * (else as toolmux read them).
 */
export function renderApiRefs(message: string, audience: ErrorAudience, inputs?: InputNames): string {
  if (!hasApiRefs(message)) return message;
  return message.replace(REFERENCE, (_, json: string) => {
    try {
      const [operation, args] = JSON.parse(json) as [ApiOperation | typeof INPUT, Args];
      if (operation === INPUT) {
        const named =
          inputs !== undefined && Object.hasOwn(inputs, args.field!) ? inputs[args.field!] : undefined;
        return named ?? args.shown ?? '';
      }
      const wording: Wording | undefined = OPERATIONS[operation];
      if (!wording) return operation;
      return (wording[audience] ?? (audience === 'composio' ? wording.rest : wording.sdk))(args);
    } catch {
      return '';
    }
  });
}

/**
 * An operation in the words of the SDK and of the REST API at once, for text that is stored and read
 * by either (an account's `statusReason`): `authConfigs.update(…) (SDK) or PATCH … (REST API)`.
 */
export function apiRefInEveryWording(operation: ApiOperation, args: Args = {}): string {
  const ref = apiRef(operation, args);
  return `${renderApiRefs(ref, 'sdk')} (SDK) or ${renderApiRefs(ref, 'rest')} (REST API)`;
}

/** Every operation {@link apiRef} knows. */
export const API_OPERATIONS = Object.keys(OPERATIONS) as ApiOperation[];
