import { TOOL_TAGS, TOOLMUX_ERROR_CODES } from '@toolmux/core';
import {
  MAX_LOG_ERROR_CODE_LENGTH,
  MAX_LOG_TEXT_LENGTH,
  SESSION_CONFIG_BOUNDS,
} from '@toolmux/core/internal';
import { z } from 'zod';
import type { LargeArray } from './large-arrays.js';

/**
 * The zod schemas of the REST API: each one validates requests (or types responses) and becomes a
 * component of the OpenAPI document. Field names on the wire are snake_case; a session `config` is
 * the SDK's `SessionConfig` verbatim (camelCase), since it is the same JSON `mux.create()` takes.
 */
export const components = z.registry<{ id: string; description?: string }>();

export function component<T extends z.ZodType>(id: string, schema: T, description?: string): T {
  components.add(schema, description ? { id, description } : { id });
  return schema;
}

const ERROR_CODES = Object.keys(TOOLMUX_ERROR_CODES) as [string, ...string[]];

export const ErrorSchema = component(
  'Error',
  z.object({
    error: z.object({
      code: z.enum(ERROR_CODES).describe('Stable error code; the HTTP status follows from it.'),
      message: z.string().describe('What went wrong and how to fix it.'),
      details: z.record(z.string(), z.unknown()).optional(),
    }),
  }),
  'Every error response.',
);

export const OpenApiDocumentSchema = component(
  'OpenApiDocument',
  z.record(z.string(), z.unknown()),
  'An OpenAPI 3.1 document.',
);

// ---- shared pieces ----

export const limit = (max: number) =>
  z.coerce.number().int().min(1).max(max).optional().describe(`Page size, 1 to ${max}.`);
export const cursor = z.string().min(1).optional().describe('The `next_cursor` of the previous page.');
export const nextCursor = z
  .string()
  .nullable()
  .describe('Pass as `cursor` for the next page; null on the last.');
export const userId = z.string().min(1).max(256).describe("Your application's id for the user.");
const sessionId = z.string().min(1).max(128).describe('A session id (`ses_…`).');
export const timestamp = z.string().describe('ISO 8601 time.');
const jsonSchema = z.record(z.string(), z.unknown()).describe('A JSON Schema (draft 2020-12).');
/**
 * Any JSON: core checks the arguments against the tool's input schema, so that arguments that are
 * not an object (a string a model sent, an array) are the call's failed result TOOL_ARGUMENTS_INVALID
 * with core's message, as embedded, not a 400 of the request.
 */
const toolArguments = z
  .unknown()
  .optional()
  .describe(
    'Arguments matching the input schema of the tool (a JSON object; anything else is a failed result, TOOL_ARGUMENTS_INVALID).',
  );

// ---- session config (the SDK's SessionConfig, JSON-safe part) ----

const slugList = z.array(z.string().min(1));
/**
 * `{ enable, disable }` together passes here so that core names the conflict (CONFIG_CONFLICT); the
 * document says so, since JSON Schema would need a `not` that generators render poorly.
 */
const ENABLE_OR_DISABLE = 'Either enable or disable, not both (both: CONFIG_CONFLICT).';
const slugFilter = z.union([
  slugList,
  z.strictObject({ enable: slugList.optional(), disable: slugList.optional() }).describe(ENABLE_OR_DISABLE),
]);
const tag = z.enum(TOOL_TAGS);
const tagFilter = z.union([
  z.array(tag),
  z
    .strictObject({ enable: z.array(tag).optional(), disable: z.array(tag).optional() })
    .describe(ENABLE_OR_DISABLE),
]);

/** A whole number within core's bounds of a session config number (published as they are checked). */
function bounded([least, most]: readonly [number, number]) {
  return z.number().int().min(least).max(most).optional();
}

