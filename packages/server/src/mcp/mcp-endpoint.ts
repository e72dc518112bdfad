import { createHash, randomUUID } from 'node:crypto';
import {
  DEFAULT_NEGOTIATED_PROTOCOL_VERSION,
  ErrorCode,
  type JSONRPCRequest,
  LATEST_PROTOCOL_VERSION,
  type Tool as McpTool,
  RequestIdSchema,
  SUPPORTED_PROTOCOL_VERSIONS,
} from '@modelcontextprotocol/sdk/types.js';
import type { PropertyKeysMode, ToolSpec } from '@toolmux/core';
import {
  formatToolResultForModel,
  portableArgumentsOf,
  ToolMuxError,
  type ToolResult,
  withPortableKeys,
} from '@toolmux/core';
import {
  CELL_CALL_HOOKS,
  embeddedSession,
  JsonTextError,
  jsonTextPiecesSliced,
  MAX_OBJECT_KEYS,
  type MultiExecuteOptions,
  mcpOutputSchemaOf,
  mcpToolResultOf,
  metaToolKind,
  type OutputValidator,
  shownValue,
  shownValueUpTo,
  WorkSlice,
  wholeNumberOf,
} from '@toolmux/core/internal';
import { bearerCredentials } from '../api-key.js';
import { requestSignal } from '../drain-stop.js';
import { repeatedCredentialHeader } from '../http-errors.js';
import { type JsonAnswer, jsonBody, jsonResponse, jsonTextPieces, utf8Length } from '../json-response.js';
import { isJsonContentType, MAX_BODY_DEPTH, parseJsonText, readBodyText } from '../read-body.js';
import { answerGoesOn, responseWithRequestId } from '../request-log.js';
import type { CachedSession, SessionCache } from '../session-cache.js';
import { acceptsEventStream, acceptsJson } from './accept.js';
import { type EarlyCancelLimits, EarlyCancels } from './early-cancels.js';
import { mcpListedTool } from './listed-tool.js';
import {
  cancellationOf,
  isJsonRpcMessage,
  paramsPath,
  progressTokenOf,
  toolCallOf,
} from './message-check.js';

/**
 * Limits and browser access of the MCP endpoint (`createServer({ mcp })`). Every limit answers with a
 * JSON-RPC error that says what to change, never by dropping messages.
 */
export interface McpOptions {
  /**
   * Origins (`scheme://host[:port]`) whose web pages may call the MCP endpoint. A request with an
   * `Origin` header that is neither listed nor the origin of the ToolMux's `baseUrl` is refused with
   * 403, as the Streamable HTTP transport requires (it stops DNS rebinding: a page of another site
   * reaching a server on localhost). Requests without `Origin` (MCP clients outside a browser) are
   * not affected. `'*'` allows every origin. Pages of these origins get CORS: the preflight
   * (`OPTIONS`) is answered, and every answer carries `Access-Control-Allow-Origin`; the preflight of
   * another origin gets the same 403, so the browser blocks the call.
   * @default [] (only the origin of `baseUrl`)
   */
  allowedOrigins?: string[];
  /** At most this many tools per `tools/list` page; the rest follow with `nextCursor`. @default 100 */
  toolsPageSize?: number;
  /**
   * At most this many messages in one JSON-RPC batch (batches exist only up to protocol version
   * 2025-03-26; later versions refuse them). @default 100
   */
  maxBatchSize?: number;
  /**
   * At most this many bytes of JSON in the answer to one batch: a response that would go past it is
   * replaced by an error, and the batch's later requests are not run. @default 4_194_304 (4 MiB)
   */
  maxBatchResponseBytes?: number;
  /**
   * `'portable'`: `tools/list` shows property keys a major model API refuses renamed (Anthropic:
   * `filter[id]`, `first name`, longer than 64 characters, at any depth; Gemini: `page-size` as a
   * parameter name), each renamed property's description naming the tool's own key, and `tools/call`
   * reads the arguments back to the tool's keys. MCP clients hand these schemas to their model
   * (Claude Desktop and Claude Code to Anthropic's API, which refuses every request of the session
   * over one such key). `'unchanged'`: keys as the tools have them.
   * @default 'portable'
   */
  propertyKeys?: PropertyKeysMode;
  /**
   * How often a `tools/call` that asks for progress (`params._meta.progressToken`, which the SDK
   * client sends with `onprogress`) gets a `notifications/progress` while it runs, in milliseconds
   * (10 to 300000). Such a call not answered within this time is answered with an event stream
   * (`text/event-stream`, when the client's `Accept` takes it): a progress notification now and at
   * every interval, then the response. A client that resets its timeout on progress
   * (`resetTimeoutOnProgress`) then waits for a call that runs longer than its timeout (60 s by
   * default), and tells a slow tool from a server gone. A call answered sooner is answered with
   * JSON, as every other request.
   * @default 5000
   */
  progressIntervalMs?: number;
}

/** {@link McpOptions} with its defaults. */
export const MCP_DEFAULTS = {
  toolsPageSize: 100,
  maxBatchSize: 100,
  maxBatchResponseBytes: 4 * 1024 * 1024,
  progressIntervalMs: 5_000,
} as const;

/** The bounds of `mcp.progressIntervalMs`: a notification at most every 10 ms, at least every 5 minutes. */
const PROGRESS_INTERVAL_BOUNDS = { min: 10, max: 300_000 } as const;

export interface McpEndpointOptions extends McpOptions {
  sessions: SessionCache;
  bodyLimit: number;
  serverInfo: { name: string; version: string };
  /** The served ToolMux's `baseUrl`: its origin may always call the endpoint. */
  baseUrl: string;
  /**
   * Whether an `x-api-key` header carries the project API key: then it opens any session's endpoint
   * in place of the session token, as Composio's MCP URLs accept. Without it the header is refused.
   */
  apiKeyMatches?: (key: string) => boolean;
  onUnexpected: (error: unknown) => void;
  /** Where problems that are not errors of the request go (a tool result that breaks its schema). */
  onWarning: (message: string) => void;
}

/**
 * The methods `/mcp/:sessionId` takes: POST, and OPTIONS (the CORS preflight, or what it takes). The
 * `Allow` of every 405 there, and of the OPTIONS answer, lists them alike.
 */
const MCP_ALLOW = 'OPTIONS, POST';

