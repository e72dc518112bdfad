import { ToolMux } from '@toolmux/core';
import type { ToolSet } from 'ai';
import { expectTypeOf, test } from 'vitest';
import { VercelProvider } from './index.js';

test('session.tools() is an AI SDK ToolSet', async () => {
  const mux = new ToolMux({ provider: new VercelProvider(), store: ':memory:' });
  const session = await mux.create('user_1');
  expectTypeOf(await session.tools()).toEqualTypeOf<ToolSet>();
  expectTypeOf(mux).toEqualTypeOf<ToolMux<VercelProvider>>();
  expectTypeOf(new VercelProvider({ strict: true }).wrapTools).returns.toEqualTypeOf<ToolSet>();
});

test('the ToolSet is accepted where the AI SDK takes tools', () => {
  type GenerateTextTools = NonNullable<Parameters<typeof import('ai').generateText>[0]['tools']>;
  expectTypeOf<ToolSet>().toExtend<GenerateTextTools>();
});