export const SessionConfigSchema = component(
  'SessionConfig',
  z.strictObject({
    toolkits: slugFilter.optional().describe('Toolkits the session may use; default: every toolkit.'),
    tools: z
      .record(z.string(), z.union([slugFilter, z.strictObject({ tags: tagFilter })]))
      .optional()
      .describe('Per toolkit: which of its tools (a list, { enable }, { disable } or { tags }).'),
    tags: tagFilter.optional().describe('Filter every tool by its MCP annotations.'),
    authConfigs: z.record(z.string(), z.string()).optional().describe('Per toolkit: an auth config id.'),
    connectedAccounts: z
      .record(z.string(), z.union([z.string(), z.array(z.string())]))
      .optional()
      .describe('Per toolkit: connected account id(s); the first ACTIVE one wins.'),
    preload: z
      .strictObject({ tools: z.union([z.literal('all'), slugList]).optional() })
      .optional()
      .describe(
        "Tools exposed directly beside the meta-tools: slugs, or 'all' for every tool of the session.",
      ),
    sessionPreset: z.enum(['META_TOOLS', 'DIRECT_TOOLS']).optional(),
    manageConnections: z
      .union([
        z.boolean(),
        z.strictObject({
          enable: z.boolean().optional(),
          callbackUrl: z.string().optional(),
          waitForConnections: z.boolean().optional(),
        }),
      ])
      .optional(),
    multiAccount: z
      .strictObject({
        enable: z.boolean().optional(),
        maxAccountsPerToolkit: bounded(SESSION_CONFIG_BOUNDS.maxAccountsPerToolkit).describe('Default 5.'),
        requireExplicitSelection: z.boolean().optional(),
      })
      .optional()
      .describe('Several accounts per toolkit (see docs/sessions.md).'),
    workbench: z
      .strictObject({
        enable: z.boolean().optional(),
        timeoutMs: bounded(SESSION_CONFIG_BOUNDS.workbench.timeoutMs),
        memoryMb: bounded(SESSION_CONFIG_BOUNDS.workbench.memoryMb),
        autoOffloadThreshold: bounded(SESSION_CONFIG_BOUNDS.workbench.autoOffloadThreshold),
      })
      .optional()
      .describe('TOOLMUX_WORKBENCH settings (on by default with META_TOOLS; see docs/workbench.md).'),
    metaToolNames: z
      .enum(['toolmux', 'composio'])
      .optional()
      .describe(
        "The meta-tools' names: toolmux's (TOOLMUX_SEARCH_TOOLS, …; the default) or Composio's (COMPOSIO_SEARCH_TOOLS, …, with Composio's input fields; see docs/composio-migration.md).",
      ),
    metadata: z
      .record(
        z.string().max(SESSION_CONFIG_BOUNDS.metadata.keyLength),
        z.string().max(SESSION_CONFIG_BOUNDS.metadata.valueLength),
      )
      // zod's records have no count of entries to check: core checks it, the document publishes it
      .meta({
        description: `Free-form labels: at most ${SESSION_CONFIG_BOUNDS.metadata.keys} keys.`,
        maxProperties: SESSION_CONFIG_BOUNDS.metadata.keys,
      })
      .optional(),
  }),
  'The config `mux.create(userId, config)` takes (custom tools are code and cannot be sent over HTTP).',
);

// ---- custom tools of remote-mode clients ----

/** The most custom tools a create-session body declares, and the most in one custom toolkit. */
const MAX_DECLARED_TOOLS = 500;
/** The most custom toolkits a create-session body declares. */
const MAX_DECLARED_TOOLKITS = 50;

const ToolAnnotationsInput = z.strictObject({
  title: z.string().optional(),
  readOnlyHint: z.boolean().optional(),
  destructiveHint: z.boolean().optional(),
  idempotentHint: z.boolean().optional(),
  openWorldHint: z.boolean().optional(),
});

export const ToolDeclarationSchema = component(
  'ToolDeclaration',
  z.strictObject({
    slug: z.string().min(1).max(64),
    name: z.string().min(1).max(200),
    description: z.string().min(1).max(8192),
    toolkit: z.string().max(64).describe('Empty: the tool joins `custom` (or the toolkit of its prefix).'),
    inputSchema: jsonSchema,
    outputSchema: jsonSchema.optional(),
    annotations: ToolAnnotationsInput,
    tags: z.array(z.string().max(100)).max(50),
  }),
  'A custom tool without its code: it runs in the client that declared it (remote mode).',
);

