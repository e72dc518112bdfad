import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { serve as serveNode } from '@hono/node-server';
import { type Logger, type Provider, type ToolMux, ToolMuxError } from '@toolmux/core';
import { useHostedConnectPage } from '@toolmux/core/internal';
import { Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { ConnectPages } from './connect/connect-page.js';
import { audienceOf, errorResponse } from './http-errors.js';
import { McpEndpoint, type McpOptions } from './mcp/mcp-endpoint.js';
import { DEFAULT_BODY_LIMIT, readJsonBody } from './read-body.js';
import { apiRoutes } from './rest/api.js';
import { parseRequestPart } from './rest/route.js';
import { SessionCache } from './session-cache.js';

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
  /** Largest request body in bytes; larger ones get 413. @default 1_048_576 (1 MiB) */
  bodyLimit?: number;
  /**
   * How long a resumed session is reused by MCP and session-scoped REST calls before it is read from
   * the store again (a config change made through another instance shows after at most this long).
   * @default 2000
   */
  sessionCacheTtlMs?: number;
  /** Where unexpected errors are logged (with their stack; responses never carry it). @default console */
  logger?: Logger;
  /**
   * The MCP endpoint's browser access (`allowedOrigins`) and limits (`tools/list` page size, batch
   * size and batch response size). @default {} (see {@link McpOptions} for each default)
   */
  mcp?: McpOptions;
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
  /** Stops accepting connections and resolves when open requests have finished. */
  close(): Promise<void>;
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

const MIN_API_KEY_LENGTH = 16;

/** Where a caller finds the project API key (never the key itself). */
const WHERE_THE_API_KEY_IS =
  "The key is the server's TOOLMUX_API_KEY or, for `toolmux serve` started without it, the contents of " +
  'api.key beside its SQLite database: ./.toolmux/api.key by default.';

function packageVersion(): string {
  try {
    const text = readFileSync(new URL('../package.json', import.meta.url), 'utf8');
    return (JSON.parse(text) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
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
export function createServer(options: CreateServerOptions): ToolMuxServer {
  const apiKey = options.apiKey ?? process.env.TOOLMUX_API_KEY;
  if (!apiKey || apiKey.length < MIN_API_KEY_LENGTH) {
    throw new ToolMuxError({
      code: 'INVALID_REQUEST',
      message: `The server needs a project API key of at least ${MIN_API_KEY_LENGTH} characters: pass apiKey or set TOOLMUX_API_KEY (e.g. \`openssl rand -base64 32\`).`,
    });
  }
  const apiKeyHash = sha256(`Bearer ${apiKey}`);
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const logger: Logger = options.logger ?? console;
  const onUnexpected = (error: unknown) =>
    logger.error(
      `toolmux server: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
  const sessions = new SessionCache({ toolmux: options.toolmux, ttlMs: options.sessionCacheTtlMs });
  const version = packageVersion();
  const mcp = new McpEndpoint({
    ...options.mcp,
    sessions,
    bodyLimit,
    serverInfo: { name: 'toolmux', version },
    baseUrl: options.toolmux.baseUrl,
    onUnexpected,
    onWarning: (message) => logger.warn(message),
  });

  const app = new Hono();

  app.onError((error, c) => {
    const { status, body } = errorResponse(error, onUnexpected, audienceOf(c.req.raw));
    if (status === 401) c.header('www-authenticate', 'Bearer realm="toolmux"');
    return c.json(body, status as ContentfulStatusCode);
  });
  app.notFound((c) =>
    c.json(
      {
        error: {
          code: 'ROUTE_NOT_FOUND',
          message: `No route ${c.req.method} ${c.req.path}. The REST API is under /api/v1 (see /api/v1/openapi.json); MCP is at /mcp/:sessionId.`,
        },
      },
      404,
    ),
  );

  const checkApiKey = (authorization: string | undefined) => {
    if (!authorization) {
      throw new ToolMuxError({
        code: 'UNAUTHORIZED',
        message: `Send the project API key in the Authorization header, after "Bearer ": Authorization: Bearer <key>. ${WHERE_THE_API_KEY_IS}`,
      });
    }
    if (!timingSafeEqual(sha256(authorization), apiKeyHash)) {
      const scheme = /^bearer /i.test(authorization)
        ? 'The API key after "Bearer " is not this server\'s project API key.'
        : 'The Authorization header must be "Bearer " followed by the project API key; this one does not start with "Bearer ".';
      throw new ToolMuxError({ code: 'UNAUTHORIZED', message: `${scheme} ${WHERE_THE_API_KEY_IS}` });
    }
  };

  useHostedConnectPage(options.toolmux); // connection links of the served ToolMux open /connect/:requestId
  const connect = new ConnectPages({ toolmux: options.toolmux, bodyLimit });
  for (const route of apiRoutes({ toolmux: options.toolmux, sessions, version })) {
    app.on(route.method.toUpperCase(), `/api/v1${route.path}`, async (c) => {
      if (route.auth !== false) checkApiKey(c.req.header('authorization'));
      const params = parseRequestPart(route.params, c.req.param(), 'path');
      const query = parseRequestPart(route.query, c.req.query(), 'query');
      const body = route.body
        ? parseRequestPart(route.body, (await readJsonBody(c.req.raw, bodyLimit)) ?? {}, 'body')
        : undefined;
      const result = await route.handle({ params, query, body, signal: c.req.raw.signal } as never);
      return c.json(result as object, (route.status ?? 200) as ContentfulStatusCode);
    });
  }

  // OAuth: the provider redirects here (core's `oauthRedirectUri`); then the hosted connect pages.
  const callbackPath = new URL(options.toolmux.oauthRedirectUri).pathname;
  app.get(callbackPath, (c) => options.toolmux.auth.handleCallback(c.req.raw));
  app.get('/connect/done', (c) => connect.done(new URL(c.req.url)));
  app.get('/connect/:requestId', (c) => connect.show(c.req.param('requestId')));
  app.post('/connect/:requestId', (c) => connect.submit(c.req.param('requestId'), c.req.raw));

  app.post('/mcp/:sessionId', (c) => mcp.handlePost(c.req.raw, c.req.param('sessionId')));
  app.get('/mcp/:sessionId', (c) => mcp.handleOther(c.req.raw));
  app.delete('/mcp/:sessionId', (c) => mcp.handleOther(c.req.raw));

  return {
    app,
    fetch: async (request) => app.fetch(request),
    serve: ({ port = 8787, hostname = '127.0.0.1' } = {}) =>
      new Promise((resolve, reject) => {
        const server = serveNode({ fetch: app.fetch, port, hostname }, (info: AddressInfo) => {
          server.off('error', reject);
          const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
          resolve({
            url: `http://${host}:${info.port}`,
            port: info.port,
            hostname: info.address,
            close: () =>
              new Promise<void>((done, fail) => {
                server.close((error) => (error ? fail(error) : done()));
                if ('closeIdleConnections' in server) server.closeIdleConnections();
              }),
          });
        });
        server.once('error', reject);
      }),
  };
}
