import type { ToolSpec } from '@toolmux/core';
import {
  type ExecutionLog,
  type Provider,
  type Session,
  type SessionConfig,
  type SessionSummary,
  type SessionToolkit,
  type ToolkitInfo,
  type ToolMux,
  ToolMuxError,
  type ToolResult,
  WORKBENCH_FILES_QUOTA_BYTES,
} from '@toolmux/core';
import {
  catalogToolSpecs,
  declaredToolkitsSliced,
  declaredToolsSliced,
  deletedSessionLogsError,
  deletedSessionOf,
  embeddedSession,
  executeToolFor,
  type ToolDeclaration,
  type ToolkitDeclaration,
  WorkSlice,
} from '@toolmux/core/internal';
import type { z } from 'zod';
import { smallJson } from '../json-response.js';
import type { SessionCache } from '../session-cache.js';
import { configChangesOf, updateLatest } from '../session-update.js';
import { DeletedSchema } from './auth-schemas.js';
import { isoTime } from './iso-time.js';
import { type Route, route } from './route.js';
import {
  AddLogsBody,
  AddLogsResultSchema,
  CREATE_SESSION_LARGE_ARRAYS,
  CreateSessionBody,
  ExecuteInSessionBody,
  ExecuteToolBody,
  ExecutionLogListSchema,
  type ExecutionLogSchema,
  ListLogsQuery,
  ListProjectLogsQuery,
  ListSessionsQuery,
  ListToolkitsQuery,
  ListToolsBody,
  OffloadBody,
  OffloadResultSchema,
  ProxyBody,
  ProxyResponseSchema,
  SearchBody,
  SearchResultSchema,
  SessionListSchema,
  SessionMcpSchema,
  SessionParams,
  SessionSchema,
  type SessionSummarySchema,
  SessionToolkitListSchema,
  type SessionToolkitSchema,
  SessionToolkitsQuery,
  ToolkitListSchema,
  ToolkitParams,
  ToolkitSchema,
  ToolResultSchema,
  ToolSpecListSchema,
  type ToolSpecSchema,
  UpdateSessionBody,
} from './schemas.js';

type Wire<S extends z.ZodType> = z.input<S>;

function sessionJson(session: Session<unknown>): Wire<typeof SessionSchema> {
  return {
    session_id: session.sessionId,
    user_id: session.userId,
    config_version: session.configVersion,
    config: { ...session.config },
    metadata: { ...session.metadata },
    mcp: session.mcp,
  };
}

function sessionSummaryJson(summary: SessionSummary): Wire<typeof SessionSummarySchema> {
  return {
    session_id: summary.sessionId,
    user_id: summary.userId,
    metadata: summary.metadata,
    config_version: summary.configVersion,
    created_at: summary.createdAt.toISOString(),
    updated_at: summary.updatedAt.toISOString(),
  };
}

export function toolSpecJson(spec: ToolSpec): Wire<typeof ToolSpecSchema> {
  return {
    slug: spec.slug,
    name: spec.name,
    description: spec.description,
    toolkit: spec.toolkit,
    input_schema: spec.inputSchema,
    ...(spec.strictInputSchema ? { strict_input_schema: spec.strictInputSchema } : {}),
    ...(spec.outputSchema ? { output_schema: spec.outputSchema } : {}),
    annotations: spec.annotations,
  };
}

function toolResultJson(result: ToolResult): Wire<typeof ToolResultSchema> {
  return {
    successful: result.successful,
    data: result.data,
    error: result.error,
    ...(result.code ? { code: result.code } : {}),
    log_id: result.logId,
    ...(result.successful && result.cellFailed ? { cell_failed: true as const } : {}),
    ...(result.successful && result.cellError ? { cell_error: { ...result.cellError } } : {}),
  };
}

function sessionToolkitJson(toolkit: SessionToolkit): Wire<typeof SessionToolkitSchema> {
  const { connectedAccount, authConfig, accounts, accountSelectionRequired } = toolkit.connection;
  return {
    slug: toolkit.slug,
    name: toolkit.name,
    description: toolkit.description,
    no_auth: toolkit.noAuth,
    connection: {
      is_active: toolkit.connection.isActive,
      ...(connectedAccount ? { connected_account: connectedAccount } : {}),
      ...(authConfig ? { auth_config: authConfig } : {}),
      ...(accounts
        ? {
            accounts: accounts.map((account) => ({
              id: account.id,
              alias: account.alias,
              is_default: account.isDefault,
            })),
            account_selection_required: accountSelectionRequired === true,
          }
        : {}),
    },
  };
}

