/**
 * toolmux with the Claude Agent SDK: a session's tools handed to `query()` as an in-process MCP server
 * plus the `allowedTools` that let Claude Code run them. Claude Code's own agent loop searches for a
 * tool (TOOLMUX_SEARCH_TOOLS), runs the one it found (TOOLMUX_MULTI_EXECUTE_TOOL), and answers; every
 * call runs through the session and lands in its execution log with Claude's tool call id.
 *
 * Runs offline: the SDK's real Claude Code binary talks to a scripted local server that answers in
 * the Messages API's streamed wire format, with its configuration in a temporary folder. With
 * ANTHROPIC_API_KEY set it asks a real Claude model instead (ANTHROPIC_MODEL, default Claude Code's).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Options, query } from '@anthropic-ai/claude-agent-sdk';
import { ClaudeAgentSdkProvider } from '@toolmux/claude-agent-sdk';
import { defineTool, defineToolkit, ToolMux } from '@toolmux/core';
import { type ScriptedRequest, startScriptedModelServer } from '@toolmux/core/test';
import { z } from 'zod';

const orders = new Map([['A-1001', { status: 'shipped', carrier: 'DHL', eta: '2026-03-14' }]]);
const acme = defineToolkit({
  slug: 'acme',
  name: 'Acme Shop',
  description: 'Orders of the Acme online shop.',
  tools: [
    defineTool({
      slug: 'ACME_GET_ORDER',
      description: 'Get the status, carrier and expected delivery date of an order by its id.',
      inputSchema: z.object({ orderId: z.string().describe('The order id, like A-1001') }),
      annotations: { readOnlyHint: true },
      execute: async ({ orderId }) => orders.get(orderId) ?? { status: 'unknown' },
    }),
  ],
});

/** The text of a tool_result block Claude Code sent back (a string, or text blocks). */
function textOf(content: string | Array<{ type: string; text?: string }>): string {
  return typeof content === 'string' ? content : content.map((part) => part.text ?? '').join('');
}

/**
 * Stands in for Claude, as a stream of Messages API events (Claude Code always streams): searches for
 * a tool, runs the one it found (the slug read from the search result Claude Code sent back) through
 * TOOLMUX_MULTI_EXECUTE_TOOL, then answers with what it returned.
 */
function scriptedTurn(request: ScriptedRequest) {
  const last = request.body.messages.at(-1);
  const result = last.content.find((block: { type: string }) => block.type === 'tool_result');
  let block: Record<string, unknown>;
  if (!result) {
    const input = { queries: [{ use_case: 'check the status of an order' }] };
    block = { type: 'tool_use', id: 'toolu_search', name: 'mcp__toolmux__TOOLMUX_SEARCH_TOOLS', input };
  } else if (result.tool_use_id === 'toolu_search') {
    const slug = JSON.parse(textOf(result.content)).results[0].tools[0].tool_slug;
    const input = { tools: [{ tool_slug: slug, arguments: { orderId: 'A-1001' } }] };
    block = { type: 'tool_use', id: 'toolu_multi', name: 'mcp__toolmux__TOOLMUX_MULTI_EXECUTE_TOOL', input };
  } else {
    const order = JSON.parse(textOf(result.content)).results[0].data;
    block = {
      type: 'text',
      text: `Order A-1001 is ${order.status} with ${order.carrier}, due ${order.eta}.`,
    };
  }
  const toolUse = block.type === 'tool_use';
  const message = {
    id: `msg_${request.body.messages.length}`,
    type: 'message',
    role: 'assistant',
    model: request.body.model,
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: { input_tokens: 0, output_tokens: 0 },
  };
  const event = (type: string, data: Record<string, unknown> = {}) => ({
    event: type,
    data: { type, ...data },
  });
  return {
    namedEvents: [
      event('message_start', { message }),
      event('content_block_start', {
        index: 0,
        content_block: toolUse ? { ...block, input: {} } : { type: 'text', text: '' },
      }),
      event('content_block_delta', {
        index: 0,
        delta: toolUse
          ? { type: 'input_json_delta', partial_json: JSON.stringify(block.input) }
          : { type: 'text_delta', text: block.text },
      }),
      event('content_block_stop', { index: 0 }),
      event('message_delta', {
        delta: { stop_reason: toolUse ? 'tool_use' : 'end_turn', stop_sequence: null },
        usage: { output_tokens: 0 },
      }),
      event('message_stop'),
    ],
  };
}

const apiKey = process.env.ANTHROPIC_API_KEY;
const scripted = apiKey ? undefined : await startScriptedModelServer(Array(3).fill(scriptedTurn));
// offline, Claude Code gets a fresh configuration folder and sends nothing but model requests
const home = scripted ? await mkdtemp(join(tmpdir(), 'toolmux-claude-example-')) : undefined;
console.log(apiKey ? 'model: Anthropic (Claude Code)' : 'model: scripted local server (offline)');

const mux = new ToolMux({ provider: new ClaudeAgentSdkProvider(), toolkits: [acme], store: ':memory:' });
const session = await mux.create('user_123', { toolkits: ['acme'] });
const tools = await session.tools(); // { mcpServers, allowedTools }
console.log('tools handed to Claude Code:', tools.allowedTools.join(', '));

const options: Options = {
  ...tools,
  tools: [], // Claude Code's own tools (Bash, Edit, Read…) stay away from the model; MCP tools stay
  settingSources: [],
  systemPrompt:
    'Find the tools you need with TOOLMUX_SEARCH_TOOLS, then run them with TOOLMUX_MULTI_EXECUTE_TOOL.',
  ...(process.env.ANTHROPIC_MODEL ? { model: process.env.ANTHROPIC_MODEL } : {}),
  ...(scripted && home
    ? {
        cwd: home,
        env: {
          PATH: process.env.PATH,
          HOME: home,
          CLAUDE_CONFIG_DIR: home,
          ANTHROPIC_BASE_URL: scripted.url,
          ANTHROPIC_API_KEY: 'offline',
          CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
        },
      }
    : {}),
};

try {
  for await (const message of query({ prompt: 'Where is my order A-1001?', options })) {
    if (message.type === 'assistant') {
      for (const block of message.message.content) {
        if (block.type === 'tool_use') console.log(`→ ${block.name} ${JSON.stringify(block.input)}`);
      }
    } else if (message.type === 'user' && Array.isArray(message.message.content)) {
      for (const block of message.message.content) {
        if (typeof block === 'object' && block.type === 'tool_result') {
          const text = textOf((block.content ?? '') as string | Array<{ type: string; text?: string }>);
          console.log(`← ${block.tool_use_id}${block.is_error ? ' (error)' : ''} ${text.slice(0, 80)}`);
        }
      }
    } else if (message.type === 'result') {
      console.log(
        message.subtype === 'success'
          ? `answer after ${message.num_turns} turns: ${message.result}`
          : `query() ended: ${message.subtype}`,
      );
    }
  }

  for (const log of (await session.logs()).items.reverse()) {
    console.log(`log ${log.toolSlug} ${log.status} (call ${log.callId})`);
  }
} finally {
  await mux.close();
  await scripted?.close();
  if (home) await rm(home, { recursive: true, force: true });
}
