import type {
  ConnectedAccount,
  ConnectionRequestInfo,
  NormalizedSessionConfig,
  SearchToolsResult,
  SessionToolkit,
  ToolResult,
  ToolSpec,
} from '@toolmux/core';
import { CONNECTION_REQUEST_TTL_MS, type ToolDeclaration } from '@toolmux/core/internal';
import { composioConfig, composioConfigV3, type ExperimentalWire, toolkitSlugOf } from './config.js';

/**
 * Response bodies of Composio's Tool Router API, made from toolmux's objects. Field names and
 * required fields follow what `@composio/core` reads (its zod schemas) and the Rust crate
 * `composio-sdk` deserializes.
 */

/** Composio's names of toolmux's auth config types. */
const AUTH_SCHEME: Record<string, string> = {
  oauth2: 'OAUTH2',
  api_key: 'API_KEY',
  bearer: 'BEARER_TOKEN',
  basic: 'BASIC',
  none: 'NO_AUTH',
};

export function authSchemeOf(type: string): string {
  return AUTH_SCHEME[type] ?? type.toUpperCase();
}

/** `v3.1` answers as `@composio/core` parses; `v3` as the Rust crate `composio-sdk` (its client) does. */
export type ApiVersion = 'v3.1' | 'v3';

/** The session object of create, retrieve, update and attach. */
export function sessionJson(
  session: {
    sessionId: string;
    userId: string;
    configVersion: number;
    config: Readonly<NormalizedSessionConfig>;
    mcp: { url: string };
  },
  tools: readonly ToolSpec[],
  customTools?: CustomToolsWire,
  version: ApiVersion = 'v3.1',
): Record<string, unknown> {
  return {
    session_id: session.sessionId,
    config:
      version === 'v3'
        ? composioConfigV3(session.config, session.userId)
        : composioConfig(session.config, session.userId),
    config_version: session.configVersion,
    mcp: { type: 'http', url: session.mcp.url },
    tool_router_tools: tools.map((tool) => tool.slug),
    ...(customTools ? { experimental: customTools } : {}),
    warnings: [],
  };
}

/** The tags of Composio's tools are toolmux's annotation hints that are set. */
function tagsOf(spec: ToolSpec): string[] {
  return Object.entries(spec.annotations ?? {})
    .filter(([name, value]) => name.endsWith('Hint') && value === true)
    .map(([name]) => name);
}

/** One item of `GET …/tools`. */
export function toolJson(spec: ToolSpec, toolkitName: string, noAuth: boolean): Record<string, unknown> {
  const output = spec.outputSchema;
  return {
    slug: spec.slug,
    name: spec.name,
    description: spec.description,
    human_description: spec.description,
    input_parameters: spec.inputSchema,
    // Composio's tools always have an object output; a tool without an object schema has none here
    output_parameters: output && output.type === 'object' ? output : {},
    tags: tagsOf(spec),
    toolkit: { slug: spec.toolkit, name: toolkitName, logo: '' },
    version: 'latest',
    available_versions: ['latest'],
    is_deprecated: false,
    deprecated: {
      is_deprecated: false,
      available_versions: ['latest'],
      displayName: spec.name,
      version: 'latest',
      toolkit: { logo: '' },
    },
    no_auth: noAuth,
    scopes: [],
    scope_requirements: null,
  };
}

/** One tool of `GET /api/v3/…/tools`, which the Rust crate reads as a plain list (`toolkit` a slug). */
export function toolJsonV3(spec: ToolSpec, noAuth: boolean): Record<string, unknown> {
  const output = spec.outputSchema;
  return {
    slug: spec.slug,
    name: spec.name,
    description: spec.description,
    toolkit: spec.toolkit,
    input_parameters: spec.inputSchema,
    output_parameters: output && output.type === 'object' ? output : {},
    scopes: [],
    tags: tagsOf(spec),
    version: 'latest',
    available_versions: ['latest'],
    is_deprecated: false,
    no_auth: noAuth,
  };
}

