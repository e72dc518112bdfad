import type { McpSdkServerConfigWithInstance } from '@anthropic-ai/claude-agent-sdk';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  CallToolRequestSchema,
  type CallToolResult,
  ListToolsRequestSchema,
  type Tool as McpTool,
} from '@modelcontextprotocol/sdk/types.js';
import {
  anthropicArgumentsOf,
  type ExecuteFn,
  formatToolResultForModel,
  type Logger,
  type Provider,
  ToolMuxError,
  type ToolSpec,
  uniqueNameWithin,
  withAnthropicKeys,
} from '@toolmux/core';
import {
  checkedProviderOptions,
  mcpOutputSchemaOf,
  mcpToolResultOf,
  type OutputValidator,
  PROVIDER_OPTION_KINDS,
  WorkSlice,
} from '@toolmux/core/internal';

/** Options of {@link ClaudeAgentSdkProvider}. */
export interface ClaudeAgentSdkProviderOptions {
  /**
   * The name of the MCP server the tools are under, `toolmux` by default: letters, digits, `_` and `-`,
   * at most 32 characters. Claude Code shows each tool to the model as `mcp__<serverName>__<slug>`, and
   * its permission rules use that name; a slug that would make it longer than the 64 characters the
   * Messages API takes is listed shortened (its start and a hash), and its calls still run it by slug.
   */
  serverName?: string;
  /**
   * Where warnings go: a tool whose output schema cannot be compiled (it is listed without one), and a
   * result that does not match its tool's output schema (the model reads it as text, marked as an
   * error). @default console
   */
  logger?: Pick<Logger, 'warn'>;
}

/**
 * What `session.tools()` returns with {@link ClaudeAgentSdkProvider}: the two options of
 * `query({ prompt, options })` that give the agent the session's tools. Spread it into the options, or
 * pass its fields.
 */
export interface ClaudeAgentTools {
  /**
   * `options.mcpServers`: one in-process MCP server (`type: 'sdk'`) under the provider's server name.
   * Each read makes a new server, so every `query()` gets its own (an MCP server takes one connection).
   */
  readonly mcpServers: Record<string, McpSdkServerConfigWithInstance>;
  /**
   * `options.allowedTools`: the name of every tool (`mcp__<serverName>__<slug>`, with a shortened slug
   * where the whole would pass 64 characters), so that Claude Code runs them without asking for permission.
   */
  readonly allowedTools: string[];
}

const SERVER_NAME = /^[a-zA-Z0-9_-]+$/;

/** The longest tool name the Messages API takes (`tools[].name`: `^[a-zA-Z0-9_-]{1,64}$`). */
const MAX_WIRE_NAME_LENGTH = 64;
/** The longest server name: it leaves 25 characters of each tool name for the tool. */
const MAX_SERVER_NAME_LENGTH = 32;

/**
 * Gives session tools to the Claude Agent SDK's `query()`: an in-process MCP server whose tools run
 * through the session (validation, account choice, execution log with Claude's tool call id), plus
 * the `allowedTools` that let Claude Code run them without a permission prompt.
 *
 * @example
 * const mux = new ToolMux({ provider: new ClaudeAgentSdkProvider() });
 * const session = await mux.create('user_1');
 * for await (const message of query({ prompt: 'Star the toolmux repo', options: { ...(await session.tools()) } })) {}
 */
/** The options of {@link ClaudeAgentSdkProvider} and what each takes (serverName's form is checked after). */
const CLAUDE_PROVIDER_OPTION_KINDS = {
  serverName: { takes: 'a string', test: (value: unknown) => typeof value === 'string' },
  logger: PROVIDER_OPTION_KINDS.logger,
};

export class ClaudeAgentSdkProvider implements Provider<ClaudeAgentTools> {
  readonly name = 'claude-agent-sdk';
  readonly serverName: string;
  readonly #logger: Pick<Logger, 'warn'>;

