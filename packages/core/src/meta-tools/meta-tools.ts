import { z } from 'zod';
import { defineTool } from '../catalog/define.js';
import type { JSONSchema, Tool, Toolkit, ValidationResult } from '../catalog/types.js';
import type { ToolResult } from '../execution/result.js';
import type { ExecuteOptions } from '../provider.js';
import { toStrictSchema } from '../schema/strict.js';
import { WORKBENCH_DESCRIPTION } from '../workbench/config.js';

/** The slugs of the meta-tools. */
export const MetaToolSlug = {
  SEARCH_TOOLS: 'TOOLMUX_SEARCH_TOOLS',
  GET_TOOL_SCHEMAS: 'TOOLMUX_GET_TOOL_SCHEMAS',
  MANAGE_CONNECTIONS: 'TOOLMUX_MANAGE_CONNECTIONS',
  MULTI_EXECUTE_TOOL: 'TOOLMUX_MULTI_EXECUTE_TOOL',
  WORKBENCH: 'TOOLMUX_WORKBENCH',
} as const;
export type MetaToolSlug = (typeof MetaToolSlug)[keyof typeof MetaToolSlug];

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
  logo: undefined,
  noAuth: true,
});

/** What a meta-tool needs from the session that runs it. */
export interface MetaToolHost {
  searchTools(queries: Array<{ use_case: string; known_fields?: string | null }>): Promise<unknown>;
  getToolSchemas(slugs: string[]): unknown;
  manageConnections(toolkits: string[], reinitiate: boolean): Promise<unknown>;
  multiExecute(
    calls: Array<{ tool_slug: string; arguments: Record<string, unknown>; account?: string | null }>,
    options: MetaToolOptions,
  ): Promise<unknown>;
  workbench(code: string, options: MetaToolOptions): Promise<unknown>;
}

/** What a meta-tool's run receives besides its input: the call's options and its log entry id. */
export interface MetaToolOptions extends ExecuteOptions {
  logId?: string;
}

export interface MetaTool extends Tool {
  /** A schema written for OpenAI strict mode (see ToolSpec.strictInputSchema). */
  readonly strictInputSchema: JSONSchema;
  run(host: MetaToolHost, input: any, options: MetaToolOptions): Promise<unknown> | unknown;
}

function metaTool(options: {
  slug: MetaToolSlug;
  description: string;
  inputSchema: z.ZodObject;
  /** The schema to show in strict mode when the default rewrite would not be strict-compatible. */
  strictVariant?: z.ZodObject;
  /** Validation that also accepts what the strict variant sends. */
  validate?: (input: unknown) => ValidationResult;
  annotations: Tool['annotations'];
  timeoutMs?: number;
  run: MetaTool['run'];
}): MetaTool {
  const tool = defineTool({
    slug: options.slug,
    description: options.description,
    inputSchema: options.inputSchema,
    annotations: options.annotations,
    timeoutMs: options.timeoutMs,
    toolkit: 'toolmux',
    execute: () => {
      throw new Error(`${options.slug} runs only inside a session.`);
    },
  });
  const strictSource = options.strictVariant
    ? defineTool({
        slug: options.slug,
        description: options.description,
        inputSchema: options.strictVariant,
        execute: () => null,
      }).inputSchema
    : tool.inputSchema;
  const strict = toStrictSchema(strictSource);
  if (!strict.ok) throw new Error(`meta-tool ${options.slug} is not strict-compatible: ${strict.reason}`);
  return Object.freeze({
    ...tool,
    validate: options.validate ?? tool.validate,
    strictInputSchema: strict.schema,
    run: options.run,
  });
}

const searchTools = metaTool({
  slug: MetaToolSlug.SEARCH_TOOLS,
  description:
    'Find the tools that can do a task. Describe each task in plain words (one query per distinct task); you get the best matching tools with their input schemas and whether their app is connected. Call this before using any tool you have not seen yet, then run the tools with TOOLMUX_MULTI_EXECUTE_TOOL.',
  inputSchema: z.object({
    queries: z
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
      .describe('One entry per distinct task.'),
  }),
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  run: (host, input: { queries: Array<{ use_case: string; known_fields?: string | null }> }) =>
    host.searchTools(input.queries),
});

const getToolSchemas = metaTool({
  slug: MetaToolSlug.GET_TOOL_SCHEMAS,
  description:
    'Get the complete input and output schemas of tools by slug, when search results did not show enough detail to call them correctly.',
  inputSchema: z.object({
    tool_slugs: z
      .array(z.string().min(1))
      .min(1)
      .max(50)
      .describe('Tool slugs from TOOLMUX_SEARCH_TOOLS results.'),
  }),
  annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  run: (host, input: { tool_slugs: string[] }) => host.getToolSchemas(input.tool_slugs),
});

const manageConnections = metaTool({
  slug: MetaToolSlug.MANAGE_CONNECTIONS,
  description:
    'Check whether the user has connected the apps (toolkits) a task needs. For each toolkit you get its connection status, and for one that is not connected, what the user must do to connect it. Use it when a search result says a toolkit is not connected or a tool fails because no account is connected.',
  inputSchema: z.object({
    toolkits: z.array(z.string().min(1)).min(1).max(20).describe('Toolkit slugs, e.g. ["github", "gmail"].'),
    reinitiate: z
      .boolean()
      .optional()
      .describe('Start a new connection even when one exists (to reconnect an expired account).'),
  }),
  annotations: { readOnlyHint: false, idempotentHint: true, openWorldHint: false },
  run: (host, input: { toolkits: string[]; reinitiate?: boolean | null }) =>
    host.manageConnections(input.toolkits, input.reinitiate === true),
});