/**
 * CORS for pages of allowed origins. The request headers are those a Streamable HTTP client sends
 * (the MCP SDK's `StreamableHTTPClientTransport`: `authorization`, `content-type`,
 * `mcp-protocol-version`, `mcp-session-id`, and `last-event-id` when it resumes a stream) plus
 * `x-api-key` (the project API key in place of the session token); `accept` needs no permission.
 * POST, and DELETE: GET (an SSE stream) and DELETE (ending a session) answer 405 here, but the SDK's
 * `terminateSession()` sends DELETE with the `Mcp-Session-Id` that initialize gives out, and takes a
 * 405 as "the server does not end sessions"; a preflight without DELETE would make it a network
 * error. GET needs no listing to reach the server, and its 405 carries the CORS headers, so a page
 * reads it.
 */
const CORS_ALLOW_METHODS = 'POST, DELETE';
const CORS_ALLOW_HEADERS =
  'authorization, content-type, mcp-protocol-version, mcp-session-id, last-event-id, x-api-key';
/**
 * Response headers a page's script may read besides the CORS-safelisted ones: `mcp-session-id` (the
 * SDK reads it after every POST), `www-authenticate` (read on a 401 / 403 to find how to sign in) and
 * `x-request-id` (to find the request in the server's log).
 */
const CORS_EXPOSE_HEADERS = 'mcp-session-id, www-authenticate, x-request-id';
/** How long a browser may reuse a preflight's answer, in seconds (Chromium caps it at 7200). */
const CORS_MAX_AGE = '7200';

/**
 * How long a cancellation that arrived before its call is remembered (the two requests raced), and
 * how many such cancellations at most, per MCP connection, per toolmux session and in all (see
 * {@link EarlyCancels}: a client that sends many pushes out only its own).
 */
const EARLY_CANCEL_LIMITS: EarlyCancelLimits = {
  ttlMs: 60_000,
  perConnection: 100,
  perSession: 1_000,
  total: 10_000,
};

/** At most this many tools/list problems are remembered as warned of (see `McpEndpoint.#warned`). */
const MAX_WARNED_PROBLEMS = 1_000;

/** The first protocol version without JSON-RPC batching. */
const NO_BATCH_PROTOCOL_VERSION = '2025-06-18';

type JsonRpcId = string | number | null;

/**
 * The key of a request in {@link McpEndpoint}'s running calls: the toolmux session, the MCP
 * connection (the `Mcp-Session-Id` the client got from initialize; empty for clients that send none)
 * and the JSON-RPC id, typed (`1` and `"1"` are different ids).
 */
function runningKey(sessionId: string, connection: string, id: string | number): string {
  return `${sessionId}\n${connection}\n${idKey(id)}`;
}

/**
 * The id that answers a message refused as a whole: its own when it is one a client can have sent
 * and can match (the SDK's `RequestIdSchema`: a string, or a safe integer), else `null`, as JSON-RPC
 * answers a request whose id cannot be detected. An id such as `1.5`, or `12345678901234567890`
 * (which JSON numbers read as 12345678901234567000), was answered as it was read: an id that no
 * client can match, or one the client never sent.
 */
function replyIdOf(message: unknown): JsonRpcId {
  if (!isPlainObject(message)) return null;
  const { id } = message;
  return RequestIdSchema.safeParse(id).success ? (id as string | number) : null;
}

/** A JSON-RPC id as a key, typed (`1` and `"1"` are different ids). */
function idKey(id: string | number): string {
  return typeof id === 'number' ? `n${id}` : `s${id}`;
}

/** Where a request came from: the toolmux session, the MCP connection (see {@link runningKey}), its id. */
interface RequestOrigin {
  sessionId: string;
  connection: string;
  id: string | number;
}

const JSON_HEADERS = { 'content-type': 'application/json' } as const;

/** At most this many characters of a value of the request are repeated in an error (see {@link shown}). */
const SHOWN_CHARS = 200;

/**
 * A value of the request (a header, the session id of the path, a JSON-RPC method) as an error
 * repeats it: quoted and JSON-escaped, and cut to {@link SHOWN_CHARS} characters, never inside a
 * surrogate pair, with `…` after the cut. Every value an error of this endpoint repeats goes through
 * it: one repeated whole gave a client back the megabyte it sent.
 */
function shown(value: string): string {
  return shownValueUpTo(value, SHOWN_CHARS);
}

function rpcError(id: JsonRpcId, code: number, message: string, data?: unknown) {
  return {
    jsonrpc: '2.0' as const,
    id,
    error: data === undefined ? { code, message } : { code, message, data },
  };
}

/** A limit of `createServer({ mcp })`: the default when left out, else a whole number, 1 or more. */
function mcpLimitOf(
  options: McpOptions,
  name: 'toolsPageSize' | 'maxBatchSize' | 'maxBatchResponseBytes',
  unit: string,
  purpose: string,
): number {
  return wholeNumberOf(options[name], {
    name: `mcp.${name}`,
    code: 'CONFIG_INVALID',
    unit,
    min: 1,
    purpose,
    leaveOut: `Leave it out for ${MCP_DEFAULTS[name]}.`,
    default: MCP_DEFAULTS[name],
  });
}

/**
 * What `createServer({ mcp })` sets, checked: the origins allowed besides baseUrl's, the limits, and
 * how property keys are listed.
 */
export interface McpSettings {
  origins: { any: boolean; origins: Set<string> };
  pageSize: number;
  maxBatchSize: number;
  maxBatchResponseBytes: number;
  propertyKeys: PropertyKeysMode;
  progressIntervalMs: number;
}

/**
 * The settings of `createServer({ mcp })`, or `CONFIG_INVALID` naming the first that is not usable.
 * `toolmux serve` checks them with the config file's other settings, before it writes a file.
 */
export function mcpSettings(options: McpOptions): McpSettings {
  return {
    origins: originsOf(options.allowedOrigins ?? []),
    pageSize: mcpLimitOf(options, 'toolsPageSize', 'tools', 'the most tools of one tools/list page'),
    maxBatchSize: mcpLimitOf(options, 'maxBatchSize', 'messages', 'the most messages of one JSON-RPC batch'),
    maxBatchResponseBytes: mcpLimitOf(
      options,
      'maxBatchResponseBytes',
      'bytes',
      'the most JSON of the answer to one batch',
    ),
    propertyKeys: propertyKeysOf(options.propertyKeys),
    progressIntervalMs: wholeNumberOf(options.progressIntervalMs, {
      name: 'mcp.progressIntervalMs',
      code: 'CONFIG_INVALID',
      unit: 'milliseconds',
      ...PROGRESS_INTERVAL_BOUNDS,
      purpose: 'how often a tools/call that asks for progress gets a progress notification while it runs',
      leaveOut: `Leave it out for ${MCP_DEFAULTS.progressIntervalMs}.`,
      default: MCP_DEFAULTS.progressIntervalMs,
    }),
  };
}

