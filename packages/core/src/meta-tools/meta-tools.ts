import { z } from 'zod';
import { defineTool } from '../catalog/define.js';
import type { JSONSchema, Tool, Toolkit, ValidationResult } from '../catalog/types.js';
import { ToolMuxError, type ToolMuxErrorCode } from '../errors.js';
import type { ToolResult } from '../execution/result.js';
import type { ExecuteOptions } from '../provider.js';
import { toStrictSchema } from '../schema/strict.js';
import { isPlainObject } from '../util/own-key.js';
import { leadingText, MAX_ID_LENGTH, shownValue, storableCallId } from '../util/stored-text.js';
import { MAX_TIMER_MS } from '../util/whole-number.js';
import {
  WORKBENCH_DESCRIPTION,
  WORKBENCH_DIRECT_SLUGS_LINE,
  WORKBENCH_SLUGS_LINE,
} from '../workbench/config.js';

/** The slugs of the meta-tools. */
export const MetaToolSlug = {
  SEARCH_TOOLS: 'TOOLMUX_SEARCH_TOOLS',
  GET_TOOL_SCHEMAS: 'TOOLMUX_GET_TOOL_SCHEMAS',
  MANAGE_CONNECTIONS: 'TOOLMUX_MANAGE_CONNECTIONS',
  MULTI_EXECUTE_TOOL: 'TOOLMUX_MULTI_EXECUTE_TOOL',
  WORKBENCH: 'TOOLMUX_WORKBENCH',
  WAIT_FOR_CONNECTIONS: 'TOOLMUX_WAIT_FOR_CONNECTIONS',
} as const;
export type MetaToolSlug = (typeof MetaToolSlug)[keyof typeof MetaToolSlug];

/** Which meta-tool it is, whatever its name. */
export type MetaToolKind = keyof typeof MetaToolSlug;

/**
 * The names a session's meta-tools carry: toolmux's (`TOOLMUX_SEARCH_TOOLS`, …) or Composio's
 * (`COMPOSIO_SEARCH_TOOLS`, …, with Composio's input fields), so that prompts written for Composio's
 * Tool Router keep working. Set per session with `metaToolNames`.
 */
export type MetaToolNames = 'toolmux' | 'composio';
export const META_TOOL_NAMES: readonly MetaToolNames[] = ['toolmux', 'composio'];

/** The Composio names of the meta-tools (`metaToolNames: 'composio'`). */
export const ComposioMetaToolSlug = {
  SEARCH_TOOLS: 'COMPOSIO_SEARCH_TOOLS',
  GET_TOOL_SCHEMAS: 'COMPOSIO_GET_TOOL_SCHEMAS',
  MANAGE_CONNECTIONS: 'COMPOSIO_MANAGE_CONNECTIONS',
  MULTI_EXECUTE_TOOL: 'COMPOSIO_MULTI_EXECUTE_TOOL',
  WORKBENCH: 'COMPOSIO_REMOTE_WORKBENCH',
  WAIT_FOR_CONNECTIONS: 'COMPOSIO_WAIT_FOR_CONNECTIONS',
} as const satisfies Record<MetaToolKind, string>;

const SLUGS_BY_NAMES: Record<MetaToolNames, Record<MetaToolKind, string>> = {
  toolmux: MetaToolSlug,
  composio: ComposioMetaToolSlug,
};

/** The slug of each meta-tool in a naming style. */
export function metaToolSlugs(names: MetaToolNames = 'toolmux'): Readonly<Record<MetaToolKind, string>> {
  return SLUGS_BY_NAMES[names];
}

const KIND_BY_SLUG = new Map<string, MetaToolKind>(
  Object.values(SLUGS_BY_NAMES).flatMap((slugs) =>
    Object.entries(slugs).map(([kind, slug]) => [slug, kind as MetaToolKind]),
  ),
);

/** Every meta-tool slug, in every naming style. */
export const ALL_META_TOOL_SLUGS: ReadonlySet<string> = new Set(KIND_BY_SLUG.keys());

/** Which meta-tool a slug names, in any naming style; `undefined` for any other tool. */
export function metaToolKind(slug: string): MetaToolKind | undefined {
  return KIND_BY_SLUG.get(slug);
}

/**
 * `text` with every toolmux meta-tool name (and field toolmux's names use where Composio's differ)
 * replaced by the names of `names`: for descriptions, hints and error messages that mention meta-tools.
 */
export function renameMetaTools(text: string, names: MetaToolNames): string {
  if (names === 'toolmux' || !text.includes('TOOLMUX_')) return text;
  const slugs = SLUGS_BY_NAMES[names];
  return text
    .replace(TOOLMUX_NAME, (slug) => slugs[KIND_BY_SLUG.get(slug)!])
    .replace(/\breinitiate: true\b/g, 'reinitiate_all: true');
}

/**
 * The workbench's description (in `names`) for a session without search and multi-execute
 * meta-tools: it points to the tools the session gave instead.
 */
export function workbenchWithoutMetaTools(description: string, names: MetaToolNames): string {
  return description.replace(renameMetaTools(WORKBENCH_SLUGS_LINE, names), WORKBENCH_DIRECT_SLUGS_LINE);
}

/** A toolmux meta-tool name in a text (and not the start of a longer name). */
const TOOLMUX_NAME = new RegExp(`\\b(?:${Object.values(MetaToolSlug).join('|')})\\b`, 'g');

