import { readFileSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  ServerResponse,
  STATUS_CODES,
} from 'node:http';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { getRequestListener, type Http2Bindings, type HttpBindings, RequestError } from '@hono/node-server';
import { type Provider, type Store, type ToolMux, ToolMuxError } from '@toolmux/core';
import {
  ConnectionWaitScope,
  type ErrorAudience,
  everyKeyOf,
  MAX_TIMER_MS,
  onToolCall,
  openToolMuxStore,
  setupOptions,
  useHostedConnectPage,
  WorkSlice,
  wholeNumberOf,
  withDeadline,
} from '@toolmux/core/internal';
import { Hono } from 'hono';
import { bearerCredentials, MIN_API_KEY_LENGTH, secretMatcher } from './api-key.js';
import { type ApiKeySource, checkApiKeySource, whereTheApiKeyIs } from './api-key-source.js';
import {
  composioErrorBody,
  composioRouteNotFound,
  isComposioPath,
  mountComposioApi,
} from './composio/composio-api.js';
import { ConnectPages } from './connect/connect-page.js';
import { ConnectionLimit, type ConnectionOptions, connectionSettings } from './connection-limit.js';
import { DrainStop, requestSignal } from './drain-stop.js';
import { audienceOf, errorResponse, repeatedCredentialHeader } from './http-errors.js';
import { jsonResponse } from './json-response.js';
import { LingeringClose } from './linger.js';
import { McpEndpoint, type McpOptions } from './mcp/mcp-endpoint.js';
import { checkMetricsOptions, type MetricsOptions, ServerMetrics } from './metrics.js';
import { checkNoBody, continueBeforeBody, DEFAULT_BODY_LIMIT, readJsonBody } from './read-body.js';
import {
  causeText,
  type DrainCut,
  defaultServerLogger,
  earlyAnswerLog,
  errorFields,
  REQUEST_ID_HEADER,
  recordExpectedUnavailable,
  recordFault,
  requestLog,
  responseWithRequestId,
  type ServerLogger,
} from './request-log.js';
import { apiRoutes } from './rest/api.js';
import { checkNoQuery, parseLargeRequestPart, parseRequestPart, singleQueryValues } from './rest/route.js';
import { DEFAULT_SESSION_CACHE_TTL_MS, SessionCache } from './session-cache.js';

export interface CreateServerOptions {
  /**
   * The engine to serve. Its `baseUrl` should be where this server is reachable: it makes
   * `session.mcp.url` (and, with auth, the OAuth callback URL).
   */
  toolmux: ToolMux<Provider<unknown>>;
  /**
   * The project API key the REST API requires (`Authorization: Bearer <key>`), at least 16
   * characters. @default process.env.TOOLMUX_API_KEY
   */
  apiKey?: string;
  /**
   * Where the key is kept, named by every 401 answer so that a refused caller finds it (the key is
   * never shown): `{ file }` a key file's path, `{ variable }` an environment variable's name,
   * `{ configFile }` the config file whose `apiKey` holds it. `toolmux serve` gives the place it
   * read the key from.
   * @default { variable: 'TOOLMUX_API_KEY' } when apiKey is left out; else the answer names the apiKey option
   */
  apiKeySource?: ApiKeySource;
  /** Largest request body in bytes; larger ones get 413. @default 1_048_576 (1 MiB) */
  bodyLimit?: number;
  /**
   * How long a resumed session is reused by MCP and session-scoped REST calls before it is read from
   * the store again (a config change made through another instance shows after at most this long;
   * one made in this process, over REST or by `session.update()` of the ToolMux served, at once).
   * `0` turns the cache off. @default 2000
   */
  sessionCacheTtlMs?: number;
  /**
   * Where the server writes one line per request (method, route pattern, status, duration, request
   * id; to `info`, else `debug`) and every server fault with its cause (to `error`, with the stack;
   * responses never carry it). Core's `Logger` and `console` fit. Never a secret, token or body.
   * @default errors and warnings to the console, request lines only with TOOLMUX_DEBUG=1
   */
  logger?: ServerLogger;
  /**
   * `GET /metrics` (Prometheus text format) and who may read it.
   * @default { enabled: true, public: false, allowFrom: loopback } (others send the API key)
   */
  metrics?: MetricsOptions;
  /**
   * The MCP endpoint's browser access (`allowedOrigins`), limits (`tools/list` page size, batch
   * size and batch response size) and how often a long call that asks for progress gets it
   * (`progressIntervalMs`). @default {} (see {@link McpOptions} for each default)
   */
  mcp?: McpOptions;
  /**
   * How many connections one client may hold open, and how long a request's headers may take
   * (`serve()` only). @default { perClient: a 16th of the open-file limit (at least 256), unlimited:
   * loopback, headersTimeoutMs: 20_000 }
   * (see {@link ConnectionOptions} for each)
   */
  connections?: ConnectionOptions;
}

export interface ServeOptions {
  /** @default 8787; 0 picks a free port */
  port?: number;
  /** @default '127.0.0.1' */
  hostname?: string;
}

