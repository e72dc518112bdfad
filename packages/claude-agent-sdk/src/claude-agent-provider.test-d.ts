import { type Options, query } from '@anthropic-ai/claude-agent-sdk';
import { type SessionOf, ToolMux } from '@toolmux/core';
import { expectTypeOf, test } from 'vitest';
import { ClaudeAgentSdkProvider, type ClaudeAgentTools } from './index.js';

test('session.tools() is the mcpServers and allowedTools options of query()', async () => {
  const mux = new ToolMux({ provider: new ClaudeAgentSdkProvider(), store: ':memory:' });
  expectTypeOf(mux).toEqualTypeOf<ToolMux<ClaudeAgentSdkProvider>>();
  const session = await mux.create('user_1');
  expectTypeOf(session).toEqualTypeOf<SessionOf<ClaudeAgentSdkProvider>>();
  const tools = await session.tools();
  expectTypeOf(tools).toEqualTypeOf<ClaudeAgentTools>();
  expectTypeOf(tools.mcpServers).toExtend<NonNullable<Options['mcpServers']>>();
  expectTypeOf(tools.allowedTools).toExtend<NonNullable<Options['allowedTools']>>();
  expectTypeOf(tools).toExtend<Options>();
  query({ prompt: 'hi', options: { ...tools, settingSources: [] } });
  // the provider runs no tool calls of its own: Claude Code calls the tools through MCP
  expectTypeOf(session.handleToolCalls).parameter(0).toBeNever();
});