/** The result of TOOLMUX_SEARCH_TOOLS and `session.search()`. */
export interface SearchToolsResult {
  results: Array<{
    use_case: string;
    tools: Array<{
      tool_slug: string;
      toolkit: string;
      description: string;
      input_schema: Record<string, unknown>;
    }>;
  }>;
  toolkit_connections: Array<{
    toolkit: string;
    connected: boolean;
    connected_account_id?: string;
    /** With `multiAccount` on: the usable accounts, and whether each call must name one. */
    accounts?: Array<{ id: string; alias: string | null; is_default: boolean }>;
    account_selection_required?: boolean;
  }>;
  next_steps: string;
}

/** At most this many calls in one TOOLMUX_MULTI_EXECUTE_TOOL. */
export const MAX_MULTI_EXECUTE = 50;

/** The pseudo-toolkit meta-tools belong to: no auth, never listed. */
export const META_TOOLKIT: Toolkit = Object.freeze({
  kind: 'toolmux.toolkit',
  slug: 'toolmux',
  name: 'toolmux',
  description: 'Meta-tools to discover, connect and run the tools of this session.',
  tools: [],
  auth: [],
  baseUrl: undefined,
  categories: [],
  keywords: [],
  logo: undefined,
  noAuth: true,
});

/** What a meta-tool needs from the session that runs it. */
export interface MetaToolHost {
  /** The session the meta-tools run in. */
  readonly sessionId: string;
  /** A toolkit's name and description (for results that describe toolkits). */
  describeToolkit(slug: string): { name: string; description: string } | undefined;
  /**
   * The session's toolkit a slug written in any case names (`GitHub`: `github`), for the meta-tools
   * with Composio's names, whose toolkit slugs are not case-sensitive as Composio's are; the slug as
   * written when the session has no such toolkit, so that what refuses it names what the model wrote.
   */
  toolkitSlugIn(slug: string): string;
  searchTools(queries: Array<{ use_case: string; known_fields?: string | null }>): Promise<unknown>;
  getToolSchemas(slugs: string[]): unknown;
  manageConnections(toolkits: string[], reinitiate: boolean, alias?: string): Promise<unknown>;
  /** The slug of the meta-tool that waits for connections, when the agent has it (else undefined). */
  readonly waitForConnectionsTool: string | undefined;
  /**
   * Runs the calls; a result over the workbench's `autoOffloadThreshold` goes to the workbench files,
   * and with `offload: 'always'` any result does (when the workbench is on).
   */
  multiExecute(calls: Calls, options: MetaToolOptions, offload?: 'auto' | 'always'): Promise<unknown>;
  workbench(code: string, options: MetaToolOptions): Promise<unknown>;
  waitForConnections(toolkits: string[], timeoutSeconds: number, options: MetaToolOptions): Promise<unknown>;
}

/** What a meta-tool's run receives besides its input: the call's options and its log entry id. */
export interface MetaToolOptions extends ExecuteOptions {
  logId?: string;
  /** A multi-execute's: run on each call's result before it is counted, shaped or offloaded. */
  eachResult?: EachCallResult;
  /** A workbench cell's: run around each call its code makes (`tools()`'s hooks). */
  cellHooks?: CellCallHooks;
}

/**
 * `tools()`'s `beforeExecute` and `afterExecute` as a workbench cell runs them: around each call its
 * code makes with `toolmux.execute`, so that code the model writes gets the arguments and the results
 * the hooks decide, as the calls the model makes directly and through the multi-execute do; and its
 * `modifySchema` on the schemas `toolmux.search` finds.
 */
export interface CellCallHooks {
  before(slug: string, args: unknown): Promise<unknown>;
  after(slug: string, result: ToolResult): Promise<ToolResult>;
  /**
   * What `toolmux.search` answers the code, its input schemas as `tools()`'s `modifySchema` makes them
   * (as TOOLMUX_SEARCH_TOOLS shows them): the code would otherwise read a field the application hid.
   */
  searched?(found: unknown): Promise<unknown>;
}

/**
 * `tools()`'s `afterExecute` as a multi-execute runs it: on each call's result, before the results
 * are counted, put in Composio's shape or saved to the workbench files (so that a result too large to
 * go inline is saved as the hook left it, not as the tool returned it).
 */
export type EachCallResult = (slug: string, result: ToolResult) => Promise<ToolResult>;

/**
 * @internal The key under which the execute options of a multi-execute carry its
 * {@link EachCallResult} (`tools()` with `afterExecute`): kept off `ExecuteOptions`, which
 * applications and providers pass.
 */
export const EACH_CALL_RESULT: unique symbol = Symbol('toolmux.eachCallResult');

/**
 * @internal The key under which the execute options of a workbench call carry its
 * {@link CellCallHooks} (`tools()` with `beforeExecute`, `afterExecute` or `modifySchema`).
 */
export const CELL_CALL_HOOKS: unique symbol = Symbol('toolmux.cellCallHooks');

/** Execute options that may carry a multi-execute's {@link EachCallResult} or a cell's {@link CellCallHooks}. */
export type MultiExecuteOptions = ExecuteOptions & {
  [EACH_CALL_RESULT]?: EachCallResult;
  [CELL_CALL_HOOKS]?: CellCallHooks;
};

