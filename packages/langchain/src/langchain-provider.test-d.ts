import type { BindToolsInput } from '@langchain/core/language_models/chat_models';
import { fakeModel } from '@langchain/core/testing';
import type { StructuredTool } from '@langchain/core/tools';
import { createReactAgent } from '@langchain/langgraph/prebuilt';
import { ToolMux } from '@toolmux/core';
import { type CreateAgentParams, createAgent } from 'langchain';
import { expectTypeOf, test } from 'vitest';
import { LangChainProvider } from './index.js';

test('session.tools() is typed as the collection LangChainProvider returns', async () => {
  const mux = new ToolMux({ provider: new LangChainProvider({ strict: true }), store: ':memory:' });
  expectTypeOf(mux).toEqualTypeOf<ToolMux<LangChainProvider>>();
  const session = await mux.create('user_1');
  const tools = await session.tools();

  expectTypeOf(tools).toEqualTypeOf<StructuredTool[]>();
  expectTypeOf(tools).toExtend<NonNullable<CreateAgentParams['tools']>>();
  expectTypeOf(tools).toExtend<BindToolsInput[]>();
  // and the calls themselves type-check
  createAgent({ model: fakeModel(), tools });
  createReactAgent({ llm: fakeModel(), tools });
  fakeModel().bindTools(tools);
});
