import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { DEFAULT_INHERITED_ENV_VARS } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ErrorCode, McpError, type Tool as McpTool } from '@modelcontextprotocol/sdk/types.js';
import type { JsonSchemaValidator, jsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/types.js';
import {
  type AuthScheme,
  type Credentials,
  defineTool,
  defineToolkit,
  type JSONSchema,
  type Tool,
  type ToolAnnotations,
  type ToolContext,
  type Toolkit,
  ToolMuxError,
  toolSlugFor,
} from '@toolmux/core';
import {
  checkOptionNames,
  checkToolkitSlug,
  compileJsonSchemaValidator,
  compileValidatorNow,
  everyKeyOf,
  MAX_TIMER_MS,
  maskedResult,
  maskSecrets,
  quotedMessage,
  secretForms,
  shownValue,
  slicedValidatorOf,
  WorkSlice,
  wholeNumberOf,
} from '@toolmux/core/internal';
import { tokenOf } from './http.js';
import {
  DEFAULT_MCP_MAX_MESSAGE_BYTES,
  LimitedStdioTransport,
  limitedFetch,
  tooLargeMessage,
  unansweredMessage,
} from './mcp-limits.js';
import { OptionChecks } from './option-checks.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

/**
 * The MCP SDK client's check of results against output schemas, turned off: toolmux checks them
 * itself (see `outputCheckOf`). The SDK compiles every tool's output schema (with its own Ajv) in the
 * one turn that handles `tools/list`, and checks a result in the turn that receives it, whatever the
 * schema's size and the result's: a server's output schema of 2,000 properties held the event loop
 * for a quarter of a second, its patterns ran with `RegExp` on the main thread. And it checked only
 * the results of the connection that listed the tools, not of per-user or reopened connections.
 */
const noSdkOutputValidation: jsonSchemaValidator = {
  getValidator<T>(): JsonSchemaValidator<T> {
    return (input) => ({ valid: true, data: input as T, errorMessage: undefined });
  },
};

/**
 * How a result's structured content is checked against the server's output schema for its tool
 * (`slug` in the catalog): with core's validator, compiled at toolkit creation (a large schema in the
 * validation thread, as input schemas are) and checking a large result a slice at a time (in the
 * validation thread for a large schema), so neither holds the event loop; its patterns run in linear
 * time (RE2) or on a worker thread within a time budget. `undefined` for a tool without an output
 * schema, and for one whose schema core cannot compile (its results are not checked, and
 * `onUncompilable` says why).
 */
async function outputCheckOf(
  schema: McpTool['outputSchema'],
  slug: string,
  onUncompilable: (reason: string) => void,
): Promise<((result: Record<string, unknown>) => Promise<string | undefined>) | undefined> {
  if (schema === undefined) return undefined;
  let validate: ReturnType<typeof compileJsonSchemaValidator>;
  try {
    validate = compileJsonSchemaValidator(schema as JSONSchema, slug, 'output');
    await compileValidatorNow(validate);
  } catch (error) {
    if (!ToolMuxError.isInstance(error) || error.code !== 'TOOL_DEFINITION_INVALID') throw error;
    onUncompilable(error.message);
    return undefined;
  }
  const sliced = slicedValidatorOf(validate)!;
  // what is wrong with a result (as the SDK's check said it), or undefined
  return async (result) => {
    if (result.isError) return undefined;
    if (result.structuredContent === undefined)
      return 'without the structured content its output schema requires';
    const checked = await sliced(result.structuredContent, new WorkSlice());
    if (checked.success) return undefined;
    const shown = checked.issues.slice(0, 5).map(({ path, message }) => `${path}: ${message}`);
    if (checked.issues.length > 5) shown.push(`${checked.issues.length - 5} more`);
    return `with structured content that does not match the tool's output schema: ${shown.join('; ')}`;
  };
}

/** The most tools taken from one server, and the most pages of its tools/list read to find them. */
const MAX_MCP_TOOLS = 10_000;
const MAX_MCP_LIST_PAGES = 1_000;

/** How much of a stdio server's last stderr output a failure to connect to it quotes. */
const STDERR_TAIL_CHARS = 2000;

/** A call's timeout unless `timeoutMs` says. */
const DEFAULT_MCP_TIMEOUT_MS = 60_000;
/** The clients kept for distinct credentials unless `maxClients` says. */
const DEFAULT_MAX_CLIENTS = 100;

export interface McpCommonOptions {
  /** Toolkit slug (lower case); tool slugs become `${SLUG}_${TOOL_NAME}`. */
  slug: string;
  /** @default the server's own name */
  name?: string;
  /** @default the server's instructions, or a sentence naming the server */
  description?: string;
  categories?: string[];
  /**
   * Words a user says for what the server's tools handle that their names and descriptions may not
   * say, e.g. `['ticket', 'task']`: search reads them as words of each of its tools (see
   * `defineToolkit`'s `keywords`). @default none
   */
  keywords?: string[];
  /** Per-call timeout of every tool: a whole number of milliseconds from 1 to 2147483647. @default 60_000 */
  timeoutMs?: number;
  /**
   * The most bytes of one message of the server (a tool's result is one), a whole number, 1 or more:
   * past it the answer is dropped and its call fails with a message saying so (the server's other
   * calls go on). @default 10 MiB
   */
  maxResponseBytes?: number;
  /**
   * Told about each of the server's tools that is left out because toolmux refuses its definition
   * (see `skippedTools`). @default console
   */
  logger?: { warn(message: string): void };
}

/** A local MCP server started as a child process, spoken to over stdio. */
export interface McpStdioOptions extends McpCommonOptions {
  command: string;
  args?: string[];
  /**
   * The child's whole environment besides PATH. Nothing else of the host's environment is passed on
   * (not even HOME or USER), so secrets in `process.env` stay out of the server.
   */
  env?: Record<string, string>;
  cwd?: string;
}

/** A remote MCP server spoken to over Streamable HTTP. */
export interface McpHttpOptions extends McpCommonOptions {
  url: string | URL;
  /** Headers of every request, e.g. an operator's key for the server. */
  headers?: Record<string, string>;
  /**
   * Sends the connected account's token (OAuth access token, bearer token or API key) on every call in
   * this header: `Authorization` gets `Bearer <token>`, any other header the bare token. Setting it
   * makes the toolkit need a connected account (see `auth`).
   */
  credentialHeader?: string;
  /**
   * How users connect an account for this server. @default an API-key scheme when `credentialHeader`
   * is set, else none
   */
  auth?: AuthScheme | AuthScheme[];
  /**
   * Clients kept open for distinct credentials, a whole number, 1 or more; the least recently used
   * beyond it is closed (after the calls running on it end). @default 100
   */
  maxClients?: number;
  /** @default globalThis.fetch */
  fetch?: typeof globalThis.fetch;
}

export type McpToolkitOptions = McpStdioOptions | McpHttpOptions;

/** A toolkit backed by an MCP server; `close()` ends its connections (and child process). */
export interface McpToolkit extends Toolkit {
  /** The server's name and version as it announced them. */
  readonly server: { name: string; version: string };
  /**
   * The server's tools that were left out because toolmux refuses their definition (an input schema
   * that is not valid JSON Schema or nests past 128 levels, …), with the reason: one such tool does
   * not keep the server's others from being used.
   */
  readonly skippedTools: ReadonlyArray<{ name: string; reason: string }>;
  close(): Promise<void>;
}

/**
 * One client connection, opened on first use and opened again after the server went away (child
 * process exited, session lost).
 */
class McpConnection {
  #client: Promise<Client> | undefined;
  #current: Client | undefined;
  #closed = false;

  readonly label: string;
  private readonly createTransport: () => { transport: Transport; stderr: () => string };
  /**
   * The values of the server's `env` (stdio) or of the headers it is sent (the operator's `headers`
   * and a user's credential), masked in the errors of its connection and calls.
   */
  readonly secrets: readonly string[];
  /**
   * The values of those of them whose names say they are secrets (`Authorization`, `X-Api-Key`,
   * `GITHUB_TOKEN`, …; see {@link secretValuesOf}), masked in the results of its calls too: a server
   * that echoes the operator's key does not hand it to the model.
   */
  readonly resultSecrets: readonly string[];

  constructor(
    label: string,
    createTransport: () => { transport: Transport; stderr: () => string },
    named: Readonly<Record<string, string>> = {},
  ) {
    this.label = label;
    this.createTransport = createTransport;
    this.secrets = Object.values(named);
    this.resultSecrets = secretValuesOf(named);
  }

  client(): Promise<Client> {
    if (this.#closed) return Promise.reject(new Error(`The MCP toolkit ${this.label} was closed.`));
    this.#client ??= this.#connect();
    return this.#client;
  }

  /** Forgets `client` (if it is still the current one) so the next call connects again. */
  reset(client: Client): void {
    if (this.#current !== client) return;
    this.#current = undefined;
    this.#client = undefined;
    void client.close().catch(() => {});
  }

  #connect(): Promise<Client> {
    const { transport, stderr } = this.createTransport();
    const client = new Client({ name: 'toolmux', version }, { jsonSchemaValidator: noSdkOutputValidation });
    return (async () => {
      try {
        await client.connect(transport);
      } catch (error) {
        this.#client = undefined;
        await client.close().catch(() => {});
        // A server that cannot start often says why with its configuration ("invalid token sk-…"): the
        // message reaches the application's logs, and the model when a call reconnects.
        const output = maskSecrets(stderr(), this.secrets).slice(-STDERR_TAIL_CHARS).trim();
        throw new Error(
          maskSecrets(
            `Could not connect to the MCP server ${this.label}: ${quotedMessage(error)}${output ? `\nserver stderr: ${output}` : ''}`,
            this.secrets,
          ),
          { cause: error },
        );
      }
      this.#current = client;
      // The child process exited or the transport closed: the next call starts a new connection.
      client.onclose = () => {
        if (this.#current === client) {
          this.#current = undefined;
          this.#client = undefined;
        }
      };
      return client;
    })();
  }

  async close(): Promise<void> {
    this.#closed = true;
    const client = this.#client;
    this.#client = undefined;
    this.#current = undefined;
    if (client) await (await client.catch(() => undefined))?.close().catch(() => {});
  }
}

/** MCP's defaults for absent hints (a tool may write, destroy and reach the world unless it says otherwise). */
function annotationsOf(tool: { title?: string; annotations?: Record<string, unknown> }): ToolAnnotations {
  const hints = tool.annotations ?? {};
  const flag = (name: string) => (typeof hints[name] === 'boolean' ? (hints[name] as boolean) : undefined);
  const readOnly = flag('readOnlyHint') ?? false;
  const title = (typeof hints.title === 'string' ? hints.title : undefined) ?? tool.title;
  return {
    ...(title ? { title } : {}),
    readOnlyHint: readOnly,
    destructiveHint: readOnly ? false : (flag('destructiveHint') ?? true),
    idempotentHint: flag('idempotentHint') ?? readOnly,
    openWorldHint: flag('openWorldHint') ?? true,
  };
}

function textOf(content: unknown): string {
  return (Array.isArray(content) ? content : [])
    .filter((part): part is { type: 'text'; text: string } => part?.type === 'text')
    .map((part) => part.text)
    .join('\n');
}

/** A tool result as data: structured content, else its text, else its content parts. */
function dataOf(result: Record<string, unknown>, label: string): unknown {
  // Servers of protocol version 2024-10-07 answer with `toolResult`.
  if ('toolResult' in result && !('content' in result)) return result.toolResult;
  if (result.isError) {
    throw new Error(textOf(result.content) || `the MCP server ${label} reported an error without a message`);
  }
  if (result.structuredContent !== undefined) return result.structuredContent;
  const content = Array.isArray(result.content) ? result.content : [];
  if (content.every((part) => part?.type === 'text')) return textOf(content);
  return content;
}

/** The server answered 401 (at connect or on a call): it refused the credential the request carried. */
function refusedCredentials(error: unknown): boolean {
  const http =
    error instanceof StreamableHTTPError ? error : (error as { cause?: unknown } | undefined)?.cause;
  return http instanceof StreamableHTTPError && http.code === 401;
}

/** CREDENTIALS_REJECTED: core renews the account's credentials (or marks it EXPIRED) and retries. */
function credentialsRejected(label: string): ToolMuxError {
  return new ToolMuxError({
    code: 'CREDENTIALS_REJECTED',
    message: `The MCP server ${label} refused the connected account's credentials (401): reconnect the account, then retry.`,
  });
}

/**
 * `error`, or an Error of its message with `secrets` masked when it holds one: a server's answer
 * quoted in it ("Error POSTing to endpoint (HTTP 403): key op_… may not call tools") reached the model.
 */
function masked(error: unknown, secrets: readonly string[]): unknown {
  if (!(error instanceof Error)) return error;
  const message = maskSecrets(error.message, secrets);
  return message === error.message ? error : new Error(message);
}

function isConnectionLost(error: unknown): boolean {
  return (
    (error instanceof McpError && error.code === ErrorCode.ConnectionClosed) ||
    (error instanceof StreamableHTTPError && error.code === 404) ||
    (error instanceof Error && /not connected/i.test(error.message)) ||
    // fetch's word for a body that broke off (a JSON answer cut by the server or a proxy)
    (error instanceof TypeError && error.message === 'terminated')
  );
}

function stdioTransport(
  options: McpStdioOptions,
  maxBytes: number,
  tooLarge: string,
): { transport: Transport; stderr: () => string } {
  // StdioClientTransport merges getDefaultEnvironment() (HOME, LOGNAME, PATH, SHELL, TERM, USER) under the
  // env it is given; setting those keys to undefined removes them (Node leaves undefined entries out).
  const env: Record<string, string | undefined> = Object.fromEntries(
    DEFAULT_INHERITED_ENV_VARS.map((key) => [key, undefined]),
  );
  if (process.env.PATH !== undefined) env.PATH = process.env.PATH;
  Object.assign(env, options.env);
  const transport = new LimitedStdioTransport(
    {
      command: options.command,
      args: options.args ?? [],
      env: env as Record<string, string>,
      cwd: options.cwd,
      stderr: 'pipe',
    },
    maxBytes,
    tooLarge,
  );
  // the last STDERR_TAIL_CHARS, and the longest env value more, so that a value the tail starts in is
  // masked whole
  const keep = Object.values(options.env ?? {}).reduce(
    (longest, value) => Math.max(longest, STDERR_TAIL_CHARS + value.length),
    STDERR_TAIL_CHARS,
  );
  let tail = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-keep);
  });
  return { transport, stderr: () => tail };
}