export interface MetaTool extends Tool {
  /** Which meta-tool this is, whatever its name. */
  readonly metaKind: MetaToolKind;
  /** The naming style of this variant. */
  readonly names: MetaToolNames;
  /** A schema written for OpenAI strict mode (see ToolSpec.strictInputSchema). */
  readonly strictInputSchema: JSONSchema;
  run(host: MetaToolHost, input: any, options: MetaToolOptions): Promise<unknown> | unknown;
}

/** One naming style of a meta-tool: what the model sees and how its input reaches the session. */
interface MetaToolVariant {
  description: string;
  inputSchema: z.ZodObject;
  /** The schema to show in strict mode when the default rewrite would not be strict-compatible. */
  strictVariant?: z.ZodObject;
  /** Validation that also accepts what the strict variant sends. */
  validate?: (input: unknown) => ValidationResult;
  run: MetaTool['run'];
}

/**
 * One meta-tool: what it does (annotations, time limit) once, and a variant per naming style. The
 * variants share the session's work (`MetaToolHost`); they differ in name, input fields and result shape.
 */
interface MetaToolDefinition {
  kind: MetaToolKind;
  annotations: Tool['annotations'];
  timeoutMs?: number;
  variants: Record<MetaToolNames, MetaToolVariant>;
}

function metaTool(definition: MetaToolDefinition, names: MetaToolNames): MetaTool {
  const slug = SLUGS_BY_NAMES[names][definition.kind];
  const options = definition.variants[names];
  const tool = defineTool({
    slug,
    description: options.description,
    inputSchema: options.inputSchema,
    annotations: definition.annotations,
    timeoutMs: definition.timeoutMs,
    toolkit: 'toolmux',
    execute: () => {
      throw new Error(`${slug} runs only inside a session.`);
    },
  });
  const strictSource = options.strictVariant
    ? defineTool({
        slug,
        description: options.description,
        inputSchema: options.strictVariant,
        execute: () => null,
      }).inputSchema
    : tool.inputSchema;
  const strict = toStrictSchema(strictSource);
  if (!strict.ok) throw new Error(`meta-tool ${slug} is not strict-compatible: ${strict.reason}`);
  return Object.freeze({
    ...tool,
    metaKind: definition.kind,
    names,
    validate: options.validate ?? tool.validate,
    strictInputSchema: strict.schema,
    run: options.run,
  });
}

/** What Composio's meta-tools take besides their own fields; accepted and not needed here. */
const composioContext = {
  session_id: z
    .string()
    .optional()
    .describe(
      'The session id from a COMPOSIO_SEARCH_TOOLS result (optional: calls of this session are already related).',
    ),
};
const composioStep = {
  current_step: z
    .string()
    .max(200)
    .optional()
    .describe('A short name for the current step, e.g. FETCHING_EMAILS.'),
  current_step_metric: z.string().max(200).optional().describe('Progress of the step, e.g. "10/100 emails".'),
};

const searchQueries = z
  .array(
    z.object({
      use_case: z
        .string()
        .min(1)
        .describe(
          'The task in plain words, e.g. "create an issue in a GitHub repository". Include the app name when you know it.',
        ),
      known_fields: z
        .string()
        .optional()
        .describe(
          'Values you already know that the tool will need, e.g. "owner: octocat, repo: hello-world".',
        ),
    }),
  )
  .min(1)
  .max(10)
  .describe('One entry per distinct task.');

type SearchQuery = { use_case: string; known_fields?: string | null };

/** TOOLMUX_SEARCH_TOOLS's result in the shape of COMPOSIO_SEARCH_TOOLS's. */
function composioSearchResult(host: MetaToolHost, result: SearchToolsResult): Record<string, unknown> {
  const tool_schemas: Record<string, unknown> = {};
  for (const entry of result.results) {
    for (const tool of entry.tools) {
      tool_schemas[tool.tool_slug] = {
        tool_slug: tool.tool_slug,
        toolkit: tool.toolkit,
        description: tool.description,
        input_schema: tool.input_schema,
        hasFullSchema: true,
      };
    }
  }
  const now = new Date();
  return {
    success: true,
    error: null,
    // numbered from 1, as Composio numbers the queries of a search (and the session's search route does)
    results: result.results.map((entry, index) => ({
      index: index + 1,
      use_case: entry.use_case,
      primary_tool_slugs: entry.tools.map((tool) => tool.tool_slug),
      related_tool_slugs: [],
      toolkits: [...new Set(entry.tools.map((tool) => tool.toolkit))],
    })),
    tool_schemas,
    toolkit_connection_statuses: result.toolkit_connections.map((entry) => {
      const toolkit = host.describeToolkit(entry.toolkit);
      return {
        toolkit: entry.toolkit,
        description: toolkit?.description ?? '',
        has_active_connection: entry.connected,
        status_message: entry.connected
          ? `${toolkit?.name ?? entry.toolkit} is connected.`
          : `${toolkit?.name ?? entry.toolkit} is not connected.`,
        ...(entry.connected_account_id
          ? { connection_details: { connected_account_id: entry.connected_account_id } }
          : {}),
        ...(entry.accounts ? { accounts: entry.accounts } : {}),
        ...(entry.account_selection_required !== undefined
          ? { account_selection_required: entry.account_selection_required }
          : {}),
      };
    }),
    next_steps_guidance: [result.next_steps],
    session: {
      id: host.sessionId,
      generate_id: false,
      instructions: 'Pass this id as session_id to the other COMPOSIO_ meta-tools (optional).',
    },
    time_info: {
      current_time_utc: now.toISOString(),
      current_time_utc_epoch_seconds: Math.floor(now.getTime() / 1000),
      message: 'The current time in UTC, for dates in tool arguments.',
    },
  };
}