const callItem = (argumentsSchema: z.ZodType) =>
  z.object({
    tool_slug: z.string().min(1).describe('The slug of a tool found with TOOLMUX_SEARCH_TOOLS.'),
    arguments: argumentsSchema,
    account: z
      .string()
      .min(1)
      .max(256)
      .optional()
      .describe(
        "Which of the user's accounts of the tool's app to use: an alias or id from the accounts TOOLMUX_SEARCH_TOOLS listed. Leave it out to use the default account.",
      ),
  });
const multiExecuteShape = (argumentsSchema: z.ZodType) =>
  z.object({
    tools: z
      .array(callItem(argumentsSchema))
      .min(1)
      .max(MAX_MULTI_EXECUTE)
      .describe(
        `Up to ${MAX_MULTI_EXECUTE} tool calls; they run in parallel and each succeeds or fails on its own.`,
      ),
  });
const argumentsObject = z
  .record(z.string(), z.unknown())
  .describe("The tool's arguments, matching its input schema.");
const argumentsJson = z
  .string()
  .describe('The tool\'s arguments as a JSON object, matching its input schema, e.g. {"owner":"octocat"}.');
const lenientMultiExecute = multiExecuteShape(
  z.union([
    argumentsObject,
    argumentsJson.transform((text, context) => {
      try {
        const value: unknown = JSON.parse(text);
        if (value && typeof value === 'object' && !Array.isArray(value))
          return value as Record<string, unknown>;
      } catch {}
      context.addIssue({ code: 'custom', message: 'must be a JSON object (or a JSON string of one)' });
      return z.NEVER;
    }),
  ]),
);

const multiExecute = metaTool({
  slug: MetaToolSlug.MULTI_EXECUTE_TOOL,
  description:
    'Run one or more tools, in parallel, with their arguments. Use tool slugs and argument names exactly as TOOLMUX_SEARCH_TOOLS or TOOLMUX_GET_TOOL_SCHEMAS gave them. Each call returns its own result or error.',
  inputSchema: multiExecuteShape(argumentsObject),
  strictVariant: multiExecuteShape(argumentsJson),
  validate: (input) => {
    const result = lenientMultiExecute.safeParse(input);
    if (result.success) return { success: true, value: result.data };
    return {
      success: false,
      issues: result.error.issues.map((issue) => ({
        path: issue.path.join('.') || '(root)',
        message: issue.message,
      })),
    };
  },
  annotations: { readOnlyHint: false, destructiveHint: true, openWorldHint: true },
  run: (
    host,
    input: {
      tools: Array<{ tool_slug: string; arguments: Record<string, unknown>; account?: string | null }>;
    },
    options,
  ) => host.multiExecute(input.tools, options),
});

const workbench = metaTool({
  slug: MetaToolSlug.WORKBENCH,
  description: WORKBENCH_DESCRIPTION,
  inputSchema: z.object({
    code: z
      .string()
      .min(1)
      .max(100_000)
      .describe('JavaScript: the body of an async function (await and return work).'),
    thought: z.string().max(2_000).optional().describe('What the code is for, in one sentence.'),
  }),
  annotations: { readOnlyHint: false, destructiveHint: true, openWorldHint: true },
  // The cell's own limit (workbench.timeoutMs, at most 10 minutes) ends it first.
  timeoutMs: 11 * 60_000,
  run: (host, input: { code: string }, options) => host.workbench(input.code, options),
});

/** Every meta-tool, by slug. */
export const META_TOOLS: ReadonlyMap<string, MetaTool> = new Map(
  [searchTools, getToolSchemas, manageConnections, multiExecute, workbench].map((tool) => [tool.slug, tool]),
);

/**
 * TOOLMUX_MULTI_EXECUTE_TOOL's work: every call in parallel through `execute`, each with its own
 * result (a meta-tool inside is refused), and the counts.
 */
export async function runCalls(
  calls: Array<{ tool_slug: string; arguments: Record<string, unknown>; account?: string | null }>,
  options: ExecuteOptions,
  execute: (slug: string, args: unknown, options: ExecuteOptions) => Promise<ToolResult>,
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
  const results = await Promise.all(
    calls.map(async (call, index) => {
      if (META_TOOLS.has(call.tool_slug)) {
        return {
          tool_slug: call.tool_slug,
          successful: false,
          data: null,
          error: `${call.tool_slug} is a meta-tool: call it directly, not through ${MetaToolSlug.MULTI_EXECUTE_TOOL}.`,
        };
      }
      const result = await execute(call.tool_slug, call.arguments, {
        signal: options.signal,
        callId: options.callId ? `${options.callId}#${index}` : undefined,
        ...(typeof call.account === 'string' ? { account: call.account } : {}),
      });
      return {
        tool_slug: call.tool_slug,
        successful: result.successful,
        data: result.data,
        error: result.error,
        log_id: result.logId,
      };
    }),
  );
  const failed = results.filter((result) => !result.successful).length;
  return { results, successful_count: results.length - failed, failed_count: failed };
}