/**
 * Names of headers and environment variables that hold secrets: `Authorization`, `X-Api-Key`,
 * `X-Operator-Key`, `Ocp-Apim-Subscription-Key`, `GITHUB_TOKEN`, `DB_PASSWORD`, `Cookie`, and, as
 * a word of the name, `PAT` (a personal access token: `GH_PAT`), `DSN` (`SENTRY_DSN`, whose user
 * part is a key) and `JWT`.
 */
const SECRET_NAME =
  /key|auth|token|secret|pass|cookie|credential|signature|session|(?:^|[^a-z])(?:pat|dsn|jwt)(?:$|[^a-z])/i;
/** Values shorter than this are not masked in results, whatever they are named (`true`, `1`, `off`). */
const MIN_RESULT_SECRET_CHARS = 8;

/**
 * The values of the headers or environment variables whose names say they are secrets, in the forms a
 * request carries them (also the credentials of an `Authorization` header without its scheme).
 */
function secretValuesOf(named: Readonly<Record<string, string>>): string[] {
  const values: string[] = [];
  for (const [name, value] of Object.entries(named)) {
    if (typeof value !== 'string') continue;
    // the secret of a URL with credentials, whatever the name (`DATABASE_URL`,
    // `REDIS_URL=redis://:pw@host`, a token as its user: `https://ghp_…@github.com/o/r.git`): a
    // server quoting its connection in an error or a result
    for (const secret of urlSecretsOf(value))
      if (secret.length >= MIN_RESULT_SECRET_CHARS) values.push(...secretForms(secret));
    if (!SECRET_NAME.test(name)) continue;
    for (const each of [value, value.replace(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+ +/, '')])
      if (each.length >= MIN_RESULT_SECRET_CHARS) values.push(...secretForms(each));
  }
  return values;
}