/** A server listening on a port. */
export interface RunningServer {
  /** `http://host:port`, without a trailing slash. */
  readonly url: string;
  readonly port: number;
  readonly hostname: string;
  /**
   * Stops accepting connections (`/readyz` answers 503 from now on) and resolves when open requests
   * have finished. After `timeoutMs`, the tool calls the requests still open wait for are stopped
   * (`TOOL_ABORTED`, saying the server was shutting down and its drain time ran out, and one warning
   * on the server's logger counting them), their answers and those being written get up to 1 s
   * more, a request that arrives meanwhile is answered `503 SERVER_SHUTTING_DOWN` with
   * `Connection: close`, and the connections still open then are cut. Connection waits
   * (`wait-for-connections`, TOOLMUX_WAIT_FOR_CONNECTIONS) answer at once with how the toolkits stand
   * (`timed_out` while one is PENDING), so that a long-poll does not hold the drain.
   */
  close(options?: {
    /** @default 10_000 */ timeoutMs?: number;
    /**
     * How long to go on serving first, every request as usual, while `/readyz` already answers 503:
     * the time a load balancer (a Kubernetes Service, which removes the pod on its own schedule) takes
     * to stop sending new connections here, which it would otherwise send to a closed port.
     * @default 0
     */
    delayMs?: number;
  }): Promise<void>;
  /** `close()` with its default timeout, for `await using running = await server.serve()`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** The toolmux HTTP server: a Hono app, usable as a fetch handler anywhere or served on Node. */
export interface ToolMuxServer {
  /** The Hono app, to mount in another Hono app (`app.route('/', server.app)`). */
  readonly app: Hono;
  /**
   * A web-standard fetch handler: `export const GET = server.fetch, POST = server.fetch` in a Next.js
   * route handler, `Deno.serve(server.fetch)`, `Bun.serve({ fetch: server.fetch })`.
   */
  readonly fetch: (request: Request) => Promise<Response>;
  /** Listens on Node's HTTP server via `@hono/node-server`. */
  serve(options?: ServeOptions): Promise<RunningServer>;
}

export { MIN_API_KEY_LENGTH } from './api-key.js';

/** How long `/readyz` waits for the store's answer. */
const READY_TIMEOUT_MS = 2000;
const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;
/**
 * How long the answers of the requests still open when a drain ends (those of the tool calls its
 * end stopped, and those being written) have before their connections are cut: cut at once, a
 * stopped call's TOOL_ABORTED answer, made a moment later, reached its client as a socket error.
 */
const DRAIN_END_ANSWERS_MS = 1000;

/** A cheap read that fails when the store does not answer: `ping()`, else a session lookup. */
async function pingStore(store: Store): Promise<void> {
  await withDeadline<unknown>(
    store.ping ? store.ping() : store.getSession('ses_readiness_probe'),
    READY_TIMEOUT_MS,
    () => new Error(`the store did not answer within ${READY_TIMEOUT_MS} ms`),
  );
}

/** HTTP/1.1 only: the response says `Connection: close`, and the socket closes once it is sent. */
function closeAfterAnswer(env: HttpBindings | Http2Bindings): void {
  if (env.outgoing instanceof ServerResponse) env.outgoing.shouldKeepAlive = false;
}

/**
 * Where the OAuth callback is answered: its path, and, when `baseUrl` has a path of its own
 * (`https://example.com/toolmux` behind a proxy that strips `/toolmux`), its path under `baseUrl`'s,
 * where MCP and the connect pages are answered too.
 */
function callbackPathsOf(baseUrl: string, redirectUri: string): string[] {
  const full = new URL(redirectUri).pathname;
  const prefix = new URL(baseUrl).pathname.replace(/\/+$/, '');
  if (prefix === '' || !full.startsWith(`${prefix}/`)) return [full];
  return [full, full.slice(prefix.length)];
}

/** The methods routes answer at `path` (HEAD with GET), for 405 instead of 404. */
function allowedMethods(routes: ReadonlyArray<{ method: string; path: string }>, path: string): string[] {
  const segments = path.split('/');
  const methods = new Set<string>();
  for (const route of routes) {
    if (route.method === 'ALL') continue;
    const pattern = route.path.split('/');
    if (pattern.length !== segments.length) continue;
    if (
      pattern.every((part, index) => part === segments[index] || (part.startsWith(':') && segments[index]))
    ) {
      methods.add(route.method);
      if (route.method === 'GET') methods.add('HEAD');
    }
  }
  return [...methods].sort();
}

/**
 * The path of a route that takes `method`, when `path` is one with slashes at its end or doubled
 * (a client's `${base}/` + `/toolkits`); undefined when there is none.
 */
function servedPathOf(
  routes: ReadonlyArray<{ method: string; path: string }>,
  method: string,
  path: string,
): string | undefined {
  // `/api/v1` twice: a base URL that ends in it already, to which a client added it; or after
  // `/mcp/:sessionId` (or `/mcp`): a session's MCP URL given as the base URL
  const once = path.startsWith(API_TWICE)
    ? path.slice('/api/v1'.length)
    : (MCP_BEFORE_API.exec(path)?.[1] ?? path);
  if (once === path && !path.endsWith('/') && !path.includes('//')) return undefined;
  const canonical = once.replace(/\/{2,}/g, '/').replace(/(.)\/$/, '$1');
  if (canonical === path) return undefined;
  return allowedMethods(routes, canonical).includes(method) ? canonical : undefined;
}

const API_TWICE = '/api/v1/api/v1/';
/** `/mcp/:sessionId/api/v1/…` or `/mcp/api/v1/…`: the REST path after it. */
const MCP_BEFORE_API = /^\/mcp(?:\/[^/]+)?(\/api\/v1\/.*)$/;

/** The 404's hint for a path {@link servedPathOf} found the route of. */
function servedPathHint(method: string, path: string, served: string): string {
  const mcp = path.startsWith(API_TWICE) ? null : MCP_BEFORE_API.exec(path);
  const twice = path.startsWith(API_TWICE)
    ? "/api/v1 is in the path twice: the base URL it was added to ends in /api/v1 already, so give the server's address without it (the SDK's baseUrl too); "
    : mcp
      ? `the base URL /api/v1 was added to ends in ${shownPath(path.slice(0, -mcp[1]!.length))}, ${path.startsWith('/mcp/api/v1/') ? 'the path of the MCP endpoints' : "a session's MCP endpoint"}, which takes MCP messages only: the REST API's base URL is the server's root, without /mcp (the SDK's baseUrl too); `
      : '';
  const rest = twice ? (mcp ? mcp[1]! : path.slice('/api/v1'.length)) : path;
  const slashes = rest !== served;
  return `${twice}send it${slashes ? ' without the trailing or doubled slashes,' : ''} as ${method} ${shownPath(served)}.`;
}

/** A request path as a message shows it: cut at 200 characters. */
function shownPath(path: string): string {
  return path.length > 200 ? `${path.slice(0, 200)}…` : path;
}

/**
 * What a REST route's handler receives (`RouteInput`). The abort signal and the audience are read
 * from the request when the handler reads them: most handlers read neither, and Node's adapter makes
 * an AbortController for a request's signal. Getters of a class (an object literal with getters is a
 * slow object to make: ~380 ns of every request, measured).
 */
class RouteCall {
  readonly params: unknown;
  readonly query: unknown;
  readonly body: unknown;
  readonly #request: Request;

