import { ToolMux } from '@toolmux/core';
import { generateText, type LanguageModel, streamText, ToolLoopAgent, type ToolSet, tool } from 'ai';
import { expectTypeOf, test } from 'vitest';
import { z } from 'zod';
import { VercelProvider, type VercelToolSet } from './index.js';

declare const model: LanguageModel;

test('session.tools() is an AI SDK ToolSet of dynamic tools', async () => {
  const mux = new ToolMux({ provider: new VercelProvider(), store: ':memory:' });
  const session = await mux.create('user_1');
  expectTypeOf(await session.tools()).toEqualTypeOf<VercelToolSet>();
  expectTypeOf(await session.tools()).toExtend<ToolSet>();
  expectTypeOf(mux).toEqualTypeOf<ToolMux<VercelProvider>>();
  expectTypeOf(new VercelProvider({ strict: true }).wrapTools).returns.toEqualTypeOf<VercelToolSet>();
});

test('the tools are accepted where the AI SDK takes tools', async () => {
  const tools = await (await new ToolMux({ provider: new VercelProvider() }).create('user_1')).tools();
  type GenerateTextTools = NonNullable<Parameters<typeof generateText>[0]['tools']>;
  expectTypeOf<VercelToolSet>().toExtend<GenerateTextTools>();
  streamText({ model, tools, prompt: 'hi' });
  new ToolLoopAgent({ model, tools });
});

test('tool calls and results are typed: unknown for toolmux tools, never any', async () => {
  const tools = await (await new ToolMux({ provider: new VercelProvider() }).create('user_1')).tools();
  const { toolCalls, toolResults } = await generateText({ model, tools, prompt: 'hi' });
  expectTypeOf(toolCalls[0]!.input).toBeUnknown();
  expectTypeOf(toolResults[0]!.output).toBeUnknown();

  // beside an application's own tool, whose types survive
  const weather = tool({
    description: 'The weather in a city',
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => ({ city, celsius: 21 }),
  });
  const mixed = await generateText({ model, tools: { ...tools, weather }, prompt: 'hi' });
  for (const call of mixed.toolCalls) {
    if (!call.dynamic && call.toolName === 'weather')
      expectTypeOf(call.input).toEqualTypeOf<{ city: string }>();
  }
  for (const result of mixed.toolResults) {
    if (!result.dynamic && result.toolName === 'weather')
      expectTypeOf(result.output).toEqualTypeOf<{ city: string; celsius: number }>();
  }
});