export const ToolkitDeclarationSchema = component(
  'ToolkitDeclaration',
  z.strictObject({
    slug: z.string().min(1).max(64),
    name: z.string().min(1).max(200),
    description: z.string().min(1).max(8192),
    categories: z.array(z.string().max(100)).max(20),
    keywords: z.array(z.string().max(100)).max(50).optional(),
    tools: z.array(ToolDeclarationSchema).max(MAX_DECLARED_TOOLS),
  }),
  'A custom toolkit (no auth) whose tools run in the client that declared it.',
);

// ---- sessions ----

export const CreateSessionBody = component(
  'CreateSessionRequest',
  z.strictObject({
    user_id: userId,
    config: SessionConfigSchema.extend({
      experimental: z
        .strictObject({
          customTools: z.array(ToolDeclarationSchema).max(MAX_DECLARED_TOOLS).optional(),
          customToolkits: z.array(ToolkitDeclarationSchema).max(MAX_DECLARED_TOOLKITS).optional(),
        })
        .optional()
        .describe(
          "Declarations of the custom tools a remote-mode SDK runs itself: the server lists and searches them; calls run in the SDK's process.",
        ),
    }).optional(),
  }),
);

/** The arrays of {@link CreateSessionBody} that hold thousands of declarations: checked one by one. */
export const CREATE_SESSION_LARGE_ARRAYS: readonly LargeArray[] = [
  { path: ['config', 'experimental', 'customTools'], item: ToolDeclarationSchema, max: MAX_DECLARED_TOOLS },
  {
    path: ['config', 'experimental', 'customToolkits'],
    item: ToolkitDeclarationSchema,
    max: MAX_DECLARED_TOOLKITS,
    inner: [{ path: ['tools'], item: ToolDeclarationSchema, max: MAX_DECLARED_TOOLS }],
  },
];

/** A slug filter as `GET /sessions/:id` answers it (the normalized config). */
const storedSlugFilter = z.union([
  z.strictObject({ mode: z.literal('all') }),
  z.strictObject({ mode: z.enum(['enable', 'disable']), slugs: slugList }),
]);

/**
 * The config of an update: the SDK's `SessionConfig`, or the config as `GET /sessions/:id` answers it
 * (read, modify, write), whose filters are normalized (`{ mode, slugs }`) and which holds fields
 * that are read only (accepted unchanged; see `configChangesOf`).
 */
const UpdateSessionConfigSchema = SessionConfigSchema.extend({
  toolkits: z.union([slugFilter, storedSlugFilter]).optional(),
  tools: z
    .record(
      z.string(),
      z.union([
        slugFilter,
        z.strictObject({ tags: tagFilter }),
        storedSlugFilter,
        z.strictObject({ mode: z.literal('tags'), tags: tagFilter }),
      ]),
    )
    .optional(),
  connectionCallbackUrl: z.string().optional().describe('As GET answers it: manageConnections.callbackUrl.'),
  waitForConnections: z
    .boolean()
    .optional()
    .describe('As GET answers it: manageConnections.waitForConnections.'),
  enabledExplicitly: z.array(z.string()).optional().describe('Read only: accepted as GET answered it.'),
  customTools: z.array(z.string()).optional().describe('Read only: accepted as GET answered it.'),
  customToolkits: z.array(z.string()).optional().describe('Read only: accepted as GET answered it.'),
  joinedToolkits: z
    .record(z.string(), z.string())
    .optional()
    .describe('Read only: accepted as GET answered it.'),
  clientTools: z.array(z.unknown()).optional().describe('Read only: accepted as GET answered it.'),
  clientToolkits: z.array(z.unknown()).optional().describe('Read only: accepted as GET answered it.'),
});
export type UpdateSessionConfig = z.infer<typeof UpdateSessionConfigSchema>;