function toolkitJson(toolkit: ToolkitInfo): Wire<typeof ToolkitSchema> {
  return {
    slug: toolkit.slug,
    name: toolkit.name,
    description: toolkit.description,
    no_auth: toolkit.noAuth,
    auth_schemes: toolkit.authSchemes,
    categories: toolkit.categories,
    keywords: toolkit.keywords,
    tool_count: toolkit.toolCount,
    tools: toolkit.tools,
  };
}

/**
 * A page of log entries whose text (payloads, error messages, and 300 per entry for its keys, numbers
 * and time) is at most this long is written at once: one `JSON.stringify` of 64 K characters takes
 * well under a millisecond, and a default page of 50 short entries (~20 K characters, over the 16 K
 * of a JsonWriter subtree) was otherwise walked by JsonWriter entry by entry first.
 */
const SMALL_LOG_PAGE_CHARS = 64 * 1024;

/**
 * A page of the execution log as the API answers it: marked as small (see `smallJson`) when it is
 * (a page of short entries, the common case), so that it is written by one `JSON.stringify`.
 */
function logPageJson(page: {
  items: ExecutionLog[];
  nextCursor: string | undefined;
}): Wire<typeof ExecutionLogListSchema> {
  const answer = { items: page.items.map(executionLogJson), next_cursor: page.nextCursor ?? null };
  if (page.items.length > 64) return answer;
  let chars = 0;
  for (const log of page.items) {
    // the strings' characters (as JsonWriter counts them), and 300 for the keys, numbers and time
    chars +=
      log.id.length +
      (log.sessionId?.length ?? 0) +
      log.userId.length +
      log.toolSlug.length +
      log.toolkit.length +
      (log.connectedAccountId?.length ?? 0) +
      (log.callId?.length ?? 0) +
      (log.errorCode?.length ?? 0) +
      (log.errorMessage?.length ?? 0) +
      (log.parentId?.length ?? 0) +
      log.input.length +
      log.output.length +
      300;
  }
  return chars <= SMALL_LOG_PAGE_CHARS ? smallJson(answer) : answer;
}

function executionLogJson(log: ExecutionLog): Wire<typeof ExecutionLogSchema> {
  return {
    id: log.id,
    session_id: log.sessionId,
    user_id: log.userId,
    tool_slug: log.toolSlug,
    toolkit: log.toolkit,
    connected_account_id: log.connectedAccountId,
    call_id: log.callId,
    status: log.status,
    error_code: log.errorCode,
    error_message: log.errorMessage,
    duration_ms: log.durationMs,
    input: log.input,
    output: log.output,
    created_at: isoTime(log.createdAt),
    parent_id: log.parentId ?? null,
  };
}

export interface RestRouteContext {
  toolmux: ToolMux<Provider<unknown>>;
  sessions: SessionCache;
}

/**
 * The REST API under `/api/v1`, one route per SDK call. Session-scoped reads and calls go through
 * the session cache (as MCP does); reading and updating the session itself always reads the store.
 */