/**
 * The secret of `value` read as a URL with credentials, as it is written there and decoded: its
 * password (`scheme://user:password@host`), or its user where it has no password, the form a token
 * takes in a URL (`https://TOKEN@host`, a Sentry DSN's key). None for a value that is no such URL.
 * Linear in its length.
 */
function urlSecretsOf(value: string): string[] {
  if (!value.includes('://') || !value.includes('@') || !URL.canParse(value)) return [];
  const { username, password } = new URL(value);
  const secret = password || username;
  if (secret === '') return [];
  let decoded = secret;
  try {
    decoded = decodeURIComponent(secret);
  } catch {
    // a malformed escape: the text as written is what a server would quote
  }
  return decoded === secret ? [secret] : [secret, decoded];
}

function credentialValue(header: string, credentials: Credentials | undefined): string | undefined {
  const token = tokenOf(credentials);
  if (!token) return undefined;
  return header.toLowerCase() === 'authorization' ? `Bearer ${token}` : token;
}

/**
 * Refuses options of the wrong kind or form before a process is started or a server is asked (see
 * {@link OptionChecks}); the slug is checked as `defineToolkit` checks it, which before ran only once
 * the server had been started and had listed its tools. Returns the server's URL (Streamable HTTP).
 */
const COMMON_OPTION_NAMES = [
  'slug',
  'name',
  'description',
  'categories',
  'keywords',
  'timeoutMs',
  'maxResponseBytes',
  'logger',
] as const;
const STDIO_OPTION_NAMES = everyKeyOf<McpStdioOptions>()([
  ...COMMON_OPTION_NAMES,
  'command',
  'args',
  'env',
  'cwd',
]);
const HTTP_OPTION_NAMES = everyKeyOf<McpHttpOptions>()([
  ...COMMON_OPTION_NAMES,
  'url',
  'headers',
  'credentialHeader',
  'auth',
  'maxClients',
  'fetch',
]);

