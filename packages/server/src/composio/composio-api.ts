import {
  type ConnectedAccount,
  type Provider,
  type SearchToolsResult,
  type Session,
  type SessionConfig,
  type ToolMux,
  ToolMuxError,
  type ToolSpec,
} from '@toolmux/core';
import {
  checkText,
  declaredToolkitsSliced,
  declaredToolsSliced,
  decodeSlugCursor,
  embeddedSession,
  type InputNames,
  MAX_ID_LENGTH,
  shownValue,
  WorkSlice,
} from '@toolmux/core/internal';
import type { Context, Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { z } from 'zod';
import { bearerCredentials } from '../api-key.js';
import { requestSignal } from '../drain-stop.js';
import { errorResponse, repeatedCredentialHeader } from '../http-errors.js';
import { jsonResponse } from '../json-response.js';
import { checkNoBody, readJsonBody } from '../read-body.js';
import type { LargeArray } from '../rest/large-arrays.js';
import { parseLargeRequestPart, parseRequestPart, singleQueryValues } from '../rest/route.js';
import type { SessionCache } from '../session-cache.js';
import { updateLatest } from '../session-update.js';
import {
  CREATE_SESSION_WIRE_LARGE_ARRAYS,
  CreateSessionWire,
  checkExperimental,
  checkToolkitVersions,
  composioConfig,
  composioConfigV3,
  configChangesOf,
  customToolkitsOf,
  experimentalWire,
  namesCustomToolkit,
  toolkitSlugOf,
  toolmuxConfig,
  UpdateSessionWire,
  unsupported,
  withCustomToolkits,
} from './config.js';
import {
  connectedAccountJson,
  customToolsOf,
  executeJson,
  pendingAccountJson,
  searchJson,
  sessionJson,
  toolJson,
  toolJsonV3,
  toolkitJson,
} from './wire.js';

/**
 * Composio's Tool Router REST API over toolmux: the routes `@composio/core` (and the other clients of
 * that API, such as the Rust crate `composio-sdk`) call, answered by the same engine as `/api/v1`. An
 * application moves to a self-hosted toolmux with `new Composio({ apiKey, baseURL })`. One
 * translation layer: every route maps its request to a toolmux call and the result to Composio's
 * shape; nothing here runs tools or keeps state of its own.
 */
export interface ComposioApiContext {
  toolmux: ToolMux<Provider<unknown>>;
  sessions: SessionCache;
  /** True when `key` is the project API key. */
  apiKeyMatches(key: string): boolean;
  /** The sentence that says where the key is kept (never the key), ending a 401 answer. */
  whereTheKeyIs: string;
  /** Where the real error of a 5xx goes (the server's log). */
  onServerError(error: unknown): void;
  bodyLimit: number;
}

/** Composio's meta-tools and the names toolmux gives the same tools by default. */
const META_TOOL_NAMES: Readonly<Record<string, string>> = {
  COMPOSIO_SEARCH_TOOLS: 'TOOLMUX_SEARCH_TOOLS',
  COMPOSIO_GET_TOOL_SCHEMAS: 'TOOLMUX_GET_TOOL_SCHEMAS',
  COMPOSIO_MANAGE_CONNECTIONS: 'TOOLMUX_MANAGE_CONNECTIONS',
  COMPOSIO_MULTI_EXECUTE_TOOL: 'TOOLMUX_MULTI_EXECUTE_TOOL',
  COMPOSIO_REMOTE_WORKBENCH: 'TOOLMUX_WORKBENCH',
  COMPOSIO_WAIT_FOR_CONNECTIONS: 'TOOLMUX_WAIT_FOR_CONNECTIONS',
};

/**
 * The slug the session knows a tool by: Composio's meta-tool names are the session's own when it was
 * made with `metaToolNames: 'composio'` (every session made here); a session made through `/api/v1`
 * has toolmux's names, which a Composio name maps to. As with Composio, a slug may be written in any
 * case (`github_create_issue`): toolmux's slugs are all upper case. A slug the session has no tool of
 * stays as written, for the refusal to name it so.
 */
function sessionSlug(specs: readonly ToolSpec[], slug: string): string {
  const has = (name: string) => specs.some((spec) => spec.slug === name);
  for (const name of new Set([slug, slug.toUpperCase()])) {
    if (has(name)) return name;
    const toolmuxName = Object.hasOwn(META_TOOL_NAMES, name) ? META_TOOL_NAMES[name] : undefined;
    if (toolmuxName && has(toolmuxName)) return toolmuxName;
  }
  return slug;
}

/** The session paths, answered under `/api/v3.1` (the TypeScript and Python SDKs) and `/api/v3`. */
const VERSIONS = [
  { prefix: '/api/v3.1', version: 'v3.1' },
  { prefix: '/api/v3', version: 'v3' },
] as const;

const SessionParams = z.object({ sessionId: z.string().min(1) });
const AccountParams = z.object({ accountId: z.string().min(1) });

export const ExecuteWire = z
  .object({
    tool_slug: z.string().min(1),
    arguments: z.record(z.string(), z.unknown()).nullish(),
    account: z.string().optional(),
    connected_account_id: z.string().optional(),
    enable_auto_workbench_offload: z.boolean().optional(),
    // the client repeats its inline custom tools with every call; they are already declared
    experimental: experimentalWire.optional(),
    // the Rust crate sends the toolkit version it resolved ("latest" unless pinned)
    version: z.string().optional(),
    user_id: z.string().optional(),
    text: z.string().optional(),
    custom_auth_params: z.unknown().optional(),
    custom_connection_data: z.unknown().optional(),
    dangerously_skip_version_check: z.boolean().optional(),
  })
  .strict();

export const ExecuteMetaWire = z
  .object({
    slug: z.string().min(1),
    arguments: z.record(z.string(), z.unknown()).nullish(),
    experimental: experimentalWire.optional(),
  })
  .strict();

export const SearchWire = z
  .object({
    queries: z
      .array(
        z
          .object({
            // core's search refuses a blank query in its own words (`query`); named here as sent
            use_case: z.string().refine((text) => text.trim() !== '', {
              message: 'must hold the task in words (it is empty or only spaces), e.g. "send an email"',
            }),
            known_fields: z.string().optional(),
          })
          .strict(),
      )
      .min(1)
      .max(10),
    // a filter: as many as a catalog has toolkits, and a bound on the work of matching custom tools
    toolkits: z.array(z.string()).max(1000).optional(),
    // accepted and not needed, as by COMPOSIO_SEARCH_TOOLS: toolmux searches its own index
    model: z.string().optional(),
    experimental: experimentalWire.optional(),
  })
  .strict();

export const LinkWire = z
  .object({
    toolkit: z.string().min(1),
    callback_url: z.string().nullish(),
    alias: z.string().optional(),
    experimental: z.unknown().optional(),
  })
  .strict();

export const ProxyWire = z
  .object({
    toolkit_slug: z.string().min(1),
    endpoint: z.string().min(1),
    method: z.enum(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD']),
    body: z.unknown().optional(),
    parameters: z
      .array(
        z
          .object({
            name: z.string(),
            type: z.enum(['header', 'query']),
            value: z.union([z.string(), z.number(), z.boolean()]),
          })
          .strict(),
      )
      .optional(),
    binary_body: z.unknown().optional(),
    custom_connection_data: z.unknown().optional(),
  })
  .strict();

export const AttachWire = z.object({ experimental: experimentalWire.optional() }).strict();

export const PageQuery = z.object({
  cursor: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

export const ToolkitsQuery = z.object({
  cursor: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(100).optional(),
  search: z.string().optional(),
  is_connected: z.enum(['true', 'false']).optional(),
});

/** Composio's error envelope: `{ error: { message, code, slug, status, … } }`, and the same fields at the top. */
export function composioErrorBody(status: number, code: string, message: string) {
  const fields = {
    message,
    code,
    slug: code,
    status,
    request_id: null,
    suggested_fix: null,
    errors: [],
  };
  // `@composio/core` reads `error.code` / `error.message`; the Rust crate reads the same fields at the top
  return { ...fields, error: fields };
}

/**
 * The key of the context variable in which a route says how its request names the inputs core's
 * messages name (`InputNames`): its field and the value as sent, where it handed core another.
 */
const INPUT_NAMES = 'composioInputNames';

/** The version of this API a request called: `/api/v3.1` or `/api/v3`. */
type ComposioPrefix = (typeof VERSIONS)[number]['prefix'];

function prefixOf(c: Context): ComposioPrefix {
  return c.req.path.startsWith('/api/v3/') ? '/api/v3' : '/api/v3.1';
}

/**
 * Text rendered for the `composio` audience (`messageFor('composio')`, a result or guidance of a
 * reader in those words) as a client of `prefix` reads it: the routes of the version it called.
 * Every text of core that reaches a client of this API goes through it.
 */
function composioWords(text: string, prefix: ComposioPrefix): string {
  return prefix === '/api/v3.1' ? text : text.replaceAll('/api/v3.1/tool_router/', `${prefix}/tool_router/`);
}

/**
 * Composio's envelope of an error, its message in the words of a Composio client: the routes of this
 * API (`/api/v3` ones for a request to `/api/v3`, `prefix`) and the config's snake_case fields.
 */
function composioError(
  error: unknown,
  onServerError: (error: unknown) => void,
  prefix: ComposioPrefix,
  inputs: InputNames | undefined,
) {
  const { status, body } = errorResponse(error, onServerError, 'composio', inputs);
  return {
    status,
    body: composioErrorBody(status, body.error.code, composioWords(body.error.message, prefix)),
  };
}

/**
 * A tool's result as execute and execute_meta answer it: run with its failures in a Composio client's
 * words (`executeFor('composio')`: this API's routes where the SDK would name `session.authorize`).
 */
async function executeInWords(
  session: Session<unknown>,
  slug: string,
  args: unknown,
  options: { signal: AbortSignal; account?: string },
  prefix: ComposioPrefix,
): Promise<Record<string, unknown>> {
  const result = await embeddedSession(session).executeFor('composio', slug, args, options);
  return executeJson(result.successful ? result : { ...result, error: composioWords(result.error, prefix) });
}

/** True for the paths of Composio's API (`/api/v3.1/…`, `/api/v3/…`), served here or not. */
export function isComposioPath(path: string): boolean {
  return /^\/api\/v3(?:\.1)?(?:\/|$)/.test(path);
}

/**
 * The answer to a request for a path of Composio's API that is not served here (`allow`: the methods
 * the path takes, when it is served with others): Composio's envelope, saying what toolmux serves,
 * where the server's own 404 would point a Composio client at toolmux's REST API.
 */
export function composioRouteNotFound(
  method: string,
  path: string,
  allow: readonly string[],
  served?: string,
): { status: 404 | 405; body: ReturnType<typeof composioErrorBody> } {
  const shown = path.length > 200 ? `${path.slice(0, 200)}…` : path;
  if (served !== undefined) {
    // a served path with a slash at its end or doubled
    return {
      status: 404,
      body: composioErrorBody(
        404,
        'ROUTE_NOT_FOUND',
        `No route ${method} ${shown}: send it without the trailing or doubled slashes, as ${method} ${served}.`,
      ),
    };
  }
  if (allow.length > 0) {
    return {
      status: 405,
      body: composioErrorBody(
        405,
        'METHOD_NOT_ALLOWED',
        `${method} is not allowed on ${shown}; use ${allow.join(', ')}.`,
      ),
    };
  }
  return {
    status: 404,
    body: composioErrorBody(
      404,
      'ROUTE_NOT_FOUND',
      `No route ${method} ${shown} in toolmux's Composio-compatible API. It answers Composio's Tool Router sessions (composio.create() and use(), and the session's tools, execute, search, authorize, toolkits, proxyExecute, update and delete) and GET /api/v3.1/connected_accounts/:id. Composio's other APIs (tools and toolkits outside a session, session file mounts, triggers, auth configs, connected account lists) are not served: work through a session, or use toolmux's own REST API under /api/v1.`,
    ),
  };
}

function unauthorized(whereTheKeyIs: string): ToolMuxError {
  return new ToolMuxError({
    code: 'UNAUTHORIZED',
    message: `Send the project API key in the x-api-key header (new Composio({ apiKey })). ${whereTheKeyIs}`,
  });
}

/** Every session made through this API carries Composio's meta-tool names and input fields. */
function createSession(
  toolmux: ToolMux<Provider<unknown>>,
  userId: string,
  config: SessionConfig,
): Promise<Session<unknown>> {
  return toolmux.create(userId, { ...config, metaToolNames: 'composio' });
}

/** The toolkit name and auth need of each toolkit slug, read from the catalog once per request. */
function toolkitLookup(toolmux: ToolMux<Provider<unknown>>) {
  const known = new Map<string, { name: string; noAuth: boolean }>();
  return (slug: string) => {
    let entry = known.get(slug);
    if (!entry) {
      try {
        const toolkit = toolmux.catalog.getToolkit(slug);
        entry = { name: toolkit.name, noAuth: toolkit.noAuth };
      } catch {
        entry = { name: slug, noAuth: true };
      }
      known.set(slug, entry);
    }
    return entry;
  };
}

/** The query parameters that are lists: Composio's clients may repeat them (`toolkits=a&toolkits=b`). */
const QUERY_LISTS: ReadonlySet<string> = new Set(['toolkits', 'toolkits[]']);

function queryList(c: Context, name: string): string[] | undefined {
  const values = c.req.queries(name) ?? c.req.queries(`${name}[]`);
  if (!values) return undefined;
  const list = values.flatMap((value) => value.split(',')).filter((value) => value.length > 0);
  return list.length > 0 ? list : undefined;
}

/** Mounts Composio's Tool Router API on the server's app. */
export function mountComposioApi(app: Hono, context: ComposioApiContext): void {
  const { toolmux, sessions } = context;

  /**
   * A route handler. `once`: the request runs a tool or starts a connection, so its errors say
   * `x-should-retry: false` — the HTTP client of `@composio/core` sends a request again after a 5xx,
   * 409 or 429 otherwise, and the tool may have run before the server failed.
   */
  const handle =
    (run: (c: Context) => Promise<unknown>, status: ContentfulStatusCode = 200, once = false) =>
    async (c: Context) => {
      try {
        // x-api-key, as Composio's clients send it, or `Authorization: Bearer <key>` as toolmux's
        // REST API takes it; never the bare key as the Authorization header
        const apiKey = c.req.header('x-api-key');
        const key = apiKey ?? bearerCredentials(c.req.header('authorization'));
        if (key === undefined || !context.apiKeyMatches(key)) {
          const sent = apiKey ?? c.req.header('authorization');
          const repeated =
            sent === undefined
              ? undefined
              : repeatedCredentialHeader(apiKey === undefined ? 'Authorization' : 'x-api-key', sent);
          throw repeated ?? unauthorized(context.whereTheKeyIs);
        }
        // a tool's result or a list can be megabytes: written a slice at a time (see jsonResponse)
        // sessions carry their MCP URL, connections their link: no cache keeps them (as /api/v1's)
        return await jsonResponse(await run(c), status, { 'cache-control': 'no-store' });
      } catch (error) {
        const { status: errorStatus, body } = composioError(
          error,
          context.onServerError,
          prefixOf(c),
          c.get(INPUT_NAMES) as InputNames | undefined,
        );
        if (once) c.header('x-should-retry', 'false');
        return c.json(body, errorStatus as ContentfulStatusCode);
      }
    };
  const body = async (c: Context, schema: z.ZodType, largeArrays?: readonly LargeArray[]) => {
    const json = (await readJsonBody(c.req.raw, context.bodyLimit)) ?? {};
    // thousands of custom tools are checked one by one, a slice at a time
    return largeArrays
      ? parseLargeRequestPart(schema, json, largeArrays, new WorkSlice())
      : parseRequestPart(schema, json, 'body');
  };
  const sessionIdOf = (c: Context) =>
    (parseRequestPart(SessionParams, c.req.param(), 'path') as z.infer<typeof SessionParams>).sessionId;

  const isCatalogToolkit = (slug: string) => {
    try {
      toolmux.catalog.getToolkit(slug);
      return true;
    } catch {
      return false;
    }
  };

  for (const { prefix, version } of VERSIONS) {
    const base = `${prefix}/tool_router/session`;
    const retrieve = async (sessionId: string, customTools?: ReturnType<typeof customToolsOf>['wire']) => {
      const cached = await sessions.get(sessionId);
      return sessionJson(cached.session, cached.specs(), customTools, version);
    };

    app.post(
      base,
      handle(async (c) => {
        const wire = (await body(
          c,
          CreateSessionWire,
          CREATE_SESSION_WIRE_LARGE_ARRAYS,
        )) as CreateSessionWire;
        checkExperimental(wire.experimental);
        const custom = customToolsOf(wire.experimental, isCatalogToolkit);
        const config = withCustomToolkits(toolmuxConfig(wire, 'create'), [
          ...custom.declarations.map((declaration) => declaration.toolkit || 'custom'),
          ...custom.toolkits.map((toolkit) => toolkit.slug),
        ]);
        if (custom.wire) {
          // thousands of custom tools are checked a slice at a time
          const slice = new WorkSlice();
          config.experimental = {
            customTools: await declaredToolsSliced(custom.declarations, slice),
            customToolkits: await declaredToolkitsSliced(
              custom.toolkits.map((toolkit) => ({ ...toolkit, categories: [] })),
              slice,
            ),
          };
        }
        const session = await createSession(toolmux, wire.user_id, config);
        return sessionJson(session, (await sessions.get(session.sessionId)).specs(), custom.wire, version);
      }, 201),
    );

    app.get(
      `${base}/:sessionId`,
      handle(async (c) => retrieve(sessionIdOf(c))),
    );

    app.patch(
      `${base}/:sessionId`,
      handle(async (c) => {
        const sessionId = sessionIdOf(c);
        const { experimental, ...wire } = (await body(c, UpdateSessionWire)) as UpdateSessionWire;
        checkExperimental(experimental ?? undefined);
        // Composio's PATCH names no version: applied to the session as it is now (fields it leaves
        // out keep what other updates, also ones racing it, stored)
        // the config GET answers can be sent back: what it holds as answered is no change
        const answeredOf = version === 'v3' ? composioConfigV3 : composioConfig;
        await updateLatest(toolmux, sessionId, (session) =>
          withCustomToolkits(
            toolmuxConfig(
              configChangesOf(wire, answeredOf(session.config, session.userId), sessionId),
              'update',
              session.config,
            ),
            customToolkitsOf(session.config, isCatalogToolkit),
          ),
        );
        return retrieve(sessionId);
      }),
    );

    app.delete(
      `${base}/:sessionId`,
      handle(async (c) => {
        const sessionId = sessionIdOf(c);
        // Composio's clients send none; one that carries something is refused (see checkNoBody)
        await checkNoBody(c.req.raw, `DELETE ${base}/:sessionId`, ['sessionId']);
        await toolmux.sessions.delete(sessionId);
        sessions.invalidate(sessionId);
        return { session_id: sessionId, deleted: true };
      }),
    );

    app.post(
      `${base}/:sessionId/attach`,
      handle(async (c) => {
        const sessionId = sessionIdOf(c);
        const wire = (await body(c, AttachWire)) as z.infer<typeof AttachWire>;
        checkExperimental(wire.experimental);
        const custom = customToolsOf(wire.experimental, isCatalogToolkit);
        // A stored session's custom tools are fixed at create (core's update() refuses new ones):
        // a tool attached here that the session does not declare could run in the client but would
        // be missing from search, tools and MCP, so it is refused rather than half-attached.
        const { config } = (await sessions.get(sessionId)).session;
        const known = new Set(
          [
            ...(config.clientTools ?? []),
            ...(config.clientToolkits ?? []).flatMap((toolkit) => toolkit.tools),
          ].map((tool) => tool.slug),
        );
        const undeclared = [
          ...custom.declarations,
          ...custom.toolkits.flatMap((toolkit) => toolkit.tools),
        ].filter((declaration) => !known.has(declaration.slug));
        if (undeclared.length > 0) {
          throw unsupported(
            'experimental.custom_tools',
            `${undeclared.map((declaration) => declaration.slug).join(', ')} ${undeclared.length === 1 ? 'is' : 'are'} not declared by session ${sessionId}; a session's custom tools are given when it is created (toolRouter.create(userId, { experimental: { customTools } })), and use() can attach only those.`,
          );
        }
        return retrieve(sessionId, custom.wire);
      }),
    );

    app.get(
      `${base}/:sessionId/tools`,
      handle(async (c) => {
        const sessionId = sessionIdOf(c);
        const query = parseRequestPart(PageQuery, singleQueryValues(c.req, QUERY_LISTS), 'query') as z.infer<
          typeof PageQuery
        >;
        const specs = (await sessions.get(sessionId)).specs();
        const toolkitOf = toolkitLookup(toolmux);
        if (version === 'v3') {
          // the v3 client (the Rust crate) reads the whole list as a plain array
          if (query.cursor !== undefined || query.limit !== undefined) {
            throw new ToolMuxError({
              code: 'INVALID_REQUEST',
              message:
                'GET /api/v3/…/tools answers the whole list as an array; for pages (limit, cursor) call /api/v3.1.',
            });
          }
          return specs.map((spec) => toolJsonV3(spec, toolkitOf(spec.toolkit).noAuth));
        }
        const limit = query.limit ?? 100;
        // the cursor is the offset this route wrote, in decimal digits: Number() also took `0x2`,
        // `1e0`, ` 2` and an empty `cursor=` (the first page)
        const start =
          query.cursor === undefined ? 0 : /^[0-9]{1,16}$/.test(query.cursor) ? Number(query.cursor) : -1;
        if (start < 0 || start > specs.length) {
          throw new ToolMuxError({
            code: 'INVALID_REQUEST',
            message: `query.cursor ${JSON.stringify(query.cursor)} is not a cursor of this list: pass next_cursor as the previous page returned it.`,
          });
        }
        const items = specs.slice(start, start + limit).map((spec) => {
          const toolkit = toolkitOf(spec.toolkit);
          return toolJson(spec, toolkit.name, toolkit.noAuth);
        });
        const next = start + limit < specs.length ? String(start + limit) : null;
        return {
          items,
          next_cursor: next,
          total_items: specs.length,
          total_pages: Math.max(1, Math.ceil(specs.length / limit)),
          current_page: Math.floor(start / limit) + 1,
        };
      }),
    );

    app.post(
      `${base}/:sessionId/execute`,
      handle(
        async (c) => {
          const sessionId = sessionIdOf(c);
          const wire = (await body(c, ExecuteWire)) as z.infer<typeof ExecuteWire>;
          if (wire.version !== undefined) checkToolkitVersions(wire.version, 'version');
          for (const field of ['text', 'custom_auth_params', 'custom_connection_data'] as const) {
            if (wire[field] !== undefined) {
              throw unsupported(field, 'send the tool input as arguments; credentials stay in toolmux.');
            }
          }
          const cached = await sessions.get(sessionId);
          if (wire.user_id !== undefined && wire.user_id !== cached.session.userId) {
            throw unsupported(
              'user_id',
              "a session's calls run for its own user; create a session for the other user.",
            );
          }
          // the account to run with, by id or alias (Composio's `account`; the Rust crate's
          // `connected_account_id`): one the session may use, else ACCOUNT_NOT_IN_SESSION
          const account = wire.account ?? wire.connected_account_id;
          const slug = sessionSlug(cached.specs(), wire.tool_slug);
          return executeInWords(
            cached.session,
            slug,
            wire.arguments ?? {},
            { signal: requestSignal(c.req.raw), ...(account !== undefined ? { account } : {}) },
            prefixOf(c),
          );
        },
        200,
        true,
      ),
    );

    app.post(
      `${base}/:sessionId/execute_meta`,
      handle(
        async (c) => {
          const sessionId = sessionIdOf(c);
          const wire = (await body(c, ExecuteMetaWire)) as z.infer<typeof ExecuteMetaWire>;
          const cached = await sessions.get(sessionId);
          const slug = sessionSlug(cached.specs(), wire.slug);
          if (!cached.specs().some((spec) => spec.slug === slug)) {
            const known = cached
              .specs()
              .filter(
                (spec) =>
                  spec.toolkit === 'composio' ||
                  spec.slug.startsWith('COMPOSIO_') ||
                  spec.slug.startsWith('TOOLMUX_'),
              )
              .map((spec) => spec.slug);
            throw new ToolMuxError({
              code: 'TOOL_NOT_FOUND',
              message: `Meta-tool ${wire.slug} is not in session ${sessionId}${known.length > 0 ? `; its meta-tools are ${known.join(', ')}` : ' (it has no meta-tools: it was made with the direct-tools preset)'}.`,
            });
          }
          return executeInWords(
            cached.session,
            slug,
            wire.arguments ?? {},
            { signal: requestSignal(c.req.raw) },
            prefixOf(c),
          );
        },
        200,
        true,
      ),
    );

    app.post(
      `${base}/:sessionId/search`,
      handle(async (c) => {
        const sessionId = sessionIdOf(c);
        const wire = (await body(c, SearchWire)) as z.infer<typeof SearchWire>;
        const { session } = await sessions.get(sessionId);
        const wanted = wire.toolkits && new Set(wire.toolkits.map(toolkitSlugOf));
        // a toolkit neither the catalog nor the session's custom tools have is a typo: refused naming
        // it and the closest slug, as the toolkits route refuses it (it answered no results, as if the
        // toolkit had nothing for the query)
        await toolmux.catalog.checkToolkitFilter(
          'toolkits',
          [...(wanted ?? [])].filter((slug) => !namesCustomToolkit(session.config, slug)),
        );
        // custom tools are filed under toolmux's toolkits (`custom`, `local_<slug>`); the client knows
        // them by the toolkit in their Composio slug, LOCAL_<TOOLKIT>_<SLUG>
        const customToolkits = new Set(customToolkitsOf(session.config));
        const prefixes =
          customToolkits.size > 0 ? [...(wanted ?? [])].map((slug) => `LOCAL_${slug.toUpperCase()}_`) : [];
        const isWanted = (tool: { tool_slug: string; toolkit: string }) =>
          wanted?.has(tool.toolkit) ||
          (customToolkits.has(tool.toolkit) && prefixes.some((prefix) => tool.tool_slug.startsWith(prefix)));
        const results: SearchToolsResult[] = [];
        for (const query of wire.queries) {
          // with a toolkit filter, search deeper and keep the best 5 of those toolkits
          // its next_steps_guidance names the session's meta-tools, as COMPOSIO_SEARCH_TOOLS' does
          // (what a session's agent without meta-tools is told names the application's operations, in
          // a Composio client's words)
          const result = await embeddedSession(session).searchFor(
            'composio',
            {
              query: query.use_case,
              knownFields: query.known_fields,
              ...(wanted ? { limit: 50 } : {}),
            },
            'agent',
          );
          results.push(
            wanted
              ? {
                  ...result,
                  results: result.results.map((entry) => ({
                    ...entry,
                    tools: entry.tools.filter(isWanted).slice(0, 5),
                  })),
                  toolkit_connections: result.toolkit_connections.filter((entry) =>
                    wanted.has(entry.toolkit),
                  ),
                }
              : result,
          );
        }
        return searchJson(
          sessionId,
          wire.queries,
          results.map((result) => ({ ...result, next_steps: composioWords(result.next_steps, prefixOf(c)) })),
        );
      }),
    );

    app.post(
      `${base}/:sessionId/link`,
      handle(
        async (c) => {
          const sessionId = sessionIdOf(c);
          const wire = (await body(c, LinkWire)) as z.infer<typeof LinkWire>;
          if (wire.experimental !== undefined) {
            throw unsupported(
              'experimental',
              'toolmux has no shared accounts; every account is its user’s own.',
            );
          }
          const { session } = await sessions.get(sessionId);
          // a refusal names the toolkit as sent, not as lower-cased here
          c.set(INPUT_NAMES, { toolkit: `toolkit ${shownValue(wire.toolkit)}` } satisfies InputNames);
          const request = await session.authorize(toolkitSlugOf(wire.toolkit), {
            ...(wire.callback_url ? { callbackUrl: wire.callback_url } : {}),
            ...(wire.alias !== undefined ? { alias: wire.alias } : {}),
          });
          return {
            // an OAuth request has its (INITIATED) account at once; a credentials form has none until
            // sent, so the request id stands in (GET /api/v3.1/connected_accounts/:id accepts both)
            connected_account_id: request.connectedAccountId ?? request.id,
            link_token: request.id,
            redirect_url: request.redirectUrl,
          };
        },
        201,
        true,
      ),
    );

    app.get(
      `${base}/:sessionId/toolkits`,
      handle(async (c) => {
        const sessionId = sessionIdOf(c);
        const query = parseRequestPart(
          ToolkitsQuery,
          singleQueryValues(c.req, QUERY_LISTS),
          'query',
        ) as z.infer<typeof ToolkitsQuery>;
        const { session } = await sessions.get(sessionId);
        const limit = query.limit ?? 20;
        const page = await session.toolkits({
          limit,
          cursor: query.cursor,
          search: query.search,
          toolkits: queryList(c, 'toolkits')?.map(toolkitSlugOf),
          connected: query.is_connected === undefined ? undefined : query.is_connected === 'true',
        });
        const items = await Promise.all(
          page.items.map(async (toolkit) => {
            const id = toolkit.connection.connectedAccount?.id;
            const account: ConnectedAccount | undefined = id
              ? await toolmux.connectedAccounts.get(id).catch(() => undefined)
              : undefined;
            return toolkitJson(toolkit, session.userId, account);
          }),
        );
        return {
          items,
          next_cursor: page.nextCursor ?? null,
          total_items: page.total,
          total_pages: Math.max(1, Math.ceil(page.total / limit)),
          // the page the cursor (which session.toolkits() has read) starts: the pages before it
          // showed `shown` toolkits
          current_page: Math.floor((decodeSlugCursor(query.cursor)?.shown ?? 0) / limit) + 1,
        };
      }),
    );

    app.post(
      `${base}/:sessionId/proxy_execute`,
      handle(
        async (c) => {
          const sessionId = sessionIdOf(c);
          const wire = (await body(c, ProxyWire)) as z.infer<typeof ProxyWire>;
          if (wire.binary_body !== undefined) {
            throw unsupported('binary_body', 'send a JSON or text body.');
          }
          if (wire.custom_connection_data !== undefined) {
            throw unsupported(
              'custom_connection_data',
              "the call uses the session user's connected account.",
            );
          }
          const { session } = await sessions.get(sessionId);
          // a slug no toolkit can have is refused as sent, naming its field
          const toolkit = toolkitSlugOf(
            checkText(wire.toolkit_slug, {
              field: 'toolkit_slug',
              code: 'INVALID_REQUEST',
              maxLength: MAX_ID_LENGTH,
              fix: 'pass a toolkit slug of the session (e.g. "github")',
            }),
          );
          // a refusal names the field and the slug as sent (`toolkit_slug "GITHUB…"`), not the
          // lower-cased one the client never wrote
          c.set(INPUT_NAMES, {
            toolkit: `toolkit_slug ${shownValue(wire.toolkit_slug)}`,
          } satisfies InputNames);
          const response = await session.proxyExecute({
            toolkit,
            endpoint: wire.endpoint,
            method: wire.method,
            ...(wire.body !== undefined ? { body: wire.body } : {}),
            ...(wire.parameters
              ? {
                  parameters: wire.parameters.map((parameter) => ({
                    in: parameter.type,
                    name: parameter.name,
                    value: parameter.value,
                  })),
                }
              : {}),
            signal: requestSignal(c.req.raw),
          });
          return { status: response.status, data: response.data, headers: response.headers };
        },
        200,
        true,
      ),
    );
  }

  // what waitForConnection() polls: an account id, or the request id `link` gave for a form
  app.get(
    '/api/v3.1/connected_accounts/:accountId',
    handle(async (c) => {
      const { accountId } = parseRequestPart(AccountParams, c.req.param(), 'path') as z.infer<
        typeof AccountParams
      >;
      // the auth config as both answers describe it (a request and its account have the same one)
      const authConfigOf = async (authConfigId: string) => {
        const authConfig = await toolmux.authConfigs.get(authConfigId).catch(() => undefined);
        return authConfig
          ? { type: authConfig.type, managed: authConfig.createdBy === 'toolmux' }
          : undefined;
      };
      let id = accountId;
      if (accountId.startsWith('cr_')) {
        const request = await toolmux.connectionRequests.get(accountId);
        if (!request.connectedAccountId) {
          return pendingAccountJson(request, await authConfigOf(request.authConfigId));
        }
        id = request.connectedAccountId;
      }
      const account = await toolmux.connectedAccounts.get(id);
      return connectedAccountJson(account, await authConfigOf(account.authConfigId));
    }),
  );
}