/** `data` of Composio's execute answers is an object: other values are wrapped as `{ result }`. */
function dataObject(data: unknown): Record<string, unknown> {
  if (data !== null && typeof data === 'object' && !Array.isArray(data))
    return data as Record<string, unknown>;
  return data === undefined || data === null ? {} : { result: data };
}

/**
 * The error of a workbench cell that failed (`cellFailed`) as Composio's workbench words it, `CODE:
 * message`, from the error core carries (`cellError`), whatever the cell's data holds.
 */
function cellErrorText(result: ToolResult): string {
  const error = result.successful ? result.cellError : undefined;
  return error ? `${error.code}: ${error.message}` : 'The workbench cell failed (WORKBENCH_CODE_ERROR).';
}

/**
 * The answer of execute and execute_meta. A workbench cell that failed (its code threw or it reached
 * a limit) answers `successful: false` with its error, as a Composio client checks it, and keeps its
 * `{ result, logs, error }` as `data` (its logs and partial result stay readable).
 */
export function executeJson(result: ToolResult): Record<string, unknown> {
  const error = result.successful
    ? result.cellFailed
      ? cellErrorText(result)
      : null
    : (result.error ?? 'The tool failed.');
  return {
    data: dataObject(result.data),
    error,
    log_id: result.logId ?? '',
    successful: error === null,
  };
}

/** The answer of search: toolmux's search results in Composio's shape. */
export function searchJson(
  sessionId: string,
  queries: ReadonlyArray<{ use_case: string }>,
  results: ReadonlyArray<SearchToolsResult>,
): Record<string, unknown> {
  const toolSchemas: Record<string, unknown> = {};
  const connections = new Map<string, SearchToolsResult['toolkit_connections'][number]>();
  const items = results.map((result, index) => {
    const tools = result.results.flatMap((entry) => entry.tools);
    for (const tool of tools) {
      toolSchemas[tool.tool_slug] = {
        tool_slug: tool.tool_slug,
        toolkit: tool.toolkit,
        description: tool.description,
        input_schema: tool.input_schema,
        hasFullSchema: true,
      };
    }
    for (const connection of result.toolkit_connections) connections.set(connection.toolkit, connection);
    return {
      index: index + 1,
      use_case: queries[index]?.use_case ?? '',
      primary_tool_slugs: tools.map((tool) => tool.tool_slug),
      related_tool_slugs: [],
      toolkits: [...new Set(tools.map((tool) => tool.toolkit))],
    };
  });
  const now = new Date();
  return {
    success: true,
    error: null,
    results: items,
    tool_schemas: toolSchemas,
    toolkit_connection_statuses: [...connections].map(([toolkit, connection]) => ({
      toolkit,
      description: '',
      has_active_connection: connection.connected,
      status_message: connection.connected
        ? `${toolkit} is connected.`
        : `${toolkit} is not connected: start a connection with link (session.authorize).`,
      ...(connection.connected_account_id
        ? { connection_details: { connected_account_id: connection.connected_account_id } }
        : {}),
      // a multi-account session: the user's usable accounts, and whether calls must name one
      ...(connection.accounts
        ? {
            accounts: connection.accounts.map((account) => ({
              id: account.id,
              status: 'ACTIVE',
              is_default: account.is_default,
              created_at: '',
              ...(account.alias ? { alias: account.alias } : {}),
            })),
          }
        : {}),
      ...(connection.account_selection_required ? { account_selection: 'required' } : {}),
    })),
    next_steps_guidance: [...new Set(results.map((result) => result.next_steps).filter(Boolean))],
    session: { id: sessionId, generate_id: false, instructions: '' },
    time_info: {
      current_time_utc: now.toISOString(),
      current_time_utc_epoch_seconds: Math.floor(now.getTime() / 1000),
      message: `The current time is ${now.toISOString()} (UTC).`,
    },
  };
}