const SEARCH_DESCRIPTION =
  'Find the tools that can do a task. Describe each task in plain words (one query per distinct task); you get the best matching tools with their input schemas and whether their app is connected. Call this before using any tool you have not seen yet, then run the tools with TOOLMUX_MULTI_EXECUTE_TOOL.';

const searchTools: MetaToolDefinition = {
  kind: 'SEARCH_TOOLS',
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  variants: {
    toolmux: {
      description: SEARCH_DESCRIPTION,
      inputSchema: z.object({ queries: searchQueries }),
      run: (host, input: { queries: SearchQuery[] }) => host.searchTools(input.queries),
    },
    composio: {
      description: `${renameMetaTools(SEARCH_DESCRIPTION, 'composio')} Results list tool_schemas by slug, toolkit_connection_statuses and next_steps_guidance.`,
      inputSchema: z.object({
        queries: searchQueries,
        session: z
          .object({
            id: z.string().optional().describe('The id of the session of an earlier search, to continue it.'),
            generate_id: z.boolean().optional().describe('True to start a new workflow.'),
          })
          .optional()
          .describe(
            'Workflow context: accepted for compatibility; calls of this session are already related.',
          ),
        model: z.string().max(200).optional().describe('The name of the model calling (optional).'),
      }),
      run: async (host, input: { queries: SearchQuery[] }) =>
        composioSearchResult(host, (await host.searchTools(input.queries)) as SearchToolsResult),
    },
  },
};

/**
 * A slug or toolkit name a meta-tool takes: at most {@link MAX_ID_LENGTH} characters (no tool or
 * toolkit has a longer one), so that what a result or message repeats of it stays short.
 */
const slugText = () => z.string().min(1).max(MAX_ID_LENGTH);

const toolSlugs = (names: MetaToolNames) =>
  z
    .array(slugText())
    .min(1)
    .max(50)
    .describe(`Tool slugs from ${SLUGS_BY_NAMES[names].SEARCH_TOOLS} results.`);

const getToolSchemas: MetaToolDefinition = {
  kind: 'GET_TOOL_SCHEMAS',
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  variants: {
    toolmux: {
      description:
        'Get the complete input and output schemas of tools by slug, when search results did not show enough detail to call them correctly.',
      inputSchema: z.object({ tool_slugs: toolSlugs('toolmux') }),
      run: (host, input: { tool_slugs: string[] }) => host.getToolSchemas(input.tool_slugs),
    },
    composio: {
      description:
        'Get the complete input schemas (and output schemas with include: ["output_schema"]) of tools by slug, when search results did not show enough detail to call them correctly. Results are keyed by slug in tool_schemas.',
      inputSchema: z.object({
        tool_slugs: toolSlugs('composio'),
        include: z
          .array(z.enum(['input_schema', 'output_schema']))
          .optional()
          .describe('Schema fields to include; default ["input_schema"].'),
        ...composioContext,
      }),
      run: (host, input: { tool_slugs: string[]; include?: string[] | null }) => {
        const result = host.getToolSchemas(input.tool_slugs) as {
          tools: Array<{ tool_slug: string; output_schema?: unknown }>;
          not_found?: string[];
          hint?: string;
        };
        const withOutput = input.include?.includes('output_schema') === true;
        const tool_schemas = Object.fromEntries(
          result.tools.map(({ output_schema, ...tool }) => [
            tool.tool_slug,
            withOutput && output_schema ? { ...tool, output_schema } : tool,
          ]),
        );
        const notFound = result.not_found ?? [];
        return {
          success: notFound.length === 0,
          tool_schemas,
          ...(notFound.length > 0
            ? { not_found: notFound, not_found_message: renameMetaTools(result.hint ?? '', 'composio') }
            : {}),
        };
      },
    },
  },
};

const MANAGE_DESCRIPTION = (field: string) =>
  `Check whether the user has connected the apps (toolkits) a task needs. For each toolkit you get its connection status, and for one that is not connected, what the user must do to connect it (a redirect_url to show them). Use it when a search result says a toolkit is not connected or a tool fails because no account is connected; ${field}: true starts a new connection for an expired account.`;

