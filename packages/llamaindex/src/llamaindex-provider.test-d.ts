import type { BaseTool } from '@llamaindex/core/llms';
import type { OpenAI } from '@llamaindex/openai';
import type { agent } from '@llamaindex/workflow';
import { ToolMux } from '@toolmux/core';
import { expectTypeOf, test } from 'vitest';
import { type answerUnknownToolCalls, LlamaIndexProvider, type LlamaIndexTool } from './index.js';

test('session.tools() is an array of LlamaIndex FunctionTools', async () => {
  const mux = new ToolMux({ provider: new LlamaIndexProvider(), store: ':memory:' });
  const session = await mux.create('user_1');
  expectTypeOf(await session.tools()).toEqualTypeOf<LlamaIndexTool[]>();
  expectTypeOf(mux).toEqualTypeOf<ToolMux<LlamaIndexProvider>>();
  expectTypeOf<LlamaIndexTool>().toExtend<BaseTool>();
});

test('the tools are accepted where agent() takes tools, bound or not', () => {
  type AgentTools = NonNullable<Parameters<typeof agent>[0]['tools']>;
  expectTypeOf<LlamaIndexTool[]>().toExtend<AgentTools>();
  expectTypeOf<ReturnType<LlamaIndexTool['bind']>>().toEqualTypeOf<LlamaIndexTool>();
  expectTypeOf<Parameters<LlamaIndexTool['bind']>[0]>().toEqualTypeOf<{ signal?: AbortSignal }>();
});

test('answerUnknownToolCalls() takes a LlamaIndex LLM such as OpenAI and gives one agent() takes', () => {
  type AgentLLM = Parameters<typeof agent>[0]['llm'];
  expectTypeOf<OpenAI>().toExtend<Parameters<typeof answerUnknownToolCalls>[0]>();
  expectTypeOf<ReturnType<typeof answerUnknownToolCalls>>().toExtend<AgentLLM>();
});