function checkMcpOptions(options: McpToolkitOptions): URL | undefined {
  if (typeof options !== 'object' || options === null) {
    throw new ToolMuxError({
      code: 'TOOL_DEFINITION_INVALID',
      message: `mcpToolkit() takes an options object ({ slug, command } or { slug, url }); got ${shownValue(options)}.`,
    });
  }
  const check = new OptionChecks('mcpToolkit()');
  checkToolkitSlug(options.slug, 'mcpToolkit() slug');
  check.text('name', options.name);
  check.text('description', options.description);
  check.strings('categories', options.categories);
  check.strings('keywords', options.keywords);
  if (options.logger !== undefined && typeof options.logger?.warn !== 'function') {
    throw check.wrong('logger', 'an object with a warn method (console is one)', shownValue(options.logger));
  }
  const stdio = 'command' in options && options.command !== undefined;
  const http = 'url' in options && options.url !== undefined;
  if (stdio === http) {
    throw new ToolMuxError({
      code: 'TOOL_DEFINITION_INVALID',
      message: `mcpToolkit() takes either command (a local server started as a child process, spoken to over stdio) or url (a remote server over Streamable HTTP); got ${stdio ? 'both' : 'neither'}.`,
    });
  }
  // a misspelt key (`header` for `headers`) was ignored: the server was asked without it
  checkOptionNames(
    options,
    stdio ? STDIO_OPTION_NAMES : HTTP_OPTION_NAMES,
    `mcpToolkit() with ${stdio ? 'command' : 'url'}`,
    {
      code: 'TOOL_DEFINITION_INVALID',
    },
  );
  if (stdio) {
    const { command, args, env, cwd } = options as McpStdioOptions;
    check.text('command', command, true);
    check.strings('args', args);
    check.stringRecord('env', env);
    check.text('cwd', cwd);
    return undefined;
  }
  const { url, headers, credentialHeader, fetch } = options as McpHttpOptions;
  check.headers('headers', headers);
  check.headerName('credentialHeader', credentialHeader);
  check.func('fetch', fetch, 'a function like globalThis.fetch');
  return check.httpUrl('url', url, true);
}