const manageConnections: MetaToolDefinition = {
  kind: 'MANAGE_CONNECTIONS',
  annotations: { readOnlyHint: false, idempotentHint: true, openWorldHint: false },
  variants: {
    toolmux: {
      description:
        'Check whether the user has connected the apps (toolkits) a task needs. For each toolkit you get its connection status, and for one that is not connected, what the user must do to connect it. Use it when a search result says a toolkit is not connected or a tool fails because no account is connected.',
      inputSchema: z.object({
        toolkits: z.array(slugText()).min(1).max(20).describe('Toolkit slugs, e.g. ["github", "gmail"].'),
        reinitiate: z
          .boolean()
          .optional()
          .describe('Start a new connection even when one exists (to reconnect an expired account).'),
        alias: z
          .string()
          .min(1)
          .max(64)
          .optional()
          .describe(
            'Name of the account to check or connect, e.g. "work" (for a user with several accounts of a toolkit): connected if an account with this alias is, else a link that connects a new account under it.',
          ),
      }),
      run: (host, input: { toolkits: string[]; reinitiate?: boolean | null; alias?: string | null }) =>
        host.manageConnections(input.toolkits, input.reinitiate === true, input.alias ?? undefined),
    },
    composio: {
      description: MANAGE_DESCRIPTION('reinitiate_all'),
      inputSchema: z.object({
        toolkits: z.array(slugText()).min(1).max(20).describe('Toolkit slugs, e.g. ["github", "gmail"].'),
        reinitiate_all: z
          .boolean()
          .optional()
          .describe('Start new connections for every listed toolkit, even connected ones (to reconnect).'),
        ...composioContext,
      }),
      run: async (host, input: { toolkits: string[]; reinitiate_all?: boolean | null }) => {
        const toolkits = input.toolkits.map((slug) => host.toolkitSlugIn(slug));
        const { results } = (await host.manageConnections(toolkits, input.reinitiate_all === true)) as {
          results: Array<Record<string, unknown> & { toolkit: string; connected: boolean }>;
        };
        const byToolkit: Record<string, unknown> = {};
        const summary = {
          total_toolkits: results.length,
          active_connections: 0,
          initiated_connections: 0,
          failed_connections: 0,
        };
        for (const { toolkit, connected, message, ...rest } of results) {
          const status = rest.redirect_url ? 'initiated' : connected ? 'active' : 'failed';
          summary[
            status === 'active'
              ? 'active_connections'
              : status === 'initiated'
                ? 'initiated_connections'
                : 'failed_connections'
          ] += 1;
          byToolkit[toolkit] = {
            toolkit,
            status,
            has_active_connection: connected,
            ...rest,
            instruction: renameMetaTools(String(message ?? ''), 'composio'),
          };
        }
        const message =
          summary.initiated_connections > 0
            ? // what each entry's instruction says: wait with the meta-tool where the agent has it
              `Show the user each redirect_url to connect, then ${host.waitForConnectionsTool ? `call ${renameMetaTools(host.waitForConnectionsTool, 'composio')} to learn when they are done` : 'continue once they say they are done'}.`
            : summary.failed_connections > 0
              ? 'Some toolkits cannot be connected here; see each instruction.'
              : 'Every toolkit is connected.';
        return { message, results: byToolkit, summary };
      },
    },
  },
};

/** One call of a multi-execute as the tool declares it (validation takes any entry: see {@link lenientValidate}). */
const callItem = (argumentsSchema: z.ZodType, names: MetaToolNames) =>
  z.object({
    tool_slug: z.string().describe(`The slug of a tool found with ${SLUGS_BY_NAMES[names].SEARCH_TOOLS}.`),
    // left out (or null, as a strict-mode model sends it): no arguments, as a tool without inputs takes
    arguments: argumentsSchema.optional(),
    account: z
      .string()
      .optional()
      .describe(
        `Which of the user's accounts of the tool's app to use: an alias or id from the accounts ${SLUGS_BY_NAMES[names].SEARCH_TOOLS} listed. Leave it out to use the default account.`,
      ),
  });
const argumentsObject = z
  .record(z.string(), z.unknown())
  .describe("The tool's arguments, matching its input schema.");
const argumentsJson = z
  .string()
  .describe('The tool\'s arguments as a JSON object, matching its input schema, e.g. {"owner":"octocat"}.');
/**
 * The arguments one call of a multi-execute runs with: `{}` for none (left out, or null as a
 * strict-mode model sends it), the object a JSON string holds (a strict-mode model's arguments). Any
 * other value (a string that is no JSON object, an array, a number) is handed on as it is, and the
 * call refuses it as `execute()` refuses such arguments (TOOL_ARGUMENTS_INVALID naming the tool and
 * what it got), after the checks of its slug and session, as `execute()` orders them.
 */
export function entryArguments(given: unknown): unknown {
  if (given === undefined || given === null) return {};
  if (typeof given !== 'string') return given;
  try {
    const value: unknown = JSON.parse(given);
    if (value && typeof value === 'object' && !Array.isArray(value)) return value;
  } catch {}
  return given;
}

/** The fields COMPOSIO_MULTI_EXECUTE_TOOL takes beside `tools`. */
const composioMultiExecuteFields = {
  thought: z.string().max(2_000).optional().describe('Why these calls, in one sentence.'),
  sync_response_to_workbench: z
    .boolean()
    .optional()
    .describe(
      'True when the result may be large or you will process it with code: it is saved as a workbench file and you get its path and a preview. A result too large to read inline is saved either way.',
    ),
  ...composioStep,
  ...composioContext,
};

const multiExecuteShape = (item: z.ZodType, names: MetaToolNames) =>
  z.object({
    tools: z
      .array(item)
      .min(1)
      .max(MAX_MULTI_EXECUTE)
      .describe(
        `Up to ${MAX_MULTI_EXECUTE} tool calls; they run in parallel and each succeeds or fails on its own.`,
      ),
    ...(names === 'composio' ? composioMultiExecuteFields : {}),
  });