export const UpdateSessionBody = component(
  'UpdateSessionRequest',
  z.strictObject({
    config: UpdateSessionConfigSchema.describe(
      'Top-level keys given replace the stored ones. The config GET /api/v1/sessions/:id answered is taken as it is: its unchanged keys change nothing.',
    ),
    expected_version: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe('Fail with SESSION_VERSION_CONFLICT (409) unless the stored config has this version.'),
  }),
);

export const SessionMcpSchema = component(
  'SessionMcp',
  z.object({
    url: z.string().describe('The MCP endpoint of this session (Streamable HTTP).'),
    headers: z
      .object({ Authorization: z.string() })
      .describe('Send these to the MCP endpoint; the token works for this session only.'),
  }),
);

export const SessionSchema = component(
  'Session',
  z.object({
    session_id: z.string(),
    user_id: z.string(),
    config_version: z.number().int(),
    config: z.record(z.string(), z.unknown()).describe('The normalized config as stored.'),
    metadata: z.record(z.string(), z.string()),
    mcp: SessionMcpSchema,
  }),
);

export const SessionSummarySchema = component(
  'SessionSummary',
  z.object({
    session_id: z.string(),
    user_id: z.string(),
    metadata: z.record(z.string(), z.string()),
    config_version: z.number().int(),
    created_at: timestamp,
    updated_at: timestamp,
  }),
);

export const SessionListSchema = component(
  'SessionList',
  z.object({
    items: z.array(SessionSummarySchema).describe('Sessions, newest first.'),
    next_cursor: z
      .string()
      .nullable()
      .describe(
        "The session_id of this page's last session: pass it as `cursor` to read the sessions after it (older ones). null when no session came after this page as it was read: the list is complete. A session created after the first page was read is newer than every page, so no later page has it (read from the first page again); one deleted meanwhile is on no later page, which may then be empty.",
      ),
  }),
);

export const SessionParams = z.object({ sessionId });
export const ListSessionsQuery = z.strictObject({
  user_id: userId.optional().describe("Only this user's sessions (your application's id for the user)."),
  limit: limit(1000).describe('Sessions per page, 1 to 1000; 20 when left out.'),
  cursor: cursor.describe(
    'The `next_cursor` of the page before (a session id, `ses_…`): the page then holds the sessions after that one, older ones. Left out: the first page, the newest sessions.',
  ),
});

// ---- tools and execution ----

export const ToolAnnotationsSchema = component(
  'ToolAnnotations',
  z.object({
    title: z.string().optional(),
    readOnlyHint: z.boolean().optional(),
    destructiveHint: z.boolean().optional(),
    idempotentHint: z.boolean().optional(),
    openWorldHint: z.boolean().optional(),
  }),
  'MCP tool annotations.',
);

export const ToolSpecSchema = component(
  'ToolSpec',
  z.object({
    slug: z.string(),
    name: z.string(),
    description: z.string(),
    toolkit: z.string(),
    input_schema: jsonSchema,
    strict_input_schema: jsonSchema
      .optional()
      .describe("The author's schema for OpenAI strict mode, when there is one (meta-tools)."),
    output_schema: jsonSchema.optional(),
    annotations: ToolAnnotationsSchema,
  }),
  'A tool as `session.tools()` hands it to a provider.',
);

export const ToolSpecListSchema = component('ToolSpecList', z.object({ items: z.array(ToolSpecSchema) }));

const callId = z
  .string()
  .min(1)
  .max(256)
  .optional()
  .describe("The agent framework's tool call id, written to the execution log.");