/** `mcp.propertyKeys`, checked: CONFIG_INVALID naming the value otherwise. */
function propertyKeysOf(value: unknown): PropertyKeysMode {
  if (value === undefined) return 'portable';
  if (value === 'portable' || value === 'unchanged') return value;
  throw new ToolMuxError({
    code: 'CONFIG_INVALID',
    message: `mcp.propertyKeys must be 'portable' (rename keys a major model API refuses) or 'unchanged'; got ${shownValue(value)}. Leave it out for 'portable'.`,
  });
}

/** The origins of `allowedOrigins`, normalized (`https://Example.com:443/` → `https://example.com`). */
function originsOf(allowed: readonly string[]): { any: boolean; origins: Set<string> } {
  const origins = new Set<string>();
  let any = false;
  for (const [index, entry] of allowed.entries()) {
    if (entry === '*') {
      any = true;
      continue;
    }
    let origin: string | undefined;
    try {
      origin = new URL(entry).origin;
    } catch {
      origin = undefined;
    }
    if (!origin || origin === 'null') {
      throw new ToolMuxError({
        code: 'CONFIG_INVALID',
        message: `mcp.allowedOrigins[${index}]: ${shownValue(entry)} is not an origin; write scheme://host[:port], e.g. "https://app.example.com", or "*" for any.`,
      });
    }
    origins.add(origin);
  }
  return { any, origins };
}

/**
 * The opaque `tools/list` cursor of the page starting at `offset` of the list whose names hash to
 * `listed` (see {@link McpToolView.listed}): a cursor of another list (the session changed between
 * two pages, or another session's) is refused, not read as an offset into a list it was not made for.
 */
function toolsCursor(offset: number, listed: string): string {
  return Buffer.from(`tools:${offset}:${listed}`).toString('base64url');
}

/**
 * The offset of a `tools/list` cursor of the list whose names hash to `listed`, or undefined when it
 * is not one this endpoint gave out for it.
 */
function toolsCursorOffset(cursor: string, listed: string): number | undefined {
  if (!/^[A-Za-z0-9_-]{1,48}$/.test(cursor)) return undefined;
  const match = /^tools:([1-9]\d{0,8}):([A-Za-z0-9_-]{11})$/.exec(
    Buffer.from(cursor, 'base64url').toString('latin1'),
  );
  return match && match[2] === listed ? Number(match[1]) : undefined;
}

/** A short hash of the names of a list of tools, in order (see {@link McpToolView.listed}). */
function listedNamesHash(tools: readonly McpTool[]): string {
  const hash = createHash('sha256');
  for (const tool of tools) hash.update(`${tool.name}\n`);
  return hash.digest().subarray(0, 8).toString('base64url');
}

function httpRpcError(
  status: number,
  code: number,
  message: string,
  toolmuxCode: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(rpcError(null, code, message, { code: toolmuxCode })), {
    status,
    headers: { ...JSON_HEADERS, ...headers },
  });
}

const BEARER_REALM = 'Bearer realm="toolmux-mcp"';

/**
 * Where a client finds a session's token, in the REST API's words (an SDK application reads the same
 * as `session.mcp.headers`). Text of a `WWW-Authenticate` header too: ASCII only.
 */
const SESSION_TOKEN_HOWTO =
  'Authorization: Bearer <token>, as mcp.headers of POST /api/v1/sessions or GET /api/v1/sessions/:sessionId gives it (session.mcp.headers in the SDK)';

function unauthorized(message: string, invalidToken: boolean): Response {
  return httpRpcError(401, -32001, message, 'UNAUTHORIZED', {
    'www-authenticate': invalidToken
      ? `${BEARER_REALM}, error="invalid_token", error_description="${message.replace(/"/g, "'")}"`
      : BEARER_REALM,
  });
}