  constructor(options?: ClaudeAgentSdkProviderOptions) {
    const { serverName = 'toolmux', logger = console } = checkedProviderOptions(
      options,
      'ClaudeAgentSdkProvider',
      CLAUDE_PROVIDER_OPTION_KINDS,
    );
    if (!SERVER_NAME.test(serverName))
      throw new ToolMuxError({
        code: 'CONFIG_INVALID',
        message: `ClaudeAgentSdkProvider: serverName ${JSON.stringify(serverName)} is not a valid MCP server name; use letters, digits, "_" and "-" only (Claude Code names tools mcp__<serverName>__<tool>).`,
      });
    if (serverName.length > MAX_SERVER_NAME_LENGTH)
      throw new ToolMuxError({
        code: 'CONFIG_INVALID',
        message: `ClaudeAgentSdkProvider: serverName ${JSON.stringify(serverName)} has ${serverName.length} characters; use at most ${MAX_SERVER_NAME_LENGTH} (Claude Code puts it in every tool name, mcp__<serverName>__<tool>, and the Messages API takes tool names of at most ${MAX_WIRE_NAME_LENGTH} characters).`,
      });
    this.serverName = serverName;
    this.#logger = logger;
  }

  wrapTools(tools: readonly ToolSpec[], execute: ExecuteFn): ClaudeAgentTools {
    const serverName = this.serverName;
    const logger = this.#logger;
    const names = mcpToolNamesOf(tools, MAX_WIRE_NAME_LENGTH - `mcp____${serverName}`.length);
    const listed = new Map<string, ListedTool>();
    for (const spec of tools) {
      const tool = mcpToolOf(spec, names.get(spec.slug)!);
      listed.set(tool.name, { tool, slug: spec.slug, spec, validator: undefined });
    }
    let outputs: Promise<void> | undefined;
    // the output schemas are compiled at the server's first request, not here (this is synchronous):
    // a large one in the validation thread, the others a slice at a time
    const withOutputSchemas = () => {
      if (outputs) return outputs;
      const compiling = compileOutputSchemas(listed, logger);
      outputs = compiling;
      // one that failed (the validation thread stopped) is tried again at the next request
      compiling.catch(() => {
        if (outputs === compiling) outputs = undefined;
      });
      return compiling;
    };
    return {
      get mcpServers() {
        return { [serverName]: sdkServerOf(serverName, listed, withOutputSchemas, execute, logger) };
      },
      allowedTools: [...listed.keys()].map((name) => `mcp__${serverName}__${name}`),
    };
  }
}

/** A tool as the in-process MCP server lists it, the slug it runs and its output validator. */
interface ListedTool {
  tool: McpTool;
  slug: string;
  spec: ToolSpec;
  /** Set with the tool's `outputSchema` by {@link compileOutputSchemas}. */
  validator: OutputValidator | undefined;
}

/**
 * Gives each listed tool with an object output schema that compiles its `outputSchema` and its
 * validator (see `mcpOutputSchemaOf`); a tool whose schema cannot be compiled is listed without one.
 */
async function compileOutputSchemas(
  listed: ReadonlyMap<string, ListedTool>,
  logger: Pick<Logger, 'warn'>,
): Promise<void> {
  const slice = new WorkSlice();
  for (const entry of listed.values()) {
    const output = await mcpOutputSchemaOf(entry.spec, (reason) =>
      logger.warn(
        `toolmux: ${entry.slug} is listed to the Claude Agent SDK without its output schema: ${reason}.`,
      ),
    );
    if (output) {
      entry.tool.outputSchema = output.outputSchema as McpTool['outputSchema'];
      entry.validator = output.validator;
    }
    await slice.breathe();
  }
}

/**
 * The MCP name of each tool: its slug, or, where `mcp__<serverName>__<slug>` would pass the 64 characters
 * the Messages API takes (Claude Code sends the whole name as it is, and the API refuses the request),
 * the slug's start and a hash of the whole slug, within `budget` characters ({@link uniqueNameWithin}, as
 * generated slugs are shortened): a shortened name depends on its slug only, and one that meets another
 * tool's name is made of `<slug>_2` (`_3`…) instead.
 */