export const ExecuteInSessionBody = component(
  'ExecuteInSessionRequest',
  z.strictObject({
    tool_slug: z.string().min(1),
    arguments: toolArguments,
    call_id: callId,
    account: z
      .string()
      .min(1)
      .max(256)
      .optional()
      .describe(
        'The connected account to run with: its id (ca_…) or alias; one the session may use. Another one is answered as every failed tool call is, 200 with a result of successful: false, code ACCOUNT_NOT_IN_SESSION and an error listing the accounts it may use.',
      ),
    parent_id: z
      .string()
      .min(1)
      .max(128)
      .optional()
      .describe(
        "The log entry of the call that made this one, written as the entry's parent_id: an entry of this session, or the id the client will upload that entry under (POST /sessions/{sessionId}/logs) when it runs that call itself (a remote SDK's TOOLMUX_MULTI_EXECUTE_TOOL in a session with custom tools). Not a log id, or an entry of another session: 400 INVALID_REQUEST, and the call does not run.",
      ),
    arguments_refused: z
      .string()
      .min(1)
      .max(16_384)
      .optional()
      .describe(
        'Sent by a remote SDK in place of arguments JSON cannot carry (a NaN or ±Infinity, an array mostly of holes, an object of too many keys): the call never runs; it is refused with TOOL_ARGUMENTS_INVALID and this message where its arguments are checked, after the checks before them (the session, the tool: TOOL_NOT_FOUND, TOOL_NOT_IN_SESSION), and logged, as an embedded call with those arguments is.',
      ),
  }),
);

export const ListToolsBody = component(
  'ListToolsRequest',
  z.strictObject({
    user_id: userId,
    filter: SessionConfigSchema.pick({ toolkits: true, tools: true, tags: true })
      .optional()
      .describe('Which tools: toolkits, per-toolkit tools and tags, as in a session config.'),
  }),
);

export const ProxyBody = component(
  'ProxyRequest',
  z.strictObject({
    toolkit: z.string().min(1),
    endpoint: z
      .string()
      .min(1)
      .max(4096)
      .describe("A path under the toolkit's base URL, or a URL on its origin."),
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD']).optional(),
    body: z.unknown().optional().describe('An object is sent as JSON; a string as is.'),
    parameters: z
      .array(
        z.strictObject({
          in: z.enum(['header', 'query']),
          name: z.string().min(1),
          value: z.union([z.string(), z.number(), z.boolean()]),
        }),
      )
      .max(100)
      .optional(),
    // an empty or unknown id is the ToolMux's CONNECTED_ACCOUNT_NOT_FOUND, as embedded
    connected_account_id: z.string().max(256).optional(),
    // above the server's proxyMaxResponseBytes: the ToolMux's INVALID_REQUEST, naming the limit
    max_response_bytes: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe(
        "The most bytes of the API's answer to download (past them: 422 PROXY_RESPONSE_TOO_LARGE, the rest not read). At most the server's proxyMaxResponseBytes, which is also the default (32 MiB unless the operator set it).",
      ),
  }),
);

export const ProxyResponseSchema = component(
  'ProxyResponse',
  z.object({
    status: z.number().int(),
    headers: z.record(z.string(), z.string()),
    data: z.unknown().describe('Parsed JSON, else text; credentials masked.'),
  }),
  "The provider's answer to a proxied call, with every credential value masked.",
);

export const ExecuteToolBody = component(
  'ExecuteToolRequest',
  z.strictObject({
    tool_slug: z.string().min(1),
    user_id: userId,
    arguments: toolArguments,
    connected_account_id: z.string().max(256).optional().describe('Run with this account (`ca_…`).'),
    call_id: callId,
  }),
);

export const ToolResultSchema = component(
  'ToolResult',
  z.object({
    successful: z.boolean(),
    data: z.unknown().describe("The tool's output; null when it failed."),
    error: z.string().nullable().describe('A message the model can act on; null on success.'),
    code: z.string().optional().describe('The stable error code when it failed.'),
    log_id: z.string().describe('Id of the execution log entry.'),
    cell_failed: z
      .literal(true)
      .optional()
      .describe(
        "True on a successful workbench call whose cell failed (its code threw or reached a limit): data holds the cell's error, and the model is to read the call as failed.",
      ),
    cell_error: z
      .object({ code: z.string(), message: z.string() })
      .optional()
      .describe(
        "With cell_failed: the cell's error, as its data tells it to the model; read it here, not out of data.",
      ),
  }),
  'What every tool call returns: failures are results, not HTTP errors.',
);