export function restRoutes({ toolmux, sessions }: RestRouteContext): Route[] {
  return [
    route({
      method: 'post',
      path: '/sessions',
      operationId: 'createSession',
      summary: 'Create a session for a user (mux.create).',
      tag: 'sessions',
      body: CreateSessionBody,
      largeArrays: CREATE_SESSION_LARGE_ARRAYS,
      response: SessionSchema,
      status: 201,
      handle: async ({ body }) => {
        const { experimental, ...config } = body.config ?? {};
        // A remote SDK's custom tools: described here, run in the SDK's process. Thousands of them
        // are checked a slice at a time.
        const slice = new WorkSlice();
        const custom = experimental && {
          customTools: await declaredToolsSliced(
            (experimental.customTools ?? []) as ToolDeclaration[],
            slice,
          ),
          customToolkits: await declaredToolkitsSliced(
            (experimental.customToolkits ?? []) as ToolkitDeclaration[],
            slice,
          ),
        };
        return sessionJson(
          await toolmux.create(body.user_id, {
            ...(config as SessionConfig),
            ...(custom ? { experimental: custom } : {}),
          }),
        );
      },
    }),
    route({
      method: 'get',
      path: '/sessions',
      operationId: 'listSessions',
      summary: 'List sessions, newest first (mux.sessions.list).',
      tag: 'sessions',
      query: ListSessionsQuery,
      response: SessionListSchema,
      handle: async ({ query }) => {
        const page = await toolmux.sessions.list({
          userId: query.user_id,
          limit: query.limit,
          cursor: query.cursor,
        });
        return { items: page.items.map(sessionSummaryJson), next_cursor: page.nextCursor ?? null };
      },
    }),
    route({
      method: 'get',
      path: '/sessions/:sessionId',
      operationId: 'getSession',
      summary: 'Get a session (mux.use).',
      tag: 'sessions',
      params: SessionParams,
      response: SessionSchema,
      handle: async ({ params }) => sessionJson(await toolmux.use(params.sessionId)),
    }),
    route({
      method: 'patch',
      path: '/sessions/:sessionId',
      operationId: 'updateSession',
      summary: "Change a session's config (session.update).",
      tag: 'sessions',
      params: SessionParams,
      body: UpdateSessionBody,
      response: SessionSchema,
      handle: async ({ params, body }) => {
        if (body.expected_version === undefined) {
          // no version asked for: applied to the config as it is now, also when other updates race it
          const session = await updateLatest(toolmux, params.sessionId, (current) =>
            configChangesOf(body.config, current.config),
          );
          return sessionJson(session);
        }
        // SESSION_VERSION_CONFLICT in session.update()'s words, which it checks with the write
        const session = await toolmux.use(params.sessionId);
        await session.update(configChangesOf(body.config, session.config), {
          expectedVersion: body.expected_version,
        });
        return sessionJson(session);
      },
    }),
    route({
      method: 'delete',
      path: '/sessions/:sessionId',
      operationId: 'deleteSession',
      summary:
        'Delete a session (mux.sessions.delete): its MCP token is refused at once on every instance; its execution log stays (GET /api/v1/logs?session_id=…).',
      tag: 'sessions',
      params: SessionParams,
      response: DeletedSchema,
      handle: async ({ params }) => {
        await toolmux.sessions.delete(params.sessionId);
        sessions.invalidate(params.sessionId);
        return { id: params.sessionId, deleted: true as const };
      },
    }),
    route({
      method: 'post',
      path: '/sessions/:sessionId/mcp-token/rotate',
      operationId: 'rotateSessionMcpToken',
      summary:
        "Replace the session's MCP token and return the new MCP URL and headers (session.rotateMcpToken); the old token stops working at once on every instance.",
      tag: 'sessions',
      params: SessionParams,
      response: SessionMcpSchema,
      handle: async ({ params }) => {
        const mcp = await (await toolmux.use(params.sessionId)).rotateMcpToken();
        sessions.invalidate(params.sessionId);
        return mcp;
      },
    }),
    route({
      method: 'get',
      path: '/sessions/:sessionId/tools',
      operationId: 'listSessionTools',
      summary: 'The tools the session hands to the agent (session.tools).',
      tag: 'sessions',
      params: SessionParams,
      response: ToolSpecListSchema,
      handle: async ({ params }) => ({
        items: (await sessions.get(params.sessionId)).specs().map(toolSpecJson),
      }),
    }),
    route({
      method: 'post',
      path: '/sessions/:sessionId/execute',
      operationId: 'executeInSession',
      summary: 'Run a tool or meta-tool of the session (session.execute).',
      tag: 'sessions',
      params: SessionParams,
      body: ExecuteInSessionBody,
      response: ToolResultSchema,
      handle: async ({ params, body, signal, audience }) => {
        const { session } = await sessions.get(params.sessionId);
        const options = {
          signal,
          callId: body.call_id,
          audience,
          ...(body.account !== undefined ? { account: body.account } : {}),
          ...(body.arguments_refused !== undefined ? { argumentsRefused: body.arguments_refused } : {}),
        };
        return toolResultJson(
          body.parent_id === undefined
            ? await embeddedSession(session).executeFor(
                audience,
                body.tool_slug,
                body.arguments ?? {},
                options,
              )
            : await embeddedSession(session).executeUnder(
                body.parent_id,
                body.tool_slug,
                body.arguments ?? {},
                options,
              ),
        );
      },
    }),
    route({
      method: 'post',
      path: '/sessions/:sessionId/search',
      operationId: 'searchSessionTools',
      summary: 'Search the session’s tools (session.search).',
      tag: 'sessions',
      params: SessionParams,
      body: SearchBody,
      response: SearchResultSchema,
      handle: async ({ params, body, audience }) => {
        const { session } = await sessions.get(params.sessionId);
        // next_steps name the application's operations, in the words of the route's caller
        const result: Wire<typeof SearchResultSchema> = await embeddedSession(session).searchFor(audience, {
          query: body.query,
          knownFields: body.known_fields,
          limit: body.limit,
        });
        return result;
      },
    }),
    route({
      method: 'get',
      path: '/sessions/:sessionId/toolkits',
      operationId: 'listSessionToolkits',
      summary: 'Toolkits of the session with their connection status (session.toolkits).',
      tag: 'sessions',
      params: SessionParams,
      query: SessionToolkitsQuery,
      response: SessionToolkitListSchema,
      handle: async ({ params, query }) => {
        const { session } = await sessions.get(params.sessionId);
        const page = await session.toolkits({
          limit: query.limit,
          cursor: query.cursor,
          connected: query.connected === undefined ? undefined : query.connected === 'true',
          toolkits: query.toolkits,
          search: query.search,
        });
        return {
          items: page.items.map(sessionToolkitJson),
          next_cursor: page.nextCursor ?? null,
          total: page.total,
        };
      },
    }),
    route({
      method: 'get',
      path: '/sessions/:sessionId/logs',
      operationId: 'listSessionLogs',
      summary: "The session's execution log, newest first (session.logs).",
      tag: 'sessions',
      params: SessionParams,
      query: ListLogsQuery,
      response: ExecutionLogListSchema,
      handle: async ({ params, query }) => {
        // read often, by many clients at once: the session is not resumed, only known to exist (see
        // SessionCache.checkReadable), so a page costs one query; then what session.logs() reads
        await sessions.checkReadable(params.sessionId).catch(async (error: unknown) => {
          // a deleted session whose log names it: where that log is read now, as session.logs() says
          if (!ToolMuxError.isInstance(error) || error.code !== 'SESSION_NOT_FOUND') throw error;
          if ((await deletedSessionOf(toolmux, params.sessionId)) === undefined) throw error;
          throw deletedSessionLogsError(params.sessionId);
        });
        const page = await toolmux.logs.list({
          sessionId: params.sessionId,
          limit: query.limit,
          cursor: query.cursor,
          parentId: query.parent_id,
        });
        return logPageJson(page);
      },
    }),
    route({
      method: 'get',
      path: '/logs',
      operationId: 'listLogs',
      summary:
        "The project's execution log, newest first, by session (a deleted one's included), user or tool (mux.logs.list).",
      tag: 'logs',
      query: ListProjectLogsQuery,
      response: ExecutionLogListSchema,
      handle: async ({ query }) => {
        const page = await toolmux.logs.list({
          sessionId: query.session_id,
          userId: query.user_id,
          toolSlug: query.tool_slug,
          parentId: query.parent_id,
          limit: query.limit,
          cursor: query.cursor,
        });
        return logPageJson(page);
      },
    }),
    route({
      method: 'post',
      path: '/sessions/:sessionId/proxy',
      operationId: 'proxyExecute',
      summary: "Call a toolkit's API directly with the session user's account (session.proxyExecute).",
      tag: 'sessions',
      params: SessionParams,
      body: ProxyBody,
      response: ProxyResponseSchema,
      handle: async ({ params, body, signal }) => {
        const { session } = await sessions.get(params.sessionId);
        return session.proxyExecute({
          toolkit: body.toolkit,
          endpoint: body.endpoint,
          method: body.method,
          body: body.body,
          parameters: body.parameters,
          connectedAccountId: body.connected_account_id,
          maxResponseBytes: body.max_response_bytes,
          signal,
        });
      },
    }),
    route({
      method: 'post',
      path: '/sessions/:sessionId/workbench/offload',
      operationId: 'offloadMultiExecuteResult',
      summary:
        'Save the result of a TOOLMUX_MULTI_EXECUTE_TOOL call a remote-mode SDK ran itself (a session with custom tools) to the workbench files, by the rule the server applies to its own.',
      tag: 'sessions',
      params: SessionParams,
      body: OffloadBody,
      response: OffloadResultSchema,
      // a result worth offloading is large: up to a session's whole files quota
      bodyLimit: WORKBENCH_FILES_QUOTA_BYTES + 64 * 1024,
      handle: async ({ params, body }) => {
        const { session } = await sessions.get(params.sessionId);
        const offloaded = (await embeddedSession(session).offloadClientResult(
          body.result,
          body.log_id,
          body.always ?? false,
        )) as
          | {
              offloaded?: z.input<typeof OffloadResultSchema>['offloaded'];
              notOffloaded?: z.input<typeof OffloadResultSchema>['not_offloaded'];
            }
          | undefined;
        return { offloaded: offloaded?.offloaded ?? null, not_offloaded: offloaded?.notOffloaded ?? null };
      },
    }),
    route({
      method: 'post',
      path: '/sessions/:sessionId/logs',
      operationId: 'addSessionLogs',
      summary:
        "Add log entries of calls a remote-mode SDK ran itself (the session's custom tools) or refused before sending them; other entries are refused, each alone (`refused`), the rest stored.",
      tag: 'sessions',
      params: SessionParams,
      body: AddLogsBody,
      response: AddLogsResultSchema,
      status: 201,
      handle: async ({ params, body }) => {
        // a session deleted meanwhile (a custom-tool call that ran on in the client) takes its entries
        // still, as an embedded session's calls are logged; an id that never named one does not
        const session = await sessions.get(params.sessionId).then(
          ({ session: found }) => embeddedSession(found),
          async (error: unknown) => {
            if (!ToolMuxError.isInstance(error) || error.code !== 'SESSION_NOT_FOUND') throw error;
            const deleted = await deletedSessionOf(toolmux, params.sessionId);
            if (deleted === undefined) throw error;
            return deleted;
          },
        );
        // stored (committed) before the answer; an id that is not a fresh, unused log id is replaced
        const { ids, refused } = await session.recordClientLogEntries(
          body.items.map((item) => ({
            id: item.id ?? '',
            sessionId: session.sessionId,
            userId: session.userId,
            toolSlug: item.tool_slug,
            toolkit: item.toolkit,
            connectedAccountId: null,
            callId: item.call_id,
            status: item.status,
            errorCode: item.error_code,
            errorMessage: item.error_message,
            durationMs: item.duration_ms,
            input: item.input,
            output: item.output,
            createdAt: new Date(item.created_at),
            parentId: item.parent_id ?? null,
          })),
        );
        // nothing taken: refused as a whole, as before (an older client reads the error)
        if (refused.length === body.items.length) throw refused[0]!.error;
        const stored = ids.filter((logId): logId is string => logId !== null);
        return {
          added: stored.length,
          ids: stored,
          refused: refused.map(({ index, error }) => ({ index, code: error.code, message: error.message })),
        };
      },
    }),
    route({
      method: 'post',
      path: '/tools/list',
      operationId: 'listTools',
      summary: 'The tools a filter selects, as providers receive them, without a session (mux.tools.get).',
      tag: 'tools',
      body: ListToolsBody,
      response: ToolSpecListSchema,
      handle: async ({ body }) => ({
        items: catalogToolSpecs(toolmux.catalog, (body.filter ?? {}) as SessionConfig).map(toolSpecJson),
      }),
    }),
    route({
      method: 'get',
      path: '/toolkits',
      operationId: 'listToolkits',
      summary: 'Toolkits of the catalog (mux.toolkits.list).',
      tag: 'toolkits',
      query: ListToolkitsQuery,
      response: ToolkitListSchema,
      handle: async ({ query }) => {
        const page = await toolmux.toolkits.list(query);
        return {
          items: page.items.map(toolkitJson),
          next_cursor: page.nextCursor ?? null,
          total: page.total,
        };
      },
    }),
    route({
      method: 'get',
      path: '/toolkits/:slug',
      operationId: 'getToolkit',
      summary: 'One toolkit with its tools (mux.toolkits.get).',
      tag: 'toolkits',
      params: ToolkitParams,
      response: ToolkitSchema,
      handle: async ({ params }) => toolkitJson(await toolmux.toolkits.get(params.slug)),
    }),
    route({
      method: 'post',
      path: '/tools/execute',
      operationId: 'executeTool',
      summary: 'Run one tool for a user without a session (mux.tools.execute).',
      tag: 'tools',
      body: ExecuteToolBody,
      response: ToolResultSchema,
      handle: async ({ body, signal, audience }) =>
        toolResultJson(
          // a failed result in the reader's words (REST routes and fields for an HTTP client)
          await executeToolFor(toolmux, audience, body.tool_slug, {
            userId: body.user_id,
            arguments: body.arguments ?? {},
            connectedAccountId: body.connected_account_id,
            callId: body.call_id,
            signal,
          }),
        ),
    }),
  ];
}
