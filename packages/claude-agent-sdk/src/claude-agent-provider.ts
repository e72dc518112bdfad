import type { McpSdkServerConfigWithInstance } from '@anthropic-ai/claude-agent-sdk';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  CallToolRequestSchema,
  type CallToolResult,
  ListToolsRequestSchema,
  type Tool as McpTool,
} from '@modelcontextprotocol/sdk/types.js';
import {
  type ExecuteFn,
  formatToolResultForModel,
  type Provider,
  ToolMuxError,
  type ToolSpec,
} from '@toolmux/core';

/** Options of {@link ClaudeAgentSdkProvider}. */
export interface ClaudeAgentSdkProviderOptions {
  /**
   * The name of the MCP server the tools are under, `toolmux` by default. Claude Code shows each tool
   * to the model as `mcp__<serverName>__<slug>`, and its permission rules use that name.
   */
  serverName?: string;
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
   * `options.allowedTools`: the name of every tool (`mcp__<serverName>__<slug>`), so that Claude Code
   * runs them without asking for permission.
   */
  readonly allowedTools: string[];
}

const SERVER_NAME = /^[a-zA-Z0-9_-]+$/;

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
export class ClaudeAgentSdkProvider implements Provider<ClaudeAgentTools> {
  readonly name = 'claude-agent-sdk';
  readonly serverName: string;

  constructor({ serverName = 'toolmux' }: ClaudeAgentSdkProviderOptions = {}) {
    if (!SERVER_NAME.test(serverName))
      throw new ToolMuxError({
        code: 'CONFIG_INVALID',
        message: `ClaudeAgentSdkProvider: serverName ${JSON.stringify(serverName)} is not a valid MCP server name; use letters, digits, "_" and "-" only (Claude Code names tools mcp__<serverName>__<tool>).`,
      });
    this.serverName = serverName;
  }

  wrapTools(tools: readonly ToolSpec[], execute: ExecuteFn): ClaudeAgentTools {
    const serverName = this.serverName;
    const listed = tools.map(mcpToolOf);
    return {
      get mcpServers() {
        return { [serverName]: sdkServerOf(serverName, listed, execute) };
      },
      allowedTools: tools.map((spec) => `mcp__${serverName}__${spec.slug}`),
    };
  }
}

/**
 * What `tools/list` shows for one tool: the session's JSON Schema as it is (the SDK's own `tool()`
 * takes Zod shapes, which would mean converting every schema and validating twice), loaded up front
 * rather than deferred behind Claude Code's tool search.
 */
function mcpToolOf(spec: ToolSpec): McpTool {
  const tool: McpTool = {
    name: spec.slug,
    description: spec.description,
    inputSchema: spec.inputSchema as McpTool['inputSchema'],
    _meta: { 'anthropic/alwaysLoad': true },
  };
  if (Object.keys(spec.annotations).length > 0) tool.annotations = { ...spec.annotations };
  return tool;
}

/**
 * An MCP server, connected in-process by the SDK, whose tool calls run through `execute`: a name the
 * session does not have is answered by the session as any provider's call is (TOOL_NOT_FOUND, with
 * the names it may have meant).
 */
function sdkServerOf(name: string, tools: McpTool[], execute: ExecuteFn): McpSdkServerConfigWithInstance {
  const instance = new McpServer({ name, version: '1.0.0' }, { capabilities: { tools: {} } });
  instance.server.setRequestHandler(ListToolsRequestSchema, () => ({ tools }));
  instance.server.setRequestHandler(
    CallToolRequestSchema,
    async (request, extra): Promise<CallToolResult> => {
      const slug = request.params.name;
      const toolUseId = request.params._meta?.['claudecode/toolUseId'];
      const result = await execute(slug, request.params.arguments ?? {}, {
        signal: extra.signal,
        callId: typeof toolUseId === 'string' && toolUseId ? toolUseId : undefined,
      });
      const content: CallToolResult['content'] = [{ type: 'text', text: formatToolResultForModel(result) }];
      return result.successful ? { content } : { content, isError: true };
    },
  );
  return { type: 'sdk', name, instance };
}