export const SearchBody = component(
  'SearchRequest',
  z.strictObject({
    query: z.string().min(1).max(2000).describe('What the agent wants to do.'),
    known_fields: z.string().max(2000).optional().describe('Values already known, e.g. "repo: acme/web".'),
    limit: z.number().int().min(1).max(50).optional(),
  }),
);

export const SearchResultSchema = component(
  'SearchResult',
  z.object({
    results: z.array(
      z.object({
        use_case: z.string(),
        tools: z.array(
          z.object({
            tool_slug: z.string(),
            toolkit: z.string(),
            description: z.string(),
            input_schema: jsonSchema,
          }),
        ),
      }),
    ),
    toolkit_connections: z.array(
      z.object({
        toolkit: z.string(),
        connected: z.boolean(),
        connected_account_id: z.string().optional(),
        accounts: z
          .array(z.object({ id: z.string(), alias: z.string().nullable(), is_default: z.boolean() }))
          .optional()
          .describe('With multiAccount on: the usable accounts; calls name one with `account`.'),
        account_selection_required: z
          .boolean()
          .optional()
          .describe(
            'With multiAccount.requireExplicitSelection and several accounts: each call must name one.',
          ),
      }),
    ),
    next_steps: z.string(),
  }),
  'What TOOLMUX_SEARCH_TOOLS returns.',
);

// ---- toolkits ----

export const SessionToolkitSchema = component(
  'SessionToolkit',
  z.object({
    slug: z.string(),
    name: z.string(),
    description: z.string(),
    no_auth: z.boolean(),
    connection: z.object({
      is_active: z.boolean(),
      connected_account: z.object({ id: z.string(), status: z.string() }).optional(),
      auth_config: z
        .object({
          id: z.string(),
          type: z.enum(['oauth2', 'api_key', 'bearer', 'basic']),
          managed: z.boolean().describe('Whether toolmux created it (createdBy: toolmux).'),
        })
        .optional()
        .describe('The auth config the account is (or would be) connected through, when there is one.'),
      accounts: z
        .array(z.object({ id: z.string(), alias: z.string().nullable(), is_default: z.boolean() }))
        .optional()
        .describe('With multiAccount on: the usable (ACTIVE) accounts, and the one calls use by default.'),
      account_selection_required: z
        .boolean()
        .optional()
        .describe(
          'With multiAccount.requireExplicitSelection and several ACTIVE accounts: calls must name one.',
        ),
    }),
  }),
);

export const SessionToolkitListSchema = component(
  'SessionToolkitList',
  z.object({ items: z.array(SessionToolkitSchema), next_cursor: nextCursor, total: z.number().int() }),
);

export const SessionToolkitsQuery = z.strictObject({
  limit: limit(100),
  cursor,
  connected: z.enum(['true', 'false']).optional().describe('Only connected (true) or unconnected (false).'),
  toolkits: z
    .string()
    .optional()
    .transform((value) =>
      value === undefined
        ? undefined
        : value
            .split(',')
            .map((entry) => entry.trim())
            .filter(Boolean),
    )
    .describe('Only these toolkits (comma-separated slugs).'),
  search: z
    .string()
    .max(256)
    .optional()
    .describe(
      'Only toolkits whose slug, name, description or one of whose keywords contains this text (any case).',
    ),
});

export const ToolkitSchema = component(
  'Toolkit',
  z.object({
    slug: z.string(),
    name: z.string(),
    description: z.string(),
    no_auth: z.boolean(),
    auth_schemes: z.array(z.string()),
    categories: z.array(z.string()),
    keywords: z
      .array(z.string())
      .describe(
        "Words a user says for what the toolkit handles that its tools' text may not say; search reads them as words of each of its tools.",
      ),
    tool_count: z.number().int(),
    tools: z.array(z.object({ slug: z.string(), name: z.string(), description: z.string() })),
  }),
);