  constructor(request: Request, params: unknown, query: unknown, body: unknown) {
    this.#request = request;
    this.params = params;
    this.query = query;
    this.body = body;
  }

  /** Aborted when the client goes away, or when the drain of the server serving it ends (see `DrainStop`). */
  get signal(): AbortSignal {
    return requestSignal(this.#request);
  }

  get audience(): ErrorAudience {
    return audienceOf(this.#request);
  }
}

/**
 * A small JSON answer (an error, `/healthz`) made with plain headers and the request id, as REST
 * answers are (see `responseWithRequestId`): Hono's `c.json` answer got the id added afterwards,
 * which turned its headers into a `Headers` object that Node's adapter then copied back header by
 * header (~15% of the instructions of a `/healthz`).
 */
function jsonAnswer(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  headers['content-type'] = 'application/json';
  return responseWithRequestId(JSON.stringify(body), status, headers);
}

function packageVersion(): string {
  try {
    const text = readFileSync(new URL('../package.json', import.meta.url), 'utf8');
    return (JSON.parse(text) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/**
 * The first "." or ".." segment of a request target's path, encoded (`%2e`) or not; undefined when it
 * has none. URL parsing resolves them (`/mcp/%2e%2e/metrics` is `/metrics`), so the route a request
 * reaches would differ from the path a proxy in front allowed by its prefix: such a path is refused.
 */
function dotSegmentIn(target: string | undefined): string | undefined {
  if (target === undefined || (!target.includes('.') && !/%2e/i.test(target))) return undefined;
  const path = target.split(/[?#]/, 1)[0]!;
  for (const segment of path.split('/')) {
    if (/^(?:\.|%2e){1,2}$/i.test(segment)) return segment;
  }
  return undefined;
}

/**
 * Creates the toolmux server over a ToolMux: the REST API under `/api/v1` (OpenAPI document at
 * `/api/v1/openapi.json`) and the per-session MCP endpoint at `/mcp/:sessionId`.
 *
 * @example
 * const mux = new ToolMux({ toolkits: builtinToolkits, baseUrl: 'http://localhost:8787' });
 * const server = createServer({ toolmux: mux, apiKey: process.env.TOOLMUX_API_KEY });
 * const running = await server.serve({ port: 8787 });
 * console.log(`toolmux at ${running.url}`);
 */
/** Every option of `createServer()` (the compiler checks the list against {@link CreateServerOptions}). */
const SERVER_OPTION_NAMES = everyKeyOf<CreateServerOptions>()([
  'toolmux',
  'apiKey',
  'apiKeySource',
  'bodyLimit',
  'sessionCacheTtlMs',
  'logger',
  'metrics',
  'mcp',
  'connections',
]);

const SERVE_OPTION_NAMES = everyKeyOf<ServeOptions>()(['port', 'hostname']);

/** The options objects inside createServer()'s: `mcp: { allowedOrigin }` was ignored as any key. */
const NESTED_OPTION_NAMES: Readonly<Record<'mcp' | 'metrics' | 'connections', readonly string[]>> = {
  mcp: everyKeyOf<McpOptions>()([
    'allowedOrigins',
    'toolsPageSize',
    'maxBatchSize',
    'maxBatchResponseBytes',
    'propertyKeys',
    'progressIntervalMs',
  ]),
  metrics: everyKeyOf<MetricsOptions>()(['enabled', 'public', 'allowFrom']),
  connections: everyKeyOf<ConnectionOptions>()(['perClient', 'unlimited', 'headersTimeoutMs']),
};

/** `createServer()`'s options: of its options only, the objects in them too, with an embedded ToolMux to serve. */
function checkServerOptions(options: unknown): asserts options is CreateServerOptions {
  const given = setupOptions(options as object | undefined, 'createServer()', SERVER_OPTION_NAMES, {
    takes: 'an options object ({ toolmux, apiKey, … })',
    required: true,
  }) as Record<string, unknown>;
  for (const [name, names] of Object.entries(NESTED_OPTION_NAMES)) {
    setupOptions(given[name] as object | undefined, `createServer()'s ${name}`, names);
  }
  const { toolmux } = given;
  const mode =
    typeof toolmux === 'object' && toolmux !== null ? (toolmux as { mode?: unknown }).mode : undefined;
  if (mode === 'embedded') return;
  throw new ToolMuxError({
    code: 'CONFIG_INVALID',
    message:
      mode === 'remote'
        ? 'createServer() serves an embedded ToolMux (new ToolMux({ toolkits, store, … })); the toolmux it was given is in remote mode (it has an apiKey), served by another server.'
        : `createServer() needs toolmux: the ToolMux to serve, new ToolMux({ toolkits, store, … }); got ${toolmux === undefined ? 'none' : toolmux === null ? 'null' : `${typeof toolmux === 'object' ? 'an object that is no ToolMux' : typeof toolmux}`}.`,
  });
}

export function createServer(options: CreateServerOptions): ToolMuxServer {
  checkServerOptions(options);
  const apiKey = options.apiKey ?? process.env.TOOLMUX_API_KEY;
  if (!apiKey || apiKey.length < MIN_API_KEY_LENGTH) {
    throw new ToolMuxError({
      code: 'INVALID_REQUEST',
      message: `The server needs a project API key of at least ${MIN_API_KEY_LENGTH} characters: pass apiKey or set TOOLMUX_API_KEY (e.g. \`openssl rand -base64 32\`).`,
    });
  }
  checkApiKeySource(options.apiKeySource);
  // where a refused caller finds the key (never the key itself)
  const whereTheKeyIs = whereTheApiKeyIs(options.apiKeySource, options.apiKey !== undefined);
  // `Authorization: Bearer <key>` as sent: checked in time that does not depend on what was sent
  const authorizationMatches = secretMatcher(`Bearer ${apiKey}`);
  const apiKeyMatches = secretMatcher(apiKey);
  const bodyLimit = wholeNumberOf(options.bodyLimit, {
    name: 'bodyLimit',
    code: 'CONFIG_INVALID',
    unit: 'bytes',
    min: 1,
    purpose: 'the largest request body; a larger one is answered 413',
    leaveOut: `Leave it out for ${DEFAULT_BODY_LIMIT} (1 MiB).`,
    default: DEFAULT_BODY_LIMIT,
  });
  // unchecked, a string one made every cache deadline a string (`Date.now() + "5"`) never passed
  const sessionCacheTtlMs = wholeNumberOf(options.sessionCacheTtlMs, {
    name: 'sessionCacheTtlMs',
    code: 'CONFIG_INVALID',
    unit: 'milliseconds',
    min: 0,
    purpose: 'how long a resumed session is reused by MCP and session-scoped REST calls',
    leaveOut: `Leave it out for ${DEFAULT_SESSION_CACHE_TTL_MS}; 0 turns the cache off.`,
    default: DEFAULT_SESSION_CACHE_TTL_MS,
  });
  const logger: ServerLogger = options.logger ?? defaultServerLogger;
  // a server fault: the request's log line carries it (outside a request, it is logged here)
  const onUnexpected = (error: unknown) => {
    if (!recordFault(error)) {
      logger.error(`toolmux server: unexpected error: ${causeText(error)}`, { error: errorFields(error) });
    }
  };
  const connections = connectionSettings(options.connections);
  const metricsOptions = options.metrics ?? {};
  checkMetricsOptions(metricsOptions);
  const metrics = metricsOptions.enabled === false ? undefined : new ServerMetrics(metricsOptions);
  // the ToolMux holds the listener, and with it the server's metrics: until the server is closed
  let stopCountingToolCalls = metrics
    ? onToolCall(options.toolmux, (call, toolkit) => metrics.toolCall(toolkit, call.status, call.durationMs))
    : undefined;
  let draining = false;
  // the drain ended with connections still open and cut them: what set its time, and how long it was
  let cut: DrainCut | undefined;
  // the drain's time ran out: a request that arrives now is refused (see DRAIN_END_ANSWERS_MS)
  let drainEnded: DrainCut | undefined;
  // close({ delayMs }) has begun: readiness says draining while requests are still served as usual
  let leaving = false;
  // the connection waits of the server's requests: they answer at once when it begins to drain
  const waits = new ConnectionWaitScope();
  metrics?.connectionWaits(() => waits.size);
  // the waits of the sessions the server resumes are the scope's
  const sessions = new SessionCache({
    toolmux: options.toolmux,
    ttlMs: sessionCacheTtlMs,
    onResume: (session) => waits.adopt(session),
  });
  // The servers `serve()` started and not yet closed. Once the last has drained, nothing on the
  // ToolMux (which outlives servers: tests, hot restarts, a server per tenant) holds this server any
  // more: its listeners held its metrics and its session cache, one of each per server created.
  let serving = 0;
  const stoppedServing = () => {
    serving -= 1;
    if (serving > 0) return;
    stopCountingToolCalls?.();
    stopCountingToolCalls = undefined;
    sessions.clear();
  };
  const version = packageVersion();
  const mcp = new McpEndpoint({
    ...options.mcp,
    sessions,
    bodyLimit,
    serverInfo: { name: 'toolmux', version },
    baseUrl: options.toolmux.baseUrl,
    apiKeyMatches,
    onUnexpected,
    onWarning: (message) => logger.warn(message),
  });

  const app = new Hono();
  const logOptions = {
    logger,
    onResponse: metrics
      ? ({
          method,
          route,
          status,
          durationMs,
        }: {
          method: string;
          route: string;
          status: number;
          durationMs: number;
        }) => metrics.httpRequest(method, route, status, durationMs)
      : undefined,
    cut: () => cut,
  };
  app.use(requestLog(logOptions));
  // answers given before the app routes a request (serve() only) are counted and logged as its are
  const earlyAnswer = earlyAnswerLog(logOptions);

  app.onError((error, c) => {
    const { status, body } = errorResponse(error, recordFault, audienceOf(c.req.raw));
    return jsonAnswer(body, status, status === 401 ? { 'www-authenticate': 'Bearer realm="toolmux"' } : {});
  });
  app.notFound((c) => {
    const allow = allowedMethods(app.routes, c.req.path);
    // a route's path with a slash at its end or doubled (`/api/v1/toolkits/`, `/api/v1//toolkits`)
    // matches no route: the 404 names the path that does, instead of pointing at the whole API
    const served = allow.length === 0 ? servedPathOf(app.routes, c.req.method, c.req.path) : undefined;
    if (isComposioPath(c.req.path)) {
      // a Composio client reads Composio's envelope, and is told what of Composio's API is served
      const { status, body } = composioRouteNotFound(c.req.method, c.req.path, allow, served);
      return jsonAnswer(body, status, allow.length > 0 ? { allow: allow.join(', ') } : {});
    }
    if (allow.length > 0) {
      return jsonAnswer(
        {
          error: {
            code: 'METHOD_NOT_ALLOWED',
            message: `${c.req.method} is not allowed on ${c.req.path}; use ${allow.join(', ')}.`,
          },
        },
        405,
        { allow: allow.join(', ') },
      );
    }
    return jsonAnswer(
      {
        error: {
          code: 'ROUTE_NOT_FOUND',
          message:
            served !== undefined
              ? `No route ${c.req.method} ${shownPath(c.req.path)}: ${servedPathHint(c.req.method, c.req.path, served)}`
              : `No route ${c.req.method} ${c.req.path}. The REST API is under /api/v1 (see /api/v1/openapi.json); MCP is at /mcp/:sessionId.`,
        },
      },
      404,
    );
  });

  const checkApiKey = (authorization: string | undefined, xApiKey: string | undefined) => {
    if (!authorization) {
      // an x-api-key header is how the MCP endpoint and the Composio-compatible routes take the key:
      // sent here, it was answered as if no key had been sent at all (whether it holds the key is
      // not said)
      const sentAsXApiKey =
        xApiKey !== undefined
          ? ' This request sent an x-api-key header, which this route does not read (the MCP endpoint and the Composio-compatible routes do): send the same key as Authorization: Bearer <key>.'
          : '';
      throw new ToolMuxError({
        code: 'UNAUTHORIZED',
        message: `Send the project API key in the Authorization header, after "Bearer ": Authorization: Bearer <key>.${sentAsXApiKey} ${whereTheKeyIs}`,
      });
    }
    if (authorizationMatches(authorization)) return;
    // the scheme is case-insensitive and may be followed by several spaces (RFC 9110, 11.1 and
    // 11.4), as the MCP endpoint and the Composio routes read it: `bearer <key>` was refused with a
    // message that said the key was wrong
    const credentials = bearerCredentials(authorization);
    if (credentials !== undefined && apiKeyMatches(credentials)) return;
    const repeated = repeatedCredentialHeader('Authorization', authorization);
    if (repeated) throw repeated;
    const scheme = /^bearer +/i.test(authorization)
      ? 'The API key after "Bearer " is not this server\'s project API key.'
      : 'The Authorization header must be "Bearer " followed by the project API key; this one does not start with "Bearer ".';
    throw new ToolMuxError({ code: 'UNAUTHORIZED', message: `${scheme} ${whereTheKeyIs}` });
  };

  // Operations: liveness, readiness (the store answers), Prometheus metrics.
  // `/readyz` needs no key: the probes that arrive while a ping of the store runs share it, so that a
  // flood of them costs the store one query at a time, not one each (and a pool's every connection).
  // None is cached: a probe that comes after a ping ended sends a new one.
  let ping: Promise<void> | undefined;
  const storeAnswers = (): Promise<void> => {
    ping ??= openToolMuxStore(options.toolmux)
      .then(pingStore)
      .finally(() => {
        ping = undefined;
      });
    return ping;
  };
  app.get('/healthz', () => jsonAnswer({ status: 'ok' }));
  app.get('/readyz', async () => {
    if (draining || leaving) {
      // what shutting down means: out of the rotation (a warning line, not a fault's error line)
      recordExpectedUnavailable('the server is shutting down (draining)');
      return jsonAnswer({ status: 'draining' }, 503);
    }
    try {
      await storeAnswers();
      return jsonAnswer({ status: 'ready' });
    } catch (error) {
      recordFault(error);
      return jsonAnswer(
        { status: 'unavailable', message: 'The store does not answer; the log has the cause.' },
        503,
      );
    }
  });
  if (metrics) {
    app.get('/metrics', async (c) => {
      const remote = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming
        ?.socket?.remoteAddress;
      if (!metrics.openTo(remote, c.req.raw.headers))
        checkApiKey(c.req.header('authorization'), c.req.header('x-api-key'));
      const { contentType, text } = await metrics.render();
      return c.body(text, 200, { 'content-type': contentType, 'cache-control': 'no-store' });
    });
  }

  useHostedConnectPage(options.toolmux); // connection links of the served ToolMux open /connect/:requestId
  const connect = new ConnectPages({ toolmux: options.toolmux, bodyLimit });
  for (const route of apiRoutes({ toolmux: options.toolmux, sessions, version })) {
    // what every request of the route would otherwise work out again
    const needsKey = route.auth !== false;
    const bodyLimitOfRoute = Math.max(bodyLimit, route.bodyLimit ?? 0);
    const status = route.status ?? 200;
    const routeName = `${route.method.toUpperCase()} /api/v1${route.path}`;
    const pathNames = route.params ? Object.keys(route.params.shape) : [];
    // the Node.js adapter passes on no body of a GET (or HEAD)
    const bodyUnseen = route.method === 'get';
    app.on(route.method.toUpperCase(), `/api/v1${route.path}`, async (c) => {
      if (needsKey) checkApiKey(c.req.header('authorization'), c.req.header('x-api-key'));
      // a part the route does not declare is not parsed: one sent all the same is refused (an unknown
      // query parameter, a body that carries something), where it was ignored
      const params = route.params ? parseRequestPart(route.params, c.req.param(), 'path') : undefined;
      const query = route.query
        ? parseRequestPart(route.query, singleQueryValues(c.req), 'query')
        : checkNoQuery(c.req, route.method, route.path);
      let body: unknown;
      if (route.body) {
        const json = (await readJsonBody(c.req.raw, bodyLimitOfRoute)) ?? {};
        // checking a large body is a slice of its own (see WorkSlice), or slices of their own for
        // arrays that may hold thousands of items
        const slice = new WorkSlice();
        body = route.largeArrays
          ? await parseLargeRequestPart(route.body, json, route.largeArrays, slice)
          : parseRequestPart(route.body, json, 'body');
        if (slice.due()) await slice.pause();
      } else if (!bodyUnseen) {
        // not read for what it holds: a body that carries something is refused, not ignored
        await checkNoBody(c.req.raw, routeName, pathNames);
      }
      const result = await route.handle(new RouteCall(c.req.raw, params, query, body) as never);
      // an answer behind the key may carry a secret (an MCP token, a connection link): no cache
      // keeps it (a fresh object each: jsonResponse completes it)
      return jsonResponse(result, status, needsKey ? { 'cache-control': 'no-store' } : {});
    });
  }

  // Composio's Tool Router API (`new Composio({ apiKey, baseURL })`), over the same engine
  mountComposioApi(app, {
    toolmux: options.toolmux,
    sessions,
    bodyLimit,
    onServerError: recordFault,
    apiKeyMatches,
    whereTheKeyIs,
  });

  // OAuth: the provider redirects here (core's `oauthRedirectUri`); then the hosted connect pages.
  for (const path of callbackPathsOf(options.toolmux.baseUrl, options.toolmux.oauthRedirectUri)) {
    app.get(path, (c) => options.toolmux.auth.handleCallback(c.req.raw));
  }
  app.get('/connect/done', (c) => connect.done(new URL(c.req.url)));
  app.get('/connect/:requestId', (c) => connect.show(c.req.param('requestId')));
  app.post('/connect/:requestId', (c) => connect.submit(c.req.param('requestId'), c.req.raw));
  app.post('/connect/:requestId/continue', (c) => connect.continue(c.req.param('requestId'), c.req.raw));

  // CORS: pages of mcp.allowedOrigins read every answer of the endpoint, errors included
  app.use('/mcp/:sessionId', async (c, next) => {
    await next();
    if (c.req.method === 'OPTIONS') return;
    // headers are added in place; assigning c.res would copy the response
    const answer = mcp.withCors(c.req.raw, c.res);
    if (answer !== c.res) c.res = answer;
  });
  app.options('/mcp/:sessionId', (c) => mcp.handlePreflight(c.req.raw));
  app.post('/mcp/:sessionId', (c) => mcp.handlePost(c.req.raw, c.req.param('sessionId')));
  // every other method (GET, DELETE, PUT, …) is the endpoint's own 405, whose Allow lists what it
  // takes: the generic 405 listed the methods of these routes, GET and DELETE among them
  app.all('/mcp/:sessionId', (c) => mcp.handleOther(c.req.raw));

  /**
   * Listens on `port` of `hostname`, or on `bound`, a net.Server listening already (the CLI's port 0,
   * bound once before the store opens: see {@link serveOnListener}).
   */
  const listen = (port: number, hostname: string, bound?: NetServer): Promise<RunningServer> =>
    new Promise((resolve, reject) => {
      // Hono compiles its router on the first request it matches (tens of milliseconds for these
      // routes, during which nothing else runs): done before listening, so that no request waits.
      // (Mounting `app` in another app copies its routes; it does not use this router.)
      app.router.match('GET', '/healthz');
      // counts each client's connections; a request on one past its share is answered 503
      const limit = new ConnectionLimit(connections, (warning) => {
        metrics?.connectionRefused();
        if (warning !== undefined) logger.warn(warning);
      });
      // An answer given while draining says `Connection: close` and the socket closes after it: a
      // keep-alive client would otherwise send its next request down a socket that the drain
      // closes as soon as it is idle (ECONNRESET, which a client cannot retry for a POST).
      // An answer given before its request's body arrived (a 413 on the declared length, a 401)
      // closes the connection once the client sent the rest, so that it can read the answer.
      const lingering = new LingeringClose();
      // the end of this server's drain, as the tool calls of its requests see it
      const drainStop = new DrainStop();
      const answering = (env: HttpBindings | Http2Bindings) => {
        if (draining) closeAfterAnswer(env);
        lingering.prepare(env.incoming, env.outgoing);
      };
      /**
       * An answer given before the app routes the request: with a request id, counted in the
       * metrics and logged (see `earlyAnswerLog`), as the app's answers are; in Composio's envelope
       * on its paths.
       */
      const answerEarly = (
        env: HttpBindings | Http2Bindings,
        started: number,
        status: number,
        code: string,
        message: string,
        details: {
          headers?: Record<string, string>;
          fault?: unknown;
          expected?: string;
          line?: boolean;
        } = {},
      ): Response => {
        answering(env);
        const { incoming } = env;
        const sentId = incoming.headers[REQUEST_ID_HEADER];
        const answer = earlyAnswer(
          incoming.method ?? 'GET',
          typeof sentId === 'string' ? sentId : undefined,
          started,
        );
        const path = (incoming.url ?? '/').split(/[?#]/, 1)[0]!;
        const body = isComposioPath(path)
          ? composioErrorBody(status, code, message)
          : { error: { code, message } };
        answer.done(status, details);
        return Response.json(body, {
          status,
          headers: { ...details.headers, [REQUEST_ID_HEADER]: answer.id },
        });
      };
      // requests with `Expect: 100-continue`: Node.js would answer 100 Continue at once, inviting
      // the upload of a body that a 401, 413 or 415 then refuses unread; the body's reader sends it
      const waitingForContinue = new WeakSet<IncomingMessage>();
      const fetchNode = (request: Request, env: HttpBindings | Http2Bindings) => {
        // the adapter calls this within the listener below, which read the clock already
        const started = current?.started ?? performance.now();
        // a connection past its client's share (see ConnectionLimit): counted, logged in the
        // limit's own warning (at most one every 10 s), not a line per refusal
        const refusal = limit.refusalOn(env.incoming.socket as Socket);
        if (refusal !== undefined) {
          closeAfterAnswer(env);
          return answerEarly(env, started, 503, 'TOO_MANY_CONNECTIONS', refusal, {
            headers: { 'retry-after': '1' },
            line: false,
          });
        }
        if (drainEnded !== undefined) {
          // a request that arrived after the drain's end, on a connection still open: not handled
          closeAfterAnswer(env);
          return answerEarly(
            env,
            started,
            503,
            'SERVER_SHUTTING_DOWN',
            `The server is shutting down and its drain time (${drainEnded.setting}: ${drainEnded.ms} ms) has run out: this request was not handled. Send it again on a new connection (another instance of the server answers it).`,
            // no fault: a warning that says why, not an error line without a cause
            {
              headers: { 'retry-after': '1' },
              expected: 'the server is shutting down (its drain time ran out)',
            },
          );
        }
        const dotted = dotSegmentIn(env.incoming.url);
        if (dotted !== undefined) {
          const message = `The request path holds the dot segment ${JSON.stringify(dotted)}: send the path as it resolves (without "." or ".." segments, encoded or not).`;
          return answerEarly(env, started, 400, 'INVALID_REQUEST', message);
        }
        // a client that waits for 100 Continue is told to send its body by the body's reader
        if (waitingForContinue.has(env.incoming as IncomingMessage)) {
          const outgoing = env.outgoing as ServerResponse;
          continueBeforeBody.set(request, () => {
            if (!outgoing.headersSent) outgoing.writeContinue();
          });
        }
        drainStop.serves(request, env.outgoing);
        const answer = app.fetch(request, env);
        if (!(answer instanceof Promise)) {
          answering(env);
          return answer;
        }
        return answer.then((response) => {
          answering(env);
          return response;
        });
      };
      // A request the adapter cannot make a Request of (a backslash in its path, a Host header that
      // is no host) never reaches fetchNode: the adapter's errorHandler answers it, while the
      // listener below runs (synchronously, before the adapter awaits anything).
      let current: { env: HttpBindings; started: number } | undefined;
      const requestListener = getRequestListener(fetchNode, {
        hostname,
        errorHandler: (error) => {
          const at = current;
          if (at === undefined) return new Response(null, { status: 500 });
          if (error instanceof RequestError) {
            const reason = error.message.charAt(0).toLowerCase() + error.message.slice(1);
            return answerEarly(
              at.env,
              at.started,
              400,
              'INVALID_REQUEST',
              `The request's target or Host header cannot be read (${reason}): send a path that starts with "/" (a backslash percent-encoded, as %5C) and a Host header naming this server.`,
            );
          }
          return answerEarly(
            at.env,
            at.started,
            500,
            'INTERNAL_ERROR',
            'The server failed to answer; the log has the cause.',
            {
              fault: error,
            },
          );
        },
      });
      const server = createHttpServer(
        {
          headersTimeout: connections.headersTimeoutMs,
          connectionsCheckingInterval: connections.checkingIntervalMs,
        },
        (incoming, outgoing) => {
          current = { env: { incoming, outgoing }, started: performance.now() };
          try {
            return requestListener(incoming, outgoing);
          } finally {
            current = undefined;
          }
        },
      );
      const onListening = () => {
        server.off('error', reject);
        const info = server.address() as AddressInfo;
        const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
        const running: RunningServer = {
          url: `http://${host}:${info.port}`,
          port: info.port,
          hostname: info.address,
          [Symbol.asyncDispose]: () => running.close(),
          close: (closeOptions = {}) => closeRunning(closeOptions, 'running.close({ timeoutMs })'),
        };
        const closeRunning = async (
          closeOptions: Parameters<RunningServer['close']>[0] = {},
          setting: string,
        ): Promise<void> => {
          // a timer past the longest is one of 1 ms: it cut every connection at once
          const timeoutMs = wholeNumberOf(closeOptions.timeoutMs, {
            name: 'running.close({ timeoutMs })',
            code: 'INVALID_REQUEST',
            unit: 'milliseconds',
            min: 0,
            max: MAX_TIMER_MS,
            purpose: 'how long open requests may take before their connections are cut',
            leaveOut: `Leave it out for ${DEFAULT_DRAIN_TIMEOUT_MS}.`,
            default: DEFAULT_DRAIN_TIMEOUT_MS,
          });
          const delayMs = wholeNumberOf(closeOptions.delayMs, {
            name: 'running.close({ delayMs })',
            code: 'INVALID_REQUEST',
            unit: 'milliseconds',
            min: 0,
            max: MAX_TIMER_MS,
            purpose: 'how long to go on serving while /readyz already answers 503',
            leaveOut: 'Leave it out for 0.',
            default: 0,
          });
          if (delayMs > 0 && !draining) {
            leaving = true;
            await sleep(delayMs);
          }
          return new Promise<void>((done, fail) => {
            draining = true;
            // a wait would hold its request for up to 120 s: each answers now with how the
            // toolkits stand (timed_out), so that its client waits again on another instance
            waits.end();
            // a connection that lingers after an early answer is kept only for its client's sake
            lingering.closeAll();
            // keep-alive connections go as soon as their request is answered; after the timeout, all
            const idle = setInterval(() => server.closeIdleConnections(), 50);
            let cutTimer: NodeJS.Timeout | undefined;
            const endTimer = setTimeout(() => {
              // the tool calls the requests still open wait for are stopped first, saying that the
              // drain ended: cut first, they read "aborted by the caller" (the cut aborts each
              // request's signal)
              drainStop.end(setting, timeoutMs);
              drainEnded = { setting, ms: timeoutMs };
              // their answers, and those being written, go out (each connection closes after its
              // answer: see `answering`); the requests still open after that are cut unanswered,
              // and their log lines say so (see requestLog)
              cutTimer = setTimeout(() => {
                cut = drainEnded;
                server.closeAllConnections();
              }, DRAIN_END_ANSWERS_MS);
            }, timeoutMs);
            server.close((error) => {
              clearInterval(idle);
              clearTimeout(endTimer);
              clearTimeout(cutTimer);
              // the calls the drain's end stopped: how many, and which setting gives them more time
              // (`toolmux serve`'s close of the ToolMux then has none left to stop and name)
              const stopped = drainStop.stoppedWarning();
              if (stopped !== undefined) logger.warn(stopped);
              if (error) fail(error);
              else done();
            });
            server.closeIdleConnections();
          });
        };
        drainClosers.set(running, closeRunning);
        serving += 1;
        server.once('close', stoppedServing);
        resolve(running);
      };
      server.once('error', reject);
      server.on('checkContinue', (incoming: IncomingMessage, outgoing: ServerResponse) => {
        waitingForContinue.add(incoming);
        server.emit('request', incoming, outgoing);
      });
      server.on('connection', (socket: Socket) => limit.admit(socket));
      // a request Node.js's HTTP parser refuses before any handler sees it (a malformed request line
      // or header, headers over the size limit, headers that took too long): answered as Node.js
      // answers it (400, 431, 408), and counted and logged with a request id as the other answers
      // given before routing are; it had no log line, id or count
      const refusedByParser = new WeakSet<Duplex>();
      server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
        // a client gone (reset, or its half a request ended by EOF) is no request to answer; one
        // answer per connection: the parser goes on to the bytes after the bad ones
        if (
          error.code === 'ECONNRESET' ||
          error.code === 'HPE_INVALID_EOF_STATE' ||
          !socket.writable ||
          refusedByParser.has(socket)
        ) {
          socket.destroy(error);
          return;
        }
        const status =
          error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
        refusedByParser.add(socket);
        const answer = earlyAnswer('UNKNOWN', undefined, performance.now());
        answer.done(status);
        socket.end(
          `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\n${REQUEST_ID_HEADER}: ${answer.id}\r\nContent-Length: 0\r\n\r\n`,
        );
      });
      if (bound === undefined) server.listen(port, hostname, onListening);
      // the listening socket of `bound` is this server's from now on: its port is never free between
      else server.listen(bound, onListening);
    });

  const served: ToolMuxServer = {
    app,
    fetch: async (request) => app.fetch(request),
    // a refusal rejects the promise, as every failure to listen does
    serve: async (serveOptions) => {
      const { port = 8787, hostname = '127.0.0.1' } = setupOptions(
        serveOptions,
        'serve()',
        SERVE_OPTION_NAMES,
      );
      return listen(port, hostname);
    },
  };
  listenersOf.set(served, (bound) => {
    const address = bound.address() as AddressInfo;
    return listen(address.port, address.address, bound);
  });
  return served;
}

/** The close of each running server, with the name of the setting its drain time came from. */
const drainClosers = new WeakMap<
  RunningServer,
  (options: Parameters<RunningServer['close']>[0], setting: string) => Promise<void>
>();

/**
 * @internal `running.close(options)` where the drain time comes from `setting` (the CLI's
 * `shutdownTimeoutMs`): the log line of a request its end cuts names that setting.
 */
export function closeServing(
  running: RunningServer,
  options: Parameters<RunningServer['close']>[0],
  setting: string,
): Promise<void> {
  const close = drainClosers.get(running);
  return close === undefined ? running.close(options) : close(options, setting);
}

/** How each server made here serves on a net.Server listening already (see {@link serveOnListener}). */
const listenersOf = new WeakMap<ToolMuxServer, (bound: NetServer) => Promise<RunningServer>>();

/**
 * @internal Serves `server` on `bound`, a net.Server listening already, taking over its socket: the
 * CLI binds port 0 once, before the store opens, and makes the base URL of the port the system
 * chose (a port probed, freed and bound again later could be taken in between).
 */
export function serveOnListener(server: ToolMuxServer, bound: NetServer): Promise<RunningServer> {
  const serveOn = listenersOf.get(server);
  if (serveOn === undefined) throw new Error('serveOnListener: not a server of createServer()');
  return serveOn(bound);
}