function mcpToolNamesOf(tools: readonly ToolSpec[], budget: number): Map<string, string> {
  const names = new Map<string, string>();
  const fitting = tools.filter(({ slug }) => slug.length <= budget);
  const taken = new Set(fitting.map(({ slug }) => slug));
  for (const { slug } of fitting) names.set(slug, slug);
  for (const { slug } of tools) {
    if (!names.has(slug)) names.set(slug, uniqueNameWithin(slug, budget, taken));
  }
  return names;
}

/**
 * What `tools/list` shows for one tool: the session's JSON Schema as it is (the SDK's own `tool()`
 * takes Zod shapes, which would mean converting every schema and validating twice), loaded up front
 * rather than deferred behind Claude Code's tool search. A tool listed under a shortened name says in
 * its description which toolmux slug it runs, so that the model (and whoever reads the transcript)
 * can match it to the slugs of search results and of the execution log. Property keys the Messages API
 * refuses (`filter[id]`, `first name`, more than 64 characters; Claude Code sends the schema as it is,
 * and the API refuses every request of the session for one) are listed renamed, each renamed
 * property's description naming the tool's own key; the server reads them back before the call runs.
 */
function mcpToolOf(spec: ToolSpec, name: string): McpTool {
  const tool: McpTool = {
    name,
    description:
      name === spec.slug
        ? spec.description
        : `${spec.description}\n\n(This is the toolmux tool ${spec.slug}, listed under a shorter name to fit the 64 characters of a tool name.)`,
    inputSchema: withAnthropicKeys(spec, spec.inputSchema) as McpTool['inputSchema'],
    _meta: { 'anthropic/alwaysLoad': true },
  };
  if (Object.keys(spec.annotations).length > 0) tool.annotations = { ...spec.annotations };
  return tool;
}

/**
 * An MCP server, connected in-process by the SDK, whose tool calls run through `execute` under the
 * tool's slug (a shortened MCP name maps back to it): a name the session does not have is answered by
 * the session as any provider's call is (TOOL_NOT_FOUND, with the names it may have meant). Results
 * are what toolmux's MCP endpoint answers: the text the model reads, plus `structuredContent` for a
 * tool with an output schema when the result matches it, else the text marked as an error.
 */
function sdkServerOf(
  name: string,
  listed: ReadonlyMap<string, ListedTool>,
  withOutputSchemas: () => Promise<void>,
  execute: ExecuteFn,
  logger: Pick<Logger, 'warn'>,
): McpSdkServerConfigWithInstance {
  const instance = new McpServer({ name, version: '1.0.0' }, { capabilities: { tools: {} } });
  const tools = [...listed.values()].map(({ tool }) => tool);
  instance.server.setRequestHandler(ListToolsRequestSchema, async () => {
    await withOutputSchemas();
    return { tools };
  });
  instance.server.setRequestHandler(
    CallToolRequestSchema,
    async (request, extra): Promise<CallToolResult> => {
      await withOutputSchemas();
      const known = listed.get(request.params.name);
      const slug = known?.slug ?? request.params.name;
      const toolUseId = request.params._meta?.['claudecode/toolUseId'];
      const args = request.params.arguments ?? {};
      const result = await execute(slug, known ? anthropicArgumentsOf(known.spec, args) : args, {
        signal: extra.signal,
        callId: typeof toolUseId === 'string' && toolUseId ? toolUseId : undefined,
      });
      return mcpToolResultOf(result, formatToolResultForModel(result), known?.validator, slug, (problem) =>
        logger.warn(
          `toolmux: ${slug} returned a result that does not match its output schema (${problem}); the model got it as text, marked as an error.`,
        ),
      );
    },
  );
  return { type: 'sdk', name, instance };
}