/** One item of `GET …/toolkits`. */
export function toolkitJson(
  toolkit: SessionToolkit,
  userId: string,
  account: ConnectedAccount | undefined,
): Record<string, unknown> {
  const { connectedAccount, authConfig } = toolkit.connection;
  return {
    slug: toolkit.slug,
    name: toolkit.name,
    enabled: true,
    is_no_auth: toolkit.noAuth,
    composio_managed_auth_schemes: authConfig?.managed ? [authSchemeOf(authConfig.type)] : [],
    meta: { description: toolkit.description, logo: '' },
    connected_account: connectedAccount
      ? {
          id: connectedAccount.id,
          status: connectedAccount.status,
          user_id: userId,
          created_at: account?.createdAt.toISOString() ?? '',
          auth_config: {
            id: authConfig?.id ?? account?.authConfigId ?? '',
            auth_scheme: authConfig ? authSchemeOf(authConfig.type) : '',
            is_composio_managed: authConfig?.managed ?? false,
          },
        }
      : null,
  };
}

/**
 * A connected account as `GET /api/v3.1/connected_accounts/:id` answers (what waitForConnection polls).
 * An OAuth attempt's account stays INITIATED in toolmux until its callback (an abandoned one is
 * deleted when the user starts another); once its link has expired no callback can complete it, so it
 * is shown as EXPIRED, with the reason, which Composio's clients treat as final (waitForConnection()
 * fails at once instead of polling until its own timeout).
 */
export function connectedAccountJson(
  account: ConnectedAccount,
  authConfig: { type: string; managed: boolean } | undefined,
  now = new Date(),
): Record<string, unknown> {
  const linkExpiresAt =
    account.status === 'INITIATED'
      ? new Date(account.createdAt.getTime() + CONNECTION_REQUEST_TTL_MS)
      : undefined;
  const linkExpired = linkExpiresAt !== undefined && linkExpiresAt <= now;
  return {
    id: account.id,
    user_id: account.userId,
    toolkit: { slug: account.toolkit },
    alias: account.alias,
    auth_config: {
      id: account.authConfigId,
      ...(authConfig ? { auth_scheme: authSchemeOf(authConfig.type) } : {}),
      is_composio_managed: authConfig?.managed ?? false,
      is_disabled: false,
    },
    status: linkExpired ? 'EXPIRED' : account.status,
    status_reason: linkExpired
      ? `The connection link expired at ${linkExpiresAt.toISOString()} before the user finished.`
      : account.statusReason,
    is_disabled: account.status === 'INACTIVE',
    created_at: account.createdAt.toISOString(),
    updated_at: account.updatedAt.toISOString(),
  };
}

/**
 * A connection request that has no account yet (a credentials form not yet sent, or one that failed
 * or expired), as a connected account: INITIATED while PENDING. Its auth config is described as the
 * account's will be once ACTIVE (`authConfig` as `connectedAccountJson` takes it), and its times are
 * when the request was made (the request keeps its expiry, made `CONNECTION_REQUEST_TTL_MS` after),
 * `updated_at` when its link ran out for one that expired so.
 */
export function pendingAccountJson(
  request: ConnectionRequestInfo,
  authConfig: { type: string; managed: boolean } | undefined,
): Record<string, unknown> {
  const status = request.status === 'PENDING' ? 'INITIATED' : request.status;
  const createdAt = new Date(request.expiresAt.getTime() - CONNECTION_REQUEST_TTL_MS).toISOString();
  const ranOut = request.status === 'EXPIRED' && request.replacedByNewerRequests !== true;
  return {
    id: request.id,
    user_id: request.userId,
    toolkit: { slug: request.toolkit },
    auth_config: {
      id: request.authConfigId,
      ...(authConfig ? { auth_scheme: authSchemeOf(authConfig.type) } : {}),
      is_composio_managed: authConfig?.managed ?? false,
      is_disabled: false,
    },
    status,
    status_reason:
      request.status === 'EXPIRED'
        ? `The connection link expired at ${request.expiresAt.toISOString()} before the user finished.`
        : request.status === 'FAILED'
          ? 'The connection failed or the user denied access.'
          : null,
    is_disabled: false,
    created_at: createdAt,
    updated_at: ranOut ? request.expiresAt.toISOString() : createdAt,
  };
}