/**
 * The validation of a multi-execute's input: its own fields and the number of calls, but not the
 * calls themselves. Each entry is checked on its own when it runs ({@link callOf}): a check here
 * (an entry that is not an object, a `tool_slug` that is not a string, a bad `account` or
 * `arguments`, a cap on their length) failed every call of the batch for one bad entry.
 */
function lenientValidate(names: MetaToolNames): (input: unknown) => ValidationResult {
  const schema = multiExecuteShape(z.unknown(), names);
  return (input) => {
    const result = schema.safeParse(input);
    if (result.success) return { success: true, value: result.data };
    return {
      success: false,
      issues: result.error.issues.map((issue) => ({
        path: issue.path.join('.') || '(root)',
        message: issue.message,
      })),
    };
  };
}

/** A multi-execute's calls as the model sent them: each is checked when it runs (see {@link callOf}). */
type Calls = readonly unknown[];

/** A TOOLMUX_MULTI_EXECUTE_TOOL result in the shape of COMPOSIO_MULTI_EXECUTE_TOOL's. */
export function composioMultiExecuteResult(result: unknown): unknown {
  const calls = result as Awaited<ReturnType<typeof runCalls>>;
  if (!calls || !Array.isArray(calls.results)) return renameDeep(result); // offloaded to the workbench files
  return {
    // numbered from 1, as the refusal of an entry names it (`Call 2 of tools …`) and search numbers its queries
    results: calls.results.map(({ tool_slug, successful, data, error, log_id }, index) => ({
      index: index + 1,
      tool_slug,
      response: { successful, data, error },
      ...(error ? { error } : {}),
      ...(log_id ? { log_id } : {}),
    })),
    total_count: calls.results.length,
    success_count: calls.successful_count,
    error_count: calls.failed_count,
  };
}

/** An offload notice with the Composio names in its hint. */
function renameDeep(value: unknown): unknown {
  if (typeof value === 'string') return renameMetaTools(value, 'composio');
  if (Array.isArray(value)) return value.map(renameDeep);
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([key, entry]) => [key, renameDeep(entry)]));
  return value;
}

const MULTI_EXECUTE_DESCRIPTION =
  'Run one or more tools, in parallel, with their arguments. Use tool slugs and argument names exactly as TOOLMUX_SEARCH_TOOLS or TOOLMUX_GET_TOOL_SCHEMAS gave them. Each call returns its own result or error.';

const multiExecute: MetaToolDefinition = {
  kind: 'MULTI_EXECUTE_TOOL',
  annotations: { readOnlyHint: false, destructiveHint: true, openWorldHint: true },
  // Each call runs under its own tool's timeout and answers by then (TOOL_TIMEOUT); the multi-execute
  // answers once they all have. A limit of its own (the 60 s default) aborted a call whose tool may
  // run longer (a crawl's 120 s) and lost every other call's result with it.
  timeoutMs: MAX_TIMER_MS,
  variants: {
    toolmux: {
      description: MULTI_EXECUTE_DESCRIPTION,
      inputSchema: multiExecuteShape(callItem(argumentsObject, 'toolmux'), 'toolmux'),
      strictVariant: multiExecuteShape(callItem(argumentsJson, 'toolmux'), 'toolmux'),
      validate: lenientValidate('toolmux'),
      run: (host, input: { tools: Calls }, options) => host.multiExecute(input.tools, options),
    },
    composio: {
      description: `${renameMetaTools(MULTI_EXECUTE_DESCRIPTION, 'composio')} Each entry of results has the call's index (its place in tools, from 1), tool_slug and response ({ successful, data, error }).`,
      inputSchema: multiExecuteShape(callItem(argumentsObject, 'composio'), 'composio'),
      strictVariant: multiExecuteShape(callItem(argumentsJson, 'composio'), 'composio'),
      validate: lenientValidate('composio'),
      run: async (host, input: { tools: Calls; sync_response_to_workbench?: boolean | null }, options) =>
        composioMultiExecuteResult(
          await host.multiExecute(input.tools, options, input.sync_response_to_workbench ? 'always' : 'auto'),
        ),
    },
  },
};

const workbenchCode = z
  .string()
  .min(1)
  .max(100_000)
  .describe('JavaScript: the body of an async function (await and return work).');

const workbench: MetaToolDefinition = {
  kind: 'WORKBENCH',
  annotations: { readOnlyHint: false, destructiveHint: true, openWorldHint: true },
  // The cell's own limit (workbench.timeoutMs, at most 10 minutes) ends it first.
  timeoutMs: 11 * 60_000,
  variants: {
    toolmux: {
      description: WORKBENCH_DESCRIPTION,
      inputSchema: z.object({
        code: workbenchCode,
        thought: z.string().max(2_000).optional().describe('What the code is for, in one sentence.'),
      }),
      run: (host, input: { code: string }, options) => host.workbench(input.code, options),
    },
    composio: {
      description: `${renameMetaTools(WORKBENCH_DESCRIPTION.replace('`code` is', '`code_to_execute` is'), 'composio')}\nThe code is JavaScript, not Python. The answer is { results, stdout, error }: results is what the code returned, stdout its console.log lines.`,
      inputSchema: z.object({
        code_to_execute: workbenchCode,
        thought: z.string().max(2_000).optional().describe('What the code is for, in one sentence.'),
        ...composioStep,
        ...composioContext,
      }),
      run: async (host, input: { code_to_execute: string }, options) => {
        const cell = (await host.workbench(input.code_to_execute, options)) as {
          result: unknown;
          logs: string[];
          error?: { code: string; message: string };
          notice?: string;
        };
        return {
          results: cell.result ?? null,
          stdout: cell.logs.join('\n'),
          stderr: '',
          ...(cell.error
            ? { error: `${cell.error.code}: ${renameMetaTools(cell.error.message, 'composio')}` }
            : {}),
          ...(cell.notice ? { notice: renameMetaTools(cell.notice, 'composio') } : {}),
        };
      },
    },
  },
};