/**
 * Mounts an MCP server as a toolkit: connects, lists its tools and returns a toolkit whose tools call
 * the server. Its tools are searchable, filtered by sessions and logged like any other tool.
 *
 * - stdio: `{ slug, command, args?, env? }` starts the server with only PATH and `env` in its
 *   environment. All calls share one connection, reopened if the process exits.
 * - Streamable HTTP: `{ slug, url, headers?, credentialHeader? }`. Calls without a per-user credential
 *   share one client; with `credentialHeader`, each distinct credential gets its own client (and MCP
 *   session), so one user's token is never sent on another user's session.
 *
 * Results: `structuredContent` when the tool gives it, else its text; `isError` results fail the call
 * with the tool's message.
 *
 * @example
 * const files = await mcpToolkit({ slug: 'files', command: 'npx', args: ['-y', '@modelcontextprotocol/server-filesystem', '/data'] });
 * const mux = new ToolMux({ toolkits: [...builtinToolkits, files] });
 * // …
 * await files.close();
 */
export async function mcpToolkit(options: McpToolkitOptions): Promise<McpToolkit> {
  const serverUrl = checkMcpOptions(options);
  // checked before a process is started or a server is asked: a wrong one would otherwise fail
  // every call at once (a timer past the longest is one of 1 ms) or keep clients without a bound
  const timeoutMs = wholeNumberOf(options.timeoutMs, {
    name: 'mcpToolkit() timeoutMs',
    code: 'TOOL_DEFINITION_INVALID',
    unit: 'milliseconds',
    min: 1,
    max: MAX_TIMER_MS,
    purpose: 'how long one call of a tool of the server may take',
    leaveOut: `Leave it out for ${DEFAULT_MCP_TIMEOUT_MS}.`,
    default: DEFAULT_MCP_TIMEOUT_MS,
  });
  const maxClients = wholeNumberOf('url' in options ? options.maxClients : undefined, {
    name: 'mcpToolkit() maxClients',
    code: 'TOOL_DEFINITION_INVALID',
    unit: 'clients',
    min: 1,
    purpose: 'the clients kept open for distinct credentials',
    leaveOut: `Leave it out for ${DEFAULT_MAX_CLIENTS}.`,
    default: DEFAULT_MAX_CLIENTS,
  });
  const maxResponseBytes = wholeNumberOf(options.maxResponseBytes, {
    name: 'mcpToolkit() maxResponseBytes',
    code: 'TOOL_DEFINITION_INVALID',
    unit: 'bytes',
    min: 1,
    purpose: 'the most bytes of one message of the server',
    leaveOut: `Leave it out for ${DEFAULT_MCP_MAX_MESSAGE_BYTES}.`,
    default: DEFAULT_MCP_MAX_MESSAGE_BYTES,
  });
  const label = `"${options.slug}"`;
  const tooLarge = tooLargeMessage(label, maxResponseBytes);
  const connections = new Map<string, McpConnection>();
  /** The calls running on each client of a credential. */
  const running = new Map<McpConnection, number>();
  /** Clients evicted while calls ran on them: each is closed when its last call ends. */
  const evicted = new Set<McpConnection>();
  let shared: McpConnection;
  let forCredentials: ((credentials: Credentials | undefined) => McpConnection) | undefined;
  let auth: AuthScheme | AuthScheme[] | undefined;

  if ('command' in options) {
    shared = new McpConnection(
      `${label} (${options.command})`,
      () => stdioTransport(options, maxResponseBytes, tooLarge),
      options.env,
    );
  } else {
    const url = serverUrl!;
    const fetch = limitedFetch(
      options.fetch ?? globalThis.fetch,
      maxResponseBytes,
      tooLarge,
      unansweredMessage(label),
    );
    const httpConnection = (headers: Record<string, string>) =>
      new McpConnection(
        `${label} (${url.origin})`,
        () => ({
          transport: new StreamableHTTPClientTransport(url, { requestInit: { headers }, fetch }),
          stderr: () => '',
        }),
        headers,
      );
    shared = httpConnection({ ...options.headers });
    const header = options.credentialHeader;
    if (header) {
      auth = options.auth ?? {
        type: 'api_key',
        fields: [
          {
            name: 'apiKey',
            label: `${options.name ?? options.slug} token`,
            description: `Sent as the ${header} header.`,
          },
        ],
      };
      forCredentials = (credentials) => {
        const value = credentialValue(header, credentials);
        if (!value) return shared;
        const key = createHash('sha256').update(value).digest('hex');
        let connection = connections.get(key);
        if (connection) connections.delete(key);
        else connection = httpConnection({ ...options.headers, [header]: value });
        connections.set(key, connection); // most recently used last
        if (connections.size > maxClients) {
          const [oldestKey, oldest] = connections.entries().next().value!;
          connections.delete(oldestKey);
          // closing it now failed the calls running on it ("… was closed"): another user's call
          // must not end this one's
          if (running.has(oldest)) evicted.add(oldest);
          else void oldest.close();
        }
        return connection;
      };
    } else {
      auth = options.auth;
    }
  }

  const client = await shared.client();
  const listed: McpTool[] = [];
  try {
    // A server whose pages never end (a nextCursor it answered before, or a new one each time) kept
    // mcpToolkit() listing for ever, holding every page's tools: the listing stops, and fails, at a
    // cursor seen before or past MAX_MCP_TOOLS tools or MAX_MCP_LIST_PAGES pages.
    const cursors = new Set<string>();
    let cursor: string | undefined;
    for (let pages = 1; ; pages++) {
      const page = await client.listTools(cursor ? { cursor } : undefined);
      listed.push(...page.tools);
      cursor = page.nextCursor;
      if (listed.length > MAX_MCP_TOOLS) {
        throw new Error(
          `it listed more than ${MAX_MCP_TOOLS.toLocaleString('en-US')} tools, more than toolmux takes from one server`,
        );
      }
      if (!cursor) break;
      const seen = createHash('sha256').update(cursor).digest('hex');
      if (cursors.has(seen)) {
        throw new Error(
          `it answered the nextCursor ${JSON.stringify(cursor.slice(0, 100))} a second time, so its pages would repeat for ever`,
        );
      }
      if (pages >= MAX_MCP_LIST_PAGES) {
        throw new Error(
          `its tools took more than ${MAX_MCP_LIST_PAGES.toLocaleString('en-US')} pages of tools/list, more than toolmux reads from one server`,
        );
      }
      cursors.add(seen);
    }
  } catch (error) {
    await shared.close();
    throw new Error(
      `The MCP server ${label} connected but could not list its tools: ${quotedMessage(error)}`,
      {
        cause: error,
      },
    );
  }

  const server = client.getServerVersion() ?? { name: options.slug, version: 'unknown' };
  const taken = new Set<string>();

  const call = async (name: string, args: unknown, context: ToolContext, retrySafe: boolean) => {
    const connection = forCredentials?.(context.credentials) ?? shared;
    running.set(connection, (running.get(connection) ?? 0) + 1);
    try {
      return await callOn(connection, name, args, context, retrySafe);
    } finally {
      const left = running.get(connection)! - 1;
      if (left > 0) running.set(connection, left);
      else {
        running.delete(connection);
        if (evicted.delete(connection)) void connection.close();
      }
    }
  };

  const callOn = async (
    connection: McpConnection,
    name: string,
    args: unknown,
    context: ToolContext,
    retrySafe: boolean,
  ) => {
    for (let attempt = 1; ; attempt++) {
      const current = await connection.client().catch((error: unknown) => {
        throw forCredentials && refusedCredentials(error) ? credentialsRejected(label) : error;
      });
      try {
        const result = await current.callTool(
          { name, arguments: args as Record<string, unknown> },
          undefined,
          { signal: context.signal, timeout: timeoutMs },
        );
        return { result, connection };
      } catch (error) {
        if (forCredentials && refusedCredentials(error)) {
          connection.reset(current);
          throw credentialsRejected(label);
        }
        // an answer past maxResponseBytes, as the error answer mcp-limits gave in its place
        if (error instanceof McpError && error.message.endsWith(tooLarge)) throw new Error(tooLarge);
        if (context.signal.aborted || !isConnectionLost(error)) throw masked(error, connection.secrets);
        connection.reset(current);
        if (attempt === 1 && retrySafe) continue;
        throw new Error(
          `The connection to the MCP server ${label} was lost during the call${
            retrySafe ? '' : '; the tool may or may not have run, so check its effect before calling it again'
          }. The next call reconnects.`,
          { cause: error },
        );
      }
    }
  };

  const logger = options.logger ?? console;
  const defineMcpTool = async (tool: McpTool): Promise<Tool> => {
    const annotations = annotationsOf(tool);
    const retrySafe = annotations.readOnlyHint === true || annotations.idempotentHint === true;
    const slug = toolSlugFor(options.slug, tool.name, taken);
    let checkOutput: Awaited<ReturnType<typeof outputCheckOf>>;
    const defined = defineTool({
      slug,
      name: tool.title ?? tool.name,
      description:
        tool.description?.trim() || `${tool.title ?? tool.name} (a tool of the ${server.name} MCP server).`,
      inputSchema: { type: 'object', ...(tool.inputSchema as JSONSchema) },
      outputSchema: tool.outputSchema as JSONSchema | undefined,
      annotations,
      tags: ['mcp', tool.name],
      timeoutMs,
      execute: async (input, context) => {
        const { result, connection } = await call(tool.name, input, context, retrySafe);
        const problem = await checkOutput?.(result);
        if (problem !== undefined) {
          throw new Error(
            maskSecrets(`The MCP server ${label} answered ${tool.name} ${problem}.`, connection.secrets),
          );
        }
        return maskedResult(dataOf(result, label), connection.resultSecrets, new WorkSlice());
      },
    });
    // compiled now, not at the first call: a schema that is not valid JSON Schema is refused here
    // (a large one in the validation thread)
    await compileValidatorNow(defined.validate);
    checkOutput = await outputCheckOf(tool.outputSchema, slug, (reason) =>
      logger.warn(
        `toolmux: the MCP server ${server.name} of toolkit ${label} offers tool "${tool.name}" (${slug}) with an output schema toolmux cannot compile, so its results are not checked against it: ${reason}`,
      ),
    );
    return defined;
  };
  const skippedTools: Array<{ name: string; reason: string }> = [];
  // Tools that only run as MCP tasks cannot be called with a plain tools/call.
  const offered = listed.filter(
    (tool) => (tool as { execution?: { taskSupport?: string } }).execution?.taskSupport !== 'required',
  );
  const tools: Tool[] = [];
  const names = new Set<string>();
  for (const tool of offered) {
    // a name listed twice (also on a page that repeats another) would be two tools calling one
    if (names.has(tool.name)) {
      const reason = `the server lists another tool named "${tool.name}" before it; tool names must be unique`;
      skippedTools.push({ name: tool.name, reason });
      logger.warn(
        `toolmux: the MCP server ${server.name} of toolkit ${label} offers tool "${tool.name}" twice: the second is left out.`,
      );
      continue;
    }
    names.add(tool.name);
    try {
      tools.push(await defineMcpTool(tool));
    } catch (error) {
      // the server's definition, not the application's: the server's other tools stay usable
      if (!ToolMuxError.isInstance(error) || error.code !== 'TOOL_DEFINITION_INVALID') throw error;
      skippedTools.push({ name: tool.name, reason: error.message });
      logger.warn(
        `toolmux: the MCP server ${server.name} of toolkit ${label} offers tool "${tool.name}", which is left out: ${error.message}`,
      );
    }
  }

  const instructions = client.getInstructions()?.trim();
  const toolkit = defineToolkit({
    slug: options.slug,
    name: options.name ?? server.name,
    description:
      options.description ??
      (instructions ? instructions.slice(0, 500) : `Tools of the ${server.name} MCP server.`),
    categories: options.categories ?? ['mcp'],
    ...(options.keywords ? { keywords: options.keywords } : {}),
    baseUrl: 'url' in options ? String(options.url) : undefined,
    auth,
    tools,
  });

  return Object.freeze({
    ...toolkit,
    server: { name: server.name, version: server.version },
    skippedTools,
    close: async () => {
      await Promise.all([
        shared.close(),
        ...[...connections.values(), ...evicted].map((connection) => connection.close()),
      ]);
      connections.clear();
      evicted.clear();
    },
  });
}