/** `experimental.custom_tools` / `custom_toolkits` of a session answer: the slugs the client routes by. */
export interface CustomToolsWire {
  custom_tools?: Array<Record<string, unknown>>;
  custom_toolkits?: Array<Record<string, unknown>>;
}

/** Composio's slug of a custom tool as the agent sees it: `LOCAL_[TOOLKIT_]SLUG`. */
export function localSlug(slug: string, toolkit?: string): string {
  return `LOCAL_${toolkit ? `${toolkit.toUpperCase()}_` : ''}${slug.toUpperCase()}`;
}

/**
 * The custom tools of a Composio client, as toolmux declarations (their code runs in the client:
 * toolmux lists and searches them) and as the answer's `experimental` section.
 *
 * A tool that extends a toolkit of the catalog (`extends_toolkit`, `isCatalogToolkit`) keeps its
 * Composio slug (`LOCAL_<TOOLKIT>_<SLUG>`) but is filed with the other custom tools: a session lets
 * in the toolkits its custom tools are filed under, and letting in a catalog toolkit would hand the
 * session all of that toolkit's tools. (It needs none of that toolkit's credentials: it runs in the
 * client, and calls the toolkit's API through the session's proxy_execute.)
 */
export function customToolsOf(
  experimental: ExperimentalWire | undefined,
  isCatalogToolkit: (slug: string) => boolean = () => false,
): {
  declarations: ToolDeclaration[];
  toolkits: Array<{ slug: string; name: string; description: string; tools: ToolDeclaration[] }>;
  wire: CustomToolsWire | undefined;
} {
  const tools = experimental?.custom_tools ?? [];
  const toolkits = experimental?.custom_toolkits ?? [];
  if (tools.length === 0 && toolkits.length === 0) return { declarations: [], toolkits: [], wire: undefined };
  const declare = (
    tool: { slug: string; name: string; description: string; input_schema: Record<string, unknown> } & {
      output_schema?: Record<string, unknown>;
    },
    finalSlug: string,
    toolkit: string,
  ): ToolDeclaration => ({
    slug: finalSlug,
    name: tool.name,
    description: tool.description,
    toolkit,
    inputSchema: tool.input_schema,
    ...(tool.output_schema ? { outputSchema: tool.output_schema } : {}),
    annotations: {},
    tags: [],
  });
  const declarations = tools.map((tool) => {
    const extended = tool.extends_toolkit === undefined ? undefined : toolkitSlugOf(tool.extends_toolkit);
    return declare(
      tool,
      localSlug(tool.slug, tool.extends_toolkit),
      extended && !isCatalogToolkit(extended) ? extended : '',
    );
  });
  const declaredToolkits = toolkits.map((toolkit) => ({
    slug: `local_${toolkit.slug.toLowerCase()}`,
    name: toolkit.name,
    description: toolkit.description,
    tools: toolkit.tools.map((tool) => declare(tool, localSlug(tool.slug, toolkit.slug), '')),
  }));
  const toolWire = (
    tool: { slug: string; name: string; description: string; input_schema: Record<string, unknown> } & {
      output_schema?: Record<string, unknown>;
    },
    finalSlug: string,
  ) => ({
    slug: finalSlug,
    original_slug: tool.slug,
    name: tool.name,
    description: tool.description,
    input_schema: tool.input_schema,
    ...(tool.output_schema ? { output_schema: tool.output_schema } : {}),
  });
  return {
    declarations,
    toolkits: declaredToolkits,
    wire: {
      ...(tools.length > 0
        ? {
            custom_tools: tools.map((tool) => ({
              ...toolWire(tool, localSlug(tool.slug, tool.extends_toolkit)),
              ...(tool.extends_toolkit ? { extends_toolkit: tool.extends_toolkit } : {}),
            })),
          }
        : {}),
      ...(toolkits.length > 0
        ? {
            custom_toolkits: toolkits.map((toolkit) => ({
              slug: toolkit.slug,
              name: toolkit.name,
              description: toolkit.description,
              tools: toolkit.tools.map((tool) => toolWire(tool, localSlug(tool.slug, toolkit.slug))),
            })),
          }
        : {}),
    },
  };
}