const waitForConnectionsVariant: MetaToolVariant = {
  description:
    'Wait until the user has finished connecting apps (toolkits). Call it right after you gave the user a link from TOOLMUX_MANAGE_CONNECTIONS and told them to open it: it returns as soon as every toolkit listed is connected (or failed, or its link expired), or after timeout_seconds. For each toolkit you get status CONNECTED (go on with the task), PENDING (the user has not finished: call this again, or ask them), FAILED or EXPIRED (get a new link with TOOLMUX_MANAGE_CONNECTIONS, reinitiate: true) or NOT_STARTED (no link was made yet: call TOOLMUX_MANAGE_CONNECTIONS first), with a message saying what to do.',
  inputSchema: z.object({
    toolkits: z
      .array(slugText())
      .min(1)
      .max(20)
      .describe('Toolkit slugs the user is connecting, e.g. ["github"].'),
    timeout_seconds: z
      .number()
      .min(0)
      .max(120)
      .optional()
      .describe(
        'How long to wait at most, in seconds (0 to 120; default 60). 0 only looks at the status now.',
      ),
  }),
  run: (host, input: { toolkits: string[]; timeout_seconds?: number | null }, options) =>
    host.waitForConnections(input.toolkits, input.timeout_seconds ?? 60, options),
};

const waitForConnections: MetaToolDefinition = {
  kind: 'WAIT_FOR_CONNECTIONS',
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  // the wait's own limit (at most 120 s) ends it first
  timeoutMs: 130_000,
  variants: {
    toolmux: waitForConnectionsVariant,
    composio: {
      ...waitForConnectionsVariant,
      description: renameMetaTools(waitForConnectionsVariant.description, 'composio'),
      run: (host, input: { toolkits: string[]; timeout_seconds?: number | null }, options) =>
        waitForConnectionsVariant.run(
          host,
          { ...input, toolkits: input.toolkits.map((slug) => host.toolkitSlugIn(slug)) },
          options,
        ),
    },
  },
};

const DEFINITIONS = [
  searchTools,
  getToolSchemas,
  manageConnections,
  waitForConnections,
  multiExecute,
  workbench,
];

const BY_NAMES: Record<MetaToolNames, ReadonlyMap<string, MetaTool>> = {
  toolmux: new Map(
    DEFINITIONS.map((definition) => metaTool(definition, 'toolmux')).map((tool) => [tool.slug, tool]),
  ),
  composio: new Map(
    DEFINITIONS.map((definition) => metaTool(definition, 'composio')).map((tool) => [tool.slug, tool]),
  ),
};

/** Every meta-tool of a naming style, by slug. */
export function metaToolsOf(names: MetaToolNames = 'toolmux'): ReadonlyMap<string, MetaTool> {
  return BY_NAMES[names];
}

/** Every meta-tool with toolmux's names, by slug. */
export const META_TOOLS: ReadonlyMap<string, MetaTool> = BY_NAMES.toolmux;

/** A slug over {@link MAX_ID_LENGTH} characters as a result repeats it: its first 64 and `…`. */
function shownSlug(slug: string): string {
  return `${leadingText(slug, 64)}…`;
}

/** One call of a multi-execute, read from its entry: what it runs, or why it is refused before it runs. */
interface CallEntry {
  /** The entry's `tool_slug` (`''` when it has none that is text). */
  slug: string;
  args: unknown;
  account: string | undefined;
  refusal: ToolMuxError | undefined;
}

/**
 * Reads the call at `index` (from 0) of a multi-execute. Refused before it runs (each fails its own call
 * only; a check in the input schema failed every call of the batch): an entry that is not an object,
 * a `tool_slug` that is not text (TOOL_ARGUMENTS_INVALID), or empty or over {@link MAX_ID_LENGTH}
 * characters (no tool has one: TOOL_NOT_FOUND), a meta-tool's (in the words of the session's naming
 * style `names`), an `account` that is not text, or empty or over {@link MAX_ID_LENGTH} characters
 * (no account's id or alias is: INVALID_REQUEST).
 */
