import type { Agent } from '@mastra/core/agent';
import { ToolMux, type ToolResult } from '@toolmux/core';
import { expectTypeOf, test } from 'vitest';
import { MastraProvider, type MastraToolSet } from './index.js';

test('session.tools() is a record of Mastra tools', async () => {
  const mux = new ToolMux({ provider: new MastraProvider(), store: ':memory:' });
  const session = await mux.create('user_1');
  expectTypeOf(await session.tools()).toEqualTypeOf<MastraToolSet>();
  expectTypeOf(mux).toEqualTypeOf<ToolMux<MastraProvider>>();
  expectTypeOf(new MastraProvider({ strict: true }).wrapTools).returns.toEqualTypeOf<MastraToolSet>();
});

test('the record is accepted where a Mastra Agent takes tools', () => {
  type AgentTools = NonNullable<ConstructorParameters<typeof Agent>[0]['tools']>;
  expectTypeOf<MastraToolSet>().toExtend<AgentTools>();
  type Executed = Awaited<ReturnType<NonNullable<MastraToolSet[string]['execute']>>>;
  expectTypeOf<ToolResult>().toExtend<Executed>();
});