export const ToolkitListSchema = component(
  'ToolkitList',
  z.object({ items: z.array(ToolkitSchema), next_cursor: nextCursor, total: z.number().int() }),
);

export const ListToolkitsQuery = z.strictObject({
  search: z
    .string()
    .max(200)
    .optional()
    .describe('Text in the slug, name, description or one of the keywords.'),
  limit: limit(500),
  cursor,
});

export const ToolkitParams = z.object({ slug: z.string().min(1).max(128).describe('A toolkit slug.') });

// ---- logs ----

export const ExecutionLogSchema = component(
  'ExecutionLog',
  z.object({
    id: z.string(),
    session_id: z.string().nullable(),
    user_id: z.string(),
    tool_slug: z.string(),
    toolkit: z.string(),
    connected_account_id: z.string().nullable(),
    call_id: z.string().nullable(),
    status: z.enum(['success', 'error']),
    error_code: z.string().nullable(),
    error_message: z.string().nullable(),
    duration_ms: z.number(),
    input: z
      .string()
      .describe(
        'The arguments of the call as a string of JSON text, not a JSON value: parse it (JSON.parse) to read it. Redacted (secret-looking keys and the credentials of the call are "[REDACTED]") and cut to 4 KB: a cut one ends in "…[truncated]" and is no longer JSON.',
      ),
    output: z
      .string()
      .describe(
        'The result of the call as a string of JSON text, not a JSON value: parse it (JSON.parse) to read it. Redacted and cut to 4 KB as input is: a cut one ends in "…[truncated]" and is no longer JSON.',
      ),
    created_at: timestamp,
    parent_id: z
      .string()
      .nullable()
      .optional()
      .describe(
        'The entry of the call that made this one (a TOOLMUX_WORKBENCH cell, a TOOLMUX_MULTI_EXECUTE_TOOL), in the same session; null for a call of the agent itself.',
      ),
  }),
);

export const ExecutionLogListSchema = component(
  'ExecutionLogList',
  z.object({ items: z.array(ExecutionLogSchema), next_cursor: nextCursor }),
);

const parentIdFilter = z
  .string()
  .min(1)
  .max(128)
  .optional()
  .describe('Only the entries made by the call whose entry has this id (read the log as a tree).');

export const ListLogsQuery = z.strictObject({ limit: limit(1000), cursor, parent_id: parentIdFilter });

export const ListProjectLogsQuery = z.strictObject({
  session_id: sessionId.optional().describe('Entries of this session (also of one deleted since).'),
  user_id: userId.optional(),
  tool_slug: z.string().min(1).max(256).optional(),
  parent_id: parentIdFilter,
  limit: limit(1000),
  cursor,
});

/** A lone surrogate (ill-formed UTF-16): the database would store it as U+FFFD. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters refused
const CONTROL = /[\u0000-\u001f\u007f]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters refused
const CONTROL_BUT_WHITESPACE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/** The earliest and latest times every store holds (PostgreSQL's timestamptz has no year 0, none past 9999). */
const EARLIEST_LOG_TIME = Date.parse('0001-01-01T00:00:00.000Z');
const LATEST_LOG_TIME = Date.parse('9999-12-31T23:59:59.999Z');

/** When a client's call was made: ISO 8601 with an offset, in the years 0001–9999 once in UTC. */
const logTime = z.iso.datetime({ offset: true }).refine(
  (text) => {
    const time = Date.parse(text);
    return time >= EARLIEST_LOG_TIME && time <= LATEST_LOG_TIME;
  },
  { message: 'must be a time in the years 0001–9999 (in UTC): a store cannot hold another' },
);

/** Text a client sends for the log: at most `max` characters, well-formed, no control characters. */
const logText = (max: number, { multiline = false, min = 0 } = {}) =>
  z
    .string()
    .min(min)
    .max(max)
    .refine((text) => !(multiline ? CONTROL_BUT_WHITESPACE : CONTROL).test(text), {
      message: multiline
        ? 'must not contain NUL or control characters other than tab and line breaks'
        : 'must not contain NUL or control characters',
    })
    .refine((text) => !LONE_SURROGATE.test(text), {
      message: 'must be well-formed UTF-16 (no lone surrogate)',
    });