function callOf(entry: unknown, index: number, names: MetaToolNames): CallEntry {
  const slugs = SLUGS_BY_NAMES[names];
  // logged and handed to afterExecute with the entry's arguments, as far as it has any
  const args = isPlainObject(entry) ? entryArguments(entry.arguments) : {};
  const refused = (code: ToolMuxErrorCode, message: string, slug = ''): CallEntry => ({
    slug,
    args,
    account: undefined,
    refusal: new ToolMuxError({ code, message }),
  });
  // counted from 1, as a model counts the calls it wrote (and as the `index` of Composio's results)
  const place = `Call ${index + 1} of tools`;
  const form = `Each call is an object { "tool_slug": "<slug from ${slugs.SEARCH_TOOLS}>", "arguments": { … } }.`;
  if (!isPlainObject(entry)) {
    return refused('TOOL_ARGUMENTS_INVALID', `${place} is ${shownValue(entry)}, not a call. ${form}`);
  }
  const call = entry as { tool_slug?: unknown; arguments?: unknown; account?: unknown };
  const slug = call.tool_slug;
  if (typeof slug !== 'string') {
    return refused(
      'TOOL_ARGUMENTS_INVALID',
      `${place} has ${slug === undefined ? 'no tool_slug' : `tool_slug ${shownValue(slug)}, not text`}. ${form}`,
    );
  }
  if (slug === '' || slug.length > MAX_ID_LENGTH) {
    return refused(
      'TOOL_NOT_FOUND',
      `${slug === '' ? 'tool_slug is empty' : `tool_slug ${shownValue(slug)} is ${slug.length} characters long, over the limit of ${MAX_ID_LENGTH}`}: no tool has a slug ${slug === '' ? 'like that' : 'that long'}. Use the tool_slug exactly as ${slugs.SEARCH_TOOLS} gave it.`,
      slug,
    );
  }
  // Composio's names take slugs in any case (the session runs `tasks_list_tasks` as TASKS_LIST_TASKS):
  // so does this refusal, or `composio_search_tools` ran a meta-tool inside the multi-execute
  const asNamed = names === 'composio' ? slug.toUpperCase() : slug;
  const kind = metaToolKind(asNamed);
  if (kind) {
    return refused(
      'TOOL_NOT_IN_SESSION',
      asNamed === slugs[kind]
        ? `${slug} is a meta-tool: call it directly, not through ${slugs.MULTI_EXECUTE_TOOL}.`
        : `${slug} is not a tool of this session: its meta-tool of that kind is ${slugs[kind]}. Call it directly, not through ${slugs.MULTI_EXECUTE_TOOL}.`,
      slug,
    );
  }
  const { account } = call;
  const useDefault = 'or leave account out to use the default account';
  if (account !== undefined && account !== null && typeof account !== 'string') {
    return refused(
      'INVALID_REQUEST',
      `account ${shownValue(account)} is not text: use an alias or id from the accounts ${slugs.SEARCH_TOOLS} listed, ${useDefault}.`,
      slug,
    );
  }
  if (typeof account === 'string' && (account === '' || account.length > MAX_ID_LENGTH)) {
    return refused(
      'INVALID_REQUEST',
      `${account === '' ? 'account is empty' : `account ${shownValue(account)} is ${account.length} characters long, over the limit of ${MAX_ID_LENGTH}`}: no account has such an id or alias. Use an alias or id from the accounts ${slugs.SEARCH_TOOLS} listed, ${useDefault}.`,
      slug,
    );
  }
  return { slug, args, account: account ?? undefined, refusal: undefined };
}

/**
 * TOOLMUX_MULTI_EXECUTE_TOOL's work: every call in parallel through `execute`, each with its own
 * result, and the counts. A call refused before it runs (see {@link callOf}) goes to `reject`,
 * which logs it as a call that did not run (under the multi-execute's entry, as the calls `execute`
 * refuses: an unknown slug, an account the session may not use); `eachResult` (`tools()`'s
 * `afterExecute`) sees every call's result, refused ones too.
 */
export async function runCalls(
  calls: Calls,
  options: MetaToolOptions,
  execute: (
    slug: string,
    args: unknown,
    options: ExecuteOptions & { parentId?: string },
  ) => Promise<ToolResult>,
  names: MetaToolNames,
  reject: (
    slug: string,
    args: unknown,
    error: ToolMuxError,
    options: { callId?: string; parentId?: string },
  ) => Promise<ToolResult>,
): Promise<{
  results: Array<{
    tool_slug: string;
    successful: boolean;
    data: unknown;
    error: string | null;
    log_id?: string;
  }>;
  successful_count: number;
  failed_count: number;
}> {
  const { eachResult } = options;
  // a hook that throws fails the multi-execute once every call has answered (none is left running)
  let hookFailed: { error: unknown } | undefined;
  const results = await Promise.all(
    calls.map(async (entry, index) => {
      const callId = options.callId ? storableCallId(options.callId, `#${index}`) : undefined;
      const { slug, args, account, refusal } = callOf(entry, index, names);
      const result = refusal
        ? await reject(slug, args, refusal, { callId, parentId: options.logId })
        : await execute(slug, args, {
            signal: options.signal,
            callId,
            ...(account !== undefined ? { account } : {}),
            parentId: options.logId,
          });
      let shown = result;
      if (eachResult) {
        try {
          shown = await eachResult(slug, result);
        } catch (error) {
          hookFailed ??= { error };
        }
      }
      return {
        // a slug over the cap is shown cut short: the whole of it would come back, however long
        tool_slug: slug.length > MAX_ID_LENGTH ? shownSlug(slug) : slug,
        successful: shown.successful,
        data: shown.data,
        error: shown.error,
        ...(result.logId ? { log_id: result.logId } : {}),
      };
    }),
  );
  if (hookFailed) throw hookFailed.error;
  const failed = results.filter((result) => !result.successful).length;
  return { results, successful_count: results.length - failed, failed_count: failed };
}