/** What `tools/list` shows for one exposed tool (see {@link mcpListedTool} for the check it then gets). */
export function mcpToolOf(spec: ToolSpec, propertyKeys: PropertyKeysMode): McpTool {
  const tool: McpTool = {
    name: spec.slug,
    description: spec.description,
    inputSchema: withPortableKeys(spec, spec.inputSchema, propertyKeys) as McpTool['inputSchema'],
  };
  if (spec.name !== spec.slug) tool.title = spec.annotations.title ?? spec.name;
  if (Object.keys(spec.annotations).length > 0) tool.annotations = { ...spec.annotations };
  return tool;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What `tools/list` answers for a session, built once per cache entry. */
interface McpToolView {
  tools: McpTool[];
  /** Validators of the tools that list an object output schema: their results carry `structuredContent`. */
  validators: Map<string, OutputValidator>;
  /** The listed tools' specs, by name: a call's arguments are read back by its tool's. */
  specs: Map<string, ToolSpec>;
  /**
   * A hash of the listed names, in order, which each `nextCursor` carries: a page asked for with the
   * cursor of a list that has changed since (an update added or removed tools) would skip or repeat
   * tools, so it is refused, and the client starts again.
   */
  listed: string;
}

/**
 * The per-session MCP endpoint: Streamable HTTP, stateless, JSON responses (and an event stream
 * for a long tools/call that asks for progress).
 *
 * It answers the JSON-RPC methods a tools-only server needs (initialize, ping, tools/list,
 * tools/call) itself, validating messages with the MCP SDK's own zod schemas (over stand-ins that
 * leave out what they accept whatever it is: see message-check.ts), instead of building
 * an SDK `Server` and transport for every request: a stateless server has no session to keep, so
 * that work is pure overhead (see bench/mcp.bench.ts). There are no server-initiated messages, so
 * every request is answered with `application/json` (which the spec allows) and GET/DELETE are 405;
 * only a tools/call that asks for progress and runs longer than the progress interval is answered
 * with an SSE stream of its progress and then its response (see `#answerWithProgress`).
 *
 * initialize gives out an `Mcp-Session-Id`, which nothing requires and no instance stores: it only
 * tells apart the MCP connections of one toolmux session, whose clients number their requests alike,
 * so that `notifications/cancelled` aborts the call of the connection that sent it.
 */
export class McpEndpoint {
  readonly #options: McpEndpointOptions;
  readonly #views = new WeakMap<CachedSession, Promise<McpToolView>>();
  readonly #origins: { any: boolean; origins: Set<string> };
  readonly #pageSize: number;
  readonly #propertyKeys: PropertyKeysMode;
  readonly #maxBatchSize: number;
  readonly #maxBatchResponseBytes: number;
  readonly #progressIntervalMs: number;
  /**
   * The aborters of the tools/call requests running on this instance, by {@link runningKey}:
   * `notifications/cancelled` arrives in a request of its own, and aborts the call it names.
   */
  readonly #running = new Map<string, Set<AbortController>>();
  /**
   * Cancellations that named no running call: a client sends the cancellation right after the call,
   * and the two requests race. Kept only for connections with an `Mcp-Session-Id`, whose request ids
   * are never reused (a client without one may reuse an id after its call has finished).
   */
  readonly #earlyCancels = new EarlyCancels(EARLY_CANCEL_LIMITS);
  /**
   * The tools/list problems warned of (see {@link mcpListedTool}), so that each is warned of once, not
   * at every resume of every session with the tool; forgotten past {@link MAX_WARNED_PROBLEMS}.
   */
  readonly #warned = new Set<string>();

  /** @throws {ToolMuxError} `CONFIG_INVALID` for an option that is not usable, naming it. */
  constructor(options: McpEndpointOptions) {
    this.#options = options;
    const settings = mcpSettings(options);
    this.#origins = settings.origins;
    try {
      this.#origins.origins.add(new URL(options.baseUrl).origin);
    } catch {
      // An unusable baseUrl fails elsewhere; it just allows no origin here.
    }
    this.#pageSize = settings.pageSize;
    this.#maxBatchSize = settings.maxBatchSize;
    this.#maxBatchResponseBytes = settings.maxBatchResponseBytes;
    this.#propertyKeys = settings.propertyKeys;
    this.#progressIntervalMs = settings.progressIntervalMs;
  }

  /**
   * 403 for a request from a web page of an origin that is not allowed (Streamable HTTP: servers
   * must validate `Origin`, against DNS rebinding); undefined when the request may go on.
   */
  #refuseOrigin(request: Request): Response | undefined {
    const origin = request.headers.get('origin');
    if (origin === null || this.#origins.any || this.#origins.origins.has(origin)) return undefined;
    return httpRpcError(
      403,
      -32000,
      `Origin ${shown(origin)} may not call this MCP endpoint. Allow it with createServer({ mcp: { allowedOrigins: [${shown(origin)}] } }) (or mcp.allowedOrigins in the config file).`,
      'ORIGIN_NOT_ALLOWED',
    );
  }

  /** The request's `Origin` when it is one whose pages may call the endpoint (CORS answers it). */
  #corsOrigin(request: Request): string | undefined {
    const origin = request.headers.get('origin');
    if (origin === null || !(this.#origins.any || this.#origins.origins.has(origin))) return undefined;
    return origin;
  }

  /**
   * `OPTIONS /mcp/:sessionId`: the CORS preflight of a page of an allowed origin gets 204 with what it
   * may send; one of any other origin gets the 403 its POST would get, without CORS headers (so the
   * browser blocks the call). Without `Origin` (not a preflight), 204 with `Allow`.
   */
  handlePreflight(request: Request): Response {
    const refused = this.#refuseOrigin(request);
    if (refused) return refused;
    const origin = this.#corsOrigin(request);
    if (origin === undefined) return new Response(null, { status: 204, headers: { allow: MCP_ALLOW } });
    return new Response(null, {
      status: 204,
      headers: {
        'access-control-allow-origin': origin,
        'access-control-allow-methods': CORS_ALLOW_METHODS,
        'access-control-allow-headers': CORS_ALLOW_HEADERS,
        'access-control-max-age': CORS_MAX_AGE,
        vary: 'Origin',
      },
    });
  }

  /**
   * The response to a request of an allowed origin's page, with the CORS headers that let the page
   * read it (errors included); any other response as it is.
   */
  withCors(request: Request, response: Response): Response {
    const origin = this.#corsOrigin(request);
    if (origin === undefined || response.headers.has('access-control-allow-origin')) return response;
    let answer = response;
    try {
      answer.headers.set('access-control-allow-origin', origin);
    } catch {
      // a response with immutable headers: copy it
      answer = new Response(response.body, response);
      answer.headers.set('access-control-allow-origin', origin);
    }
    answer.headers.set('access-control-expose-headers', CORS_EXPOSE_HEADERS);
    answer.headers.append('vary', 'Origin');
    return answer;
  }

  /**
   * Any other method at `/mcp/:sessionId`: 405. `GET`: no SSE stream; `DELETE`: no session to end in
   * a stateless server (the spec lets a server refuse DELETE with 405; the SDK client accepts it).
   */
  handleOther(request: Request): Response {
    return this.#refuseOrigin(request) ?? mcpMethodNotAllowed(request.method);
  }

  /** Answers `POST /mcp/:sessionId`. */
  async handlePost(request: Request, sessionId: string): Promise<Response> {
    const refused = this.#refuseOrigin(request);
    if (refused) return refused;
    // The session token, or the project API key in x-api-key (how Composio's MCP URLs authenticate).
    const apiKey = request.headers.get('x-api-key');
    const authorization = request.headers.get('authorization');
    const token = bearerCredentials(authorization);
    if (apiKey === null && token === undefined) {
      return unauthorized(
        `Send the session token: ${SESSION_TOKEN_HOWTO}, or the project API key in an x-api-key header.`,
        false,
      );
    }
    if (apiKey !== null && !this.#options.apiKeyMatches?.(apiKey)) {
      const repeated = repeatedCredentialHeader('x-api-key', apiKey);
      if (repeated) return httpRpcError(400, -32600, repeated.message, repeated.code);
      return unauthorized(
        `The x-api-key header is not this server's project API key. Send the project API key there, or the session token: ${SESSION_TOKEN_HOWTO}.`,
        true,
      );
    }
    let entry: CachedSession | undefined;
    try {
      entry =
        apiKey !== null
          ? await this.#options.sessions.get(sessionId)
          : await this.#options.sessions.authorize(sessionId, token!);
    } catch (error) {
      if (ToolMuxError.isInstance(error) && error.code === 'SESSION_NOT_FOUND') {
        return httpRpcError(
          404,
          -32001,
          `No session ${shown(sessionId)} (deleted, or never created): create one with POST /api/v1/sessions and connect to the mcp.url it answers, with its mcp.headers.`,
          'SESSION_NOT_FOUND',
        );
      }
      if (ToolMuxError.isInstance(error)) {
        if (error.status >= 500) this.#options.onUnexpected(error); // logged with its cause
        // in an HTTP client's words, as the REST API answers it (not the SDK's: "pass them to use()")
        const message = typeof error.messageFor === 'function' ? error.messageFor('rest') : error.message;
        return httpRpcError(error.status, -32001, message, error.code);
      }
      throw error;
    }
    if (!entry) {
      const repeated =
        apiKey === null ? repeatedCredentialHeader('Authorization', authorization!) : undefined;
      if (repeated) return httpRpcError(400, -32600, repeated.message, repeated.code);
      // the project API key after Bearer (as /api/v1 takes it): where it goes here instead. Telling so
      // says nothing about the session, and only to a caller who holds the key.
      if (this.#options.apiKeyMatches?.(token!)) {
        return unauthorized(
          `The project API key is not taken after Bearer here: send it in an x-api-key header instead, or send the session token: ${SESSION_TOKEN_HOWTO}.`,
          true,
        );
      }
      return unauthorized(
        `The token is not this session's current token (another session's, one a rotation replaced, or one made under a secret key this server does not have: every instance on one store needs the same secret key, TOOLMUX_SECRET_KEY or secretKey): send ${SESSION_TOKEN_HOWTO}, or the project API key in an x-api-key header.`,
        true,
      );
    }

    const protocolVersion = request.headers.get('mcp-protocol-version');
    if (protocolVersion !== null && !SUPPORTED_PROTOCOL_VERSIONS.includes(protocolVersion)) {
      return httpRpcError(
        400,
        ErrorCode.InvalidRequest,
        `Unsupported MCP-Protocol-Version ${shown(protocolVersion)}; supported: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')}.`,
        'INVALID_REQUEST',
      );
    }
    // Clients must accept application/json and text/event-stream; this endpoint answers with JSON,
    // but for the progress of a long tools/call.
    const accept = request.headers.get('accept');
    if (accept !== null && !acceptsJson(accept)) {
      return httpRpcError(
        406,
        ErrorCode.InvalidRequest,
        `Accept ${shown(accept)} does not take application/json, the type this endpoint answers with: send Accept: application/json, text/event-stream, as the MCP specification asks of clients.`,
        'INVALID_REQUEST',
      );
    }
    // a tools/call that asks for progress may be answered with an event stream (see #answerWithProgress)
    const readsStream = accept !== null && acceptsEventStream(accept);
    if (!isJsonContentType(request.headers.get('content-type'))) {
      return httpRpcError(
        415,
        ErrorCode.InvalidRequest,
        'Send JSON-RPC messages with Content-Type: application/json.',
        'UNSUPPORTED_MEDIA_TYPE',
      );
    }

    let payload: unknown;
    // the wide objects of a large body, by their key count (a message of them is refused unlisted)
    const keyCounts = new WeakMap<object, number>();
    try {
      // a large body is parsed a slice at a time, the depth and key limits enforced while parsing
      payload = await parseJsonText(
        await readBodyText(request, this.#options.bodyLimit),
        MAX_BODY_DEPTH,
        MAX_OBJECT_KEYS,
        keyCounts,
      );
    } catch (error) {
      if (ToolMuxError.isInstance(error)) {
        return httpRpcError(error.status, ErrorCode.InvalidRequest, error.message, error.code);
      }
      if (error instanceof JsonTextError && error.kind === 'depth') {
        const message = `The request nests objects and arrays more than ${MAX_BODY_DEPTH} levels deep; send tool arguments as the tool's input schema describes.`;
        return httpRpcError(400, ErrorCode.InvalidRequest, message, 'INVALID_REQUEST');
      }
      if (error instanceof JsonTextError && error.kind === 'keys') {
        const message = `The request holds an object of more than ${MAX_OBJECT_KEYS} keys, which cannot be listed without holding every other request; send its entries as an array ([{ key, value }, …]), or fewer keys.`;
        return httpRpcError(400, ErrorCode.InvalidRequest, message, 'INVALID_REQUEST');
      }
      return httpRpcError(
        400,
        ErrorCode.ParseError,
        'Parse error: the body is not valid JSON.',
        'INVALID_REQUEST',
      );
    }

    // The MCP connection: the Mcp-Session-Id given out by initialize, which clients send back.
    const connection = request.headers.get('mcp-session-id')?.slice(0, 200) ?? '';
    let issuedConnection: string | undefined;
    const batch = Array.isArray(payload);
    const messages: unknown[] = Array.isArray(payload) ? payload : [payload];
    if (batch) {
      // A stateless server knows the negotiated version only from the MCP-Protocol-Version header,
      // which clients send after initialize; without it the spec says to assume 2025-03-26.
      const refusedBatch = this.#refuseBatch(
        messages,
        protocolVersion ?? DEFAULT_NEGOTIATED_PROTOCOL_VERSION,
      );
      if (refusedBatch) return refusedBatch;
    }
    // A batch's answer is built as text, so that its size is known before it is all in memory; a
    // single message's answer is kept as it is and written at the end (see jsonResponse).
    const responses: string[] = [];
    let single: { response: unknown } | undefined;
    let responseBytes = 2;
    let overflowed = false;
    // a large answer (a tool's megabyte) is serialised a slice at a time
    const respond = async (response: unknown, id: JsonRpcId) => {
      let json: string;
      if (!batch) {
        single = { response };
        return;
      }
      if (overflowed) json = JSON.stringify(this.#tooLarge(id, false));
      else {
        // measured in pieces: a response past the limit (a tool's 8 MB) is never joined into one string
        const text = (await jsonTextPieces(response))!;
        if (responseBytes + utf8Length(text) + 1 > this.#maxBatchResponseBytes) {
          overflowed = true;
          json = JSON.stringify(this.#tooLarge(id, true));
        } else json = typeof text === 'string' ? text : text.pieces.join('');
      }
      responseBytes += Buffer.byteLength(json) + 1;
      responses.push(json);
    };
    // what the batch's calls run under (see requestSignal), made once for them all
    let signal: AbortSignal | undefined;
    for (const message of messages) {
      if (!isJsonRpcMessage(message, keyCounts)) {
        const messageId = replyIdOf(message);
        await respond(rpcError(messageId, ErrorCode.InvalidRequest, 'Invalid JSON-RPC message.'), messageId);
        continue;
      }
      const value = message;
      if ('method' in value && value.method === 'notifications/cancelled' && !('id' in value)) {
        this.#cancel(sessionId, connection, value);
        continue;
      }
      // Other notifications (initialized) and responses need no answer from a stateless server.
      if (!('method' in value) || !('id' in value)) continue;
      const rpcRequest = value as JSONRPCRequest;
      // Past the response limit, the batch's remaining requests are answered without being run.
      if (overflowed) {
        await respond(undefined, rpcRequest.id);
        continue;
      }
      if (rpcRequest.method === 'initialize') {
        // A new MCP connection: its id scopes the request ids that its cancellations name.
        issuedConnection = randomUUID();
      }
      const origin = { sessionId, connection, id: rpcRequest.id };
      signal ??= requestSignal(request);
      // a batch is answered as a whole, with JSON: its calls get no progress
      const progressToken = !batch && readsStream ? progressTokenOf(rpcRequest) : undefined;
      if (progressToken !== undefined) {
        // a stream the client stops reading aborts the call, also where a runtime aborts no
        // request's signal when its client goes away
        const unread = new AbortController();
        // the calls a workbench cell has made so far, which its progress names
        const cell: CellCalls = { count: 0 };
        const answering = this.#answer(
          rpcRequest,
          entry,
          AbortSignal.any([signal, unread.signal]),
          origin,
          cell,
        );
        const { name } = rpcRequest.params as { name?: unknown };
        return this.#answerWithProgress(answering, rpcRequest.id, progressToken, name, unread, cell);
      }
      const answer = await this.#answer(rpcRequest, entry, signal, origin);
      // A cancelled request gets no response (the client has stopped waiting for it).
      if (answer !== CANCELLED) await respond(answer, rpcRequest.id);
    }
    const headers: Record<string, string> =
      issuedConnection === undefined ? {} : { 'mcp-session-id': issuedConnection };
    // a tool's result of megabytes goes out in UTF-8 chunks written a slice at a time, not as one
    // string encoded at once
    if (single !== undefined) return jsonResponse(single.response, 200, headers);
    if (responses.length === 0) return new Response(null, { status: 202, headers });
    return new Response(`[${responses.join(',')}]`, {
      status: 200,
      headers: { ...JSON_HEADERS, ...headers },
    });
  }

  /**
   * The answer to a request that asks for progress (a tools/call with `params._meta.progressToken`),
   * from a client that reads an event stream. Ready within the progress interval, it is the JSON
   * answer (or the 202 of a cancelled call) any request gets. Else it is an SSE stream: a
   * `notifications/progress` at once and at every interval while the call runs, then the response,
   * written as a JSON answer is (a slice at a time, see {@link jsonBody}), and the end of the stream
   * (a cancelled call's stream ends without it). The request's log line is written when the response
   * is, with its duration and any fault (see {@link answerGoesOn}). The stream has no event ids: the
   * endpoint keeps nothing to resume it from, and the client, seeing none, does not try.
   * A client that disconnects aborts the call through the request's signal, as it does a call
   * answered with JSON, and a stream it stops reading (cancels) through `unread`.
   */
  async #answerWithProgress(
    answering: Promise<unknown>,
    id: string | number,
    progressToken: string | number,
    name: unknown,
    unread: AbortController,
    cell: CellCalls,
  ): Promise<Response> {
    const intervalMs = this.#progressIntervalMs;
    const started = performance.now();
    const early = await settledWithin(answering, intervalMs);
    if (early === CANCELLED) return new Response(null, { status: 202 });
    if (early !== STILL_RUNNING) return jsonResponse(early, 200, {});
    // written in the request's context: a fault here is recorded on its log line
    const written = answering
      .then((answer) => (answer === CANCELLED ? undefined : jsonBody(answer)))
      .catch((error: unknown) => {
        this.#options.onUnexpected(error);
        return jsonBody(
          rpcError(id, ErrorCode.InternalError, 'Internal error: the server logged the cause.'),
        );
      });
    answerGoesOn(written);
    const tool = typeof name === 'string' ? shown(name) : 'The tool';
    const isCell = typeof name === 'string' && metaToolKind(name) === 'WORKBENCH';
    // a cell's progress says how far its code has got: how many tool calls it has made
    const calls = () =>
      isCell ? `; ${cell.count.toLocaleString('en')} tool call${cell.count === 1 ? '' : 's'} so far` : '';
    const progress = (count: number) =>
      JSON.stringify({
        jsonrpc: '2.0',
        method: 'notifications/progress',
        params: {
          progressToken,
          progress: count,
          message: `${tool} is still running (${elapsedText(performance.now() - started)}${calls()}).`,
        },
      });
    const events = progressEvents(written, intervalMs, progress);
    const stream = eventStream(events, () =>
      unread.abort(new Error('The MCP client stopped reading the answer before the call ended.')),
    );
    return responseWithRequestId(stream, 200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      // a proxy that buffers answers (nginx) would hold the progress back until the end
      'x-accel-buffering': 'no',
    });
  }

  /**
   * `notifications/cancelled`: aborts the named tools/call of the same MCP connection, if it runs on
   * this instance. A cancellation of a request that has finished, or that this instance does not
   * run, does nothing (the spec asks for no more).
   */
  #cancel(sessionId: string, connection: string, message: unknown): void {
    const parsed = cancellationOf(message);
    const requestId = parsed?.requestId;
    if (requestId === undefined) return;
    const key = runningKey(sessionId, connection, requestId);
    const running = this.#running.get(key);
    if (!running) {
      if (connection !== '' && key.length <= 1024) {
        this.#earlyCancels.remember(sessionId, connection, idKey(requestId));
      }
      return;
    }
    const reason = parsed!.reason;
    for (const controller of running) {
      controller.abort(new Error(`The MCP client cancelled the call${reason ? `: ${shown(reason)}` : ''}.`));
    }
  }

  /** A 400 for a batch this endpoint does not run (protocol version, size, initialize inside). */
  #refuseBatch(messages: unknown[], protocolVersion: string): Response | undefined {
    if (protocolVersion >= NO_BATCH_PROTOCOL_VERSION) {
      return httpRpcError(
        400,
        ErrorCode.InvalidRequest,
        `JSON-RPC batches are not part of MCP ${protocolVersion} (removed in ${NO_BATCH_PROTOCOL_VERSION}): send one message per request.`,
        'INVALID_REQUEST',
      );
    }
    if (messages.length === 0) {
      return httpRpcError(400, ErrorCode.InvalidRequest, 'Empty JSON-RPC batch.', 'INVALID_REQUEST');
    }
    if (messages.length > this.#maxBatchSize) {
      return httpRpcError(
        400,
        ErrorCode.InvalidRequest,
        `A JSON-RPC batch of ${messages.length} messages is over the limit of ${this.#maxBatchSize}: send at most ${this.#maxBatchSize} per request.`,
        'INVALID_REQUEST',
      );
    }
    if (messages.some((message) => isPlainObject(message) && message.method === 'initialize')) {
      return httpRpcError(
        400,
        ErrorCode.InvalidRequest,
        'initialize must not be part of a JSON-RPC batch: send it alone.',
        'INVALID_REQUEST',
      );
    }
    return undefined;
  }

  /** The error in place of a response that would take a batch's answer over the limit. */
  #tooLarge(id: JsonRpcId, ran: boolean) {
    return rpcError(
      id,
      ErrorCode.InvalidRequest,
      `The answer to this batch would be over ${this.#maxBatchResponseBytes} bytes: ${ran ? 'this request ran, but its response is left out' : 'this request was not run'}. Send fewer requests per batch, or this one alone.`,
      { code: 'RESPONSE_TOO_LARGE' },
    );
  }

  #view(entry: CachedSession): Promise<McpToolView> {
    let view = this.#views.get(entry);
    if (!view) {
      view = this.#buildView(entry);
      // the requests of a session share one build; one that failed (the validation thread stopped)
      // is built again by the next
      this.#views.set(entry, view);
      view.catch(() => this.#views.delete(entry));
    }
    return view;
  }

  /**
   * The session's tools as MCP lists them, their output schemas compiled: a large one in the
   * validation thread, and the others a slice at a time (a session of hundreds of tools with output
   * schemas of a few dozen subschemas each was one turn of hundreds of milliseconds).
   */
  async #buildView(entry: CachedSession): Promise<McpToolView> {
    const validators = new Map<string, OutputValidator>();
    const specs = new Map<string, ToolSpec>();
    const tools: McpTool[] = [];
    const slice = new WorkSlice();
    for (const spec of entry.specs()) {
      const tool = mcpToolOf(spec, this.#propertyKeys);
      const output = await mcpOutputSchemaOf(spec, (reason) =>
        this.#options.onWarning(
          `toolmux server: ${spec.slug} is listed over MCP without its output schema: ${reason}.`,
        ),
      );
      if (output) tool.outputSchema = output.outputSchema as McpTool['outputSchema'];
      // as MCP's Tool shape takes it (boolean property schemas as objects: the validator means the same)
      const listed = mcpListedTool(tool, (message) => this.#warnOnce(message));
      if (listed) {
        if (output && listed.withOutputSchema) validators.set(tool.name, output.validator);
        tools.push(listed.tool);
        specs.set(tool.name, spec);
      }
      await slice.breathe();
    }
    return { tools, validators, specs, listed: listedNamesHash(tools) };
  }

  #warnOnce(message: string): void {
    if (this.#warned.has(message)) return;
    if (this.#warned.size >= MAX_WARNED_PROBLEMS) this.#warned.clear();
    this.#warned.add(message);
    this.#options.onWarning(message);
  }

  /** One page of `tools/list`; undefined for a cursor this endpoint did not give out. */
  async #toolsPage(
    entry: CachedSession,
    cursor: unknown,
  ): Promise<{ tools: McpTool[]; nextCursor?: string } | undefined> {
    const { tools, listed } = await this.#view(entry);
    let offset = 0;
    // No cursor (or a null one, which some clients send for "none") is the first page.
    if (cursor !== undefined && cursor !== null) {
      const decoded = typeof cursor === 'string' ? toolsCursorOffset(cursor, listed) : undefined;
      if (decoded === undefined || decoded >= tools.length) return undefined;
      offset = decoded;
    }
    const end = offset + this.#pageSize;
    if (offset === 0 && end >= tools.length) return { tools };
    return {
      tools: tools.slice(offset, end),
      ...(end < tools.length ? { nextCursor: toolsCursor(end, listed) } : {}),
    };
  }

  async #answer(
    message: JSONRPCRequest,
    entry: CachedSession,
    signal: AbortSignal,
    origin: RequestOrigin,
    cell?: CellCalls,
  ): Promise<unknown> {
    const { id } = message;
    const key = runningKey(origin.sessionId, origin.connection, origin.id);
    try {
      switch (message.method) {
        case 'initialize': {
          const requested = (message.params as { protocolVersion?: unknown } | undefined)?.protocolVersion;
          return {
            jsonrpc: '2.0',
            id,
            result: {
              protocolVersion:
                typeof requested === 'string' && SUPPORTED_PROTOCOL_VERSIONS.includes(requested)
                  ? requested
                  : LATEST_PROTOCOL_VERSION,
              capabilities: { tools: { listChanged: false } },
              serverInfo: this.#options.serverInfo,
            },
          };
        }
        case 'ping':
          return { jsonrpc: '2.0', id, result: {} };
        case 'tools/list': {
          const page = await this.#toolsPage(
            entry,
            (message.params as { cursor?: unknown } | undefined)?.cursor,
          );
          if (!page) {
            return rpcError(
              id,
              ErrorCode.InvalidParams,
              "Invalid cursor: pass the nextCursor of the previous tools/list answer, or no cursor for the first page (a cursor stops working when the session's tools change: start again from the first page).",
            );
          }
          return { jsonrpc: '2.0', id, result: page };
        }
        case 'tools/call': {
          const call = toolCallOf(message);
          if (!call.success) {
            return rpcError(id, ErrorCode.InvalidParams, badToolCallParams(message.params, call));
          }
          const { name } = call;
          const spec = (await this.#view(entry)).specs.get(name);
          const args = spec ? portableArgumentsOf(spec, call.arguments, this.#propertyKeys) : call.arguments;
          // Cancelled before it arrived (that cancellation is forgotten now): not run, but logged as
          // TOOL_ABORTED, as session.execute() logs a call whose signal aborted before it started, and
          // as this endpoint logs the calls of a batch whose client went away before they started.
          // Every call a client asked for has its entry.
          if (this.#earlyCancels.take(origin.sessionId, origin.connection, idKey(origin.id))) {
            await embeddedSession(entry.session).executeFor('rest', name, args ?? {}, {
              signal: AbortSignal.abort(new Error('The MCP client cancelled the call before it arrived.')),
            });
            return CANCELLED;
          }
          // aborted when the client goes away, or cancels the call (notifications/cancelled)
          const cancel = new AbortController();
          const running = this.#running.get(key) ?? new Set<AbortController>();
          this.#running.set(key, running);
          running.add(cancel);
          let result: ToolResult;
          try {
            // a failure names what the application does in the REST API's words, as this endpoint's
            // own errors do (an MCP client is no SDK caller: not `session.authorize("mail")`)
            const options: MultiExecuteOptions = { signal: AbortSignal.any([signal, cancel.signal]) };
            // a workbench cell counts the tool calls its code makes, for its progress
            if (cell) options[CELL_CALL_HOOKS] = countingCalls(cell);
            result = await embeddedSession(entry.session).executeFor('rest', name, args ?? {}, options);
          } finally {
            running.delete(cancel);
            if (running.size === 0 && this.#running.get(key) === running) this.#running.delete(key);
          }
          if (cancel.signal.aborted) return CANCELLED;
          // a successful result's JSON text, serialised a slice at a time when large, and then
          // left in its pieces: joining megabytes is one call of tens of milliseconds, and the
          // answer escapes the text a piece at a time anyway
          const text =
            result.successful && result.data !== null && typeof result.data === 'object'
              ? ((await jsonTextPiecesSliced(result.data, new WorkSlice())) ?? 'null')
              : formatToolResultForModel(result);
          return {
            jsonrpc: '2.0',
            id,
            result: await mcpToolResultOf(
              result,
              text,
              (await this.#view(entry)).validators.get(name),
              name,
              (problem) =>
                this.#options.onWarning(
                  `toolmux server: ${name} returned a result that does not match its output schema (${problem}); the MCP client got it as text with isError.`,
                ),
            ),
          };
        }
        default:
          return rpcError(id, ErrorCode.MethodNotFound, `Method not found: ${shown(message.method)}.`);
      }
    } catch (error) {
      this.#options.onUnexpected(error);
      return rpcError(id, ErrorCode.InternalError, 'Internal error: the server logged the cause.');
    }
  }
}

/** A description of a JSON value's type for error messages ("an array", "null", "a string"). */
function typeOfValue(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** What is wrong with the params of a tools/call request its schema refused, and how to send them. */
function badToolCallParams(
  params: Record<string, unknown> | undefined,
  issue: { readonly path: readonly PropertyKey[]; readonly message: string },
): string {
  if (typeof params?.name !== 'string') {
    return `tools/call needs params.name, the name of a tool from tools/list (it is ${typeOfValue(params?.name)}).`;
  }
  if (!isPlainObject(params.arguments) && params.arguments !== undefined) {
    return `tools/call params.arguments is ${typeOfValue(params.arguments)}: send the tool's arguments as an object (its inputSchema), or leave it out for none.`;
  }
  // the path and words of a refused argument (`params.task.ttl: is a string: send a number`), not a
  // dotted path (`params.a.0`) with zod's words
  return `tools/call ${paramsPath(issue.path)}: ${issue.message.replace(/\.$/, '')} (see the tools/call request of the MCP specification).`;
}

/** What {@link McpEndpoint}'s `#answer` gives for a request the client cancelled: no response. */
const CANCELLED = Symbol('cancelled');

/** What {@link settledWithin} gives for a promise that has not settled in time. */
const STILL_RUNNING = Symbol('still running');

/** What `promise` settles to within `ms`, else {@link STILL_RUNNING}; the timer is cleared either way. */
async function settledWithin<T>(promise: Promise<T>, ms: number): Promise<T | typeof STILL_RUNNING> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<typeof STILL_RUNNING>((resolve) => {
        timer = setTimeout(resolve, ms, STILL_RUNNING);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A time in a progress message: `850 ms`, `12 s`. */
/** How many tool calls a workbench cell has made so far (a call that asks for progress). */
interface CellCalls {
  count: number;
}

/** Cell hooks that count the calls of a cell's code, and leave their arguments and results as they are. */
function countingCalls(cell: CellCalls): NonNullable<MultiExecuteOptions[typeof CELL_CALL_HOOKS]> {
  return {
    before: async (_slug, args) => {
      cell.count++;
      return args;
    },
    after: async (_slug, result) => result,
  };
}

function elapsedText(ms: number): string {
  return ms < 1_000 ? `${Math.round(ms)} ms` : `${Math.round(ms / 1_000)} s`;
}

const utf8 = new TextEncoder();

/** One SSE event of a JSON-RPC message (JSON text holds no line break). */
function sseMessage(json: string): Uint8Array {
  return utf8.encode(`event: message\ndata: ${json}\n\n`);
}

/**
 * The events of a streamed answer (see `McpEndpoint.#answerWithProgress`): `progress(n)` at once and
 * every `intervalMs` until `written` settles, then its JSON as one event, in the chunks it was
 * written in; nothing more when it is undefined (a cancelled call).
 */
async function* progressEvents(
  written: Promise<JsonAnswer | undefined>,
  intervalMs: number,
  progress: (count: number) => string,
): AsyncGenerator<Uint8Array> {
  let count = 0;
  let settled: JsonAnswer | undefined | typeof STILL_RUNNING = STILL_RUNNING;
  while (settled === STILL_RUNNING) {
    yield sseMessage(progress(++count));
    settled = await settledWithin(written, intervalMs);
  }
  if (settled === undefined) return;
  const { body } = settled;
  if (typeof body === 'string') {
    yield sseMessage(body);
    return;
  }
  yield utf8.encode('event: message\ndata: ');
  const reader = body.getReader();
  try {
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) yield chunk.value;
  } finally {
    // the client went away mid-response: the chunks not sent are let go of
    void reader.cancel();
  }
  yield utf8.encode('\n\n');
}

/**
 * A response body of `events`, one handed to the socket per pull (a large response waits for the
 * socket as the JSON answer's chunks do). Cancelled (the client went away), it calls `onCancel`,
 * and the events end at their next step.
 */
function eventStream(events: AsyncGenerator<Uint8Array>, onCancel: () => void): ReadableStream<Uint8Array> {
  let cancelled = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await events.next();
      if (cancelled) return;
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    cancel() {
      cancelled = true;
      onCancel();
      void events.return(undefined);
    },
  });
}

/**
 * Any method but POST and OPTIONS at `/mcp/:sessionId`: `GET` (no SSE stream), `DELETE` (no session
 * to end in a stateless server), `PUT`, `PATCH`…
 */
export function mcpMethodNotAllowed(method: string): Response {
  return new Response(
    JSON.stringify(
      rpcError(
        null,
        -32000,
        `Method not allowed: this stateless MCP endpoint only accepts POST (and OPTIONS, the CORS preflight); ${shown(method)} is not answered.`,
        { code: 'METHOD_NOT_ALLOWED' },
      ),
    ),
    { status: 405, headers: { ...JSON_HEADERS, allow: MCP_ALLOW } },
  );
}