export const AddLogsBody = component(
  'AddExecutionLogsRequest',
  z.strictObject({
    items: z
      .array(
        ExecutionLogSchema.extend({
          id: z
            .string()
            .max(128)
            .optional()
            .describe(
              'Kept if it is a fresh log id (made within 5 minutes of now) not used before; otherwise the server gives the entry a new one. `ids` in the answer says which.',
            ),
          session_id: z.string().max(128).nullable().describe("Ignored: the entry is the path's session's."),
          user_id: z.string().max(256).describe("Ignored: the entry is the session's user's."),
          connected_account_id: z
            .string()
            .max(128)
            .nullable()
            .describe('Ignored (client calls use no account).'),
          tool_slug: logText(200, { min: 1 }),
          toolkit: logText(128),
          call_id: logText(256).nullable(),
          error_code: logText(MAX_LOG_ERROR_CODE_LENGTH).nullable(),
          input: logText(MAX_LOG_TEXT_LENGTH, { multiline: true }),
          output: logText(MAX_LOG_TEXT_LENGTH, { multiline: true }),
          error_message: logText(MAX_LOG_TEXT_LENGTH, { multiline: true }).nullable(),
          duration_ms: z.number().min(0),
          created_at: logTime,
          parent_id: z
            .string()
            .max(128)
            .nullable()
            .optional()
            .describe(
              "The entry of the call that made this one: an entry of this session, stored already or in this request (by the id sent); another is refused. When an entry is stored under another id than the one sent, this session's entries that name the id sent as parent_id (calls run on the server with POST /sessions/{sessionId}/execute and that parent_id) are moved to the new id.",
            ),
        }),
      )
      .min(1)
      .max(500),
  }),
);

export const OffloadBody = component(
  'OffloadResultRequest',
  z.strictObject({
    log_id: z
      .string()
      .regex(/^log_[0-9a-z]{38}$/, 'a log id: log_ and 38 lower-case letters and digits')
      .describe(
        'The log id of the TOOLMUX_MULTI_EXECUTE_TOOL call whose result this is; the file is `offloaded/<log_id>.json`.',
      ),
    result: z.unknown().describe('The result, as the model would receive it inline.'),
    always: z
      .boolean()
      .optional()
      .describe(
        "Offload at any length (Composio's `sync_response_to_workbench`); otherwise only past the session's `autoOffloadThreshold`.",
      ),
  }),
);

export const OffloadResultSchema = component(
  'OffloadResult',
  z.object({
    offloaded: z
      .object({
        path: z.string(),
        size: z.number().int().describe('Characters of the result as JSON.'),
        preview: z.string(),
        hint: z.string(),
      })
      .nullable()
      .describe(
        'What the model receives instead of the result; null when it is not saved (see `not_offloaded`).',
      ),
    not_offloaded: z
      .object({
        size: z.number().int().describe('Characters of the result as JSON.'),
        preview: z.string(),
        reason: z.string(),
        hint: z.string(),
      })
      .nullable()
      .describe(
        'A result past the threshold that could not be saved (the files quota is full): what the model receives instead of it, its start and how to make room. Null when it was saved, or stays inline (the workbench is off, the result is short).',
      ),
  }),
);

export const AddLogsResultSchema = component(
  'AddExecutionLogsResult',
  z.object({
    added: z.number().int(),
    ids: z
      .array(z.string())
      .describe(
        'The ids the stored entries were stored under, in the order sent (refused entries left out).',
      ),
    refused: z
      .array(
        z.object({
          index: z.number().int().describe('The position of the entry in `items`.'),
          code: z.string(),
          message: z.string(),
        }),
      )
      .describe(
        'The entries refused, each alone (a server tool that did not fail with a code the client gives the calls it refuses before sending them, a parent not of this session); the others are stored. A request whose every entry is refused is answered 400 with the first refusal.',
      ),
  }),
);
