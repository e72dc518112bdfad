import type { GenerateContentResponse, Part, Tool } from '@google/genai';
import { ToolMux } from '@toolmux/core';
import { expectTypeOf, test } from 'vitest';
import { GoogleProvider, type GoogleTools } from './index.js';

test('session.tools() goes into config.tools and handleToolCalls answers with Part[]', async () => {
  const session = await new ToolMux({ provider: new GoogleProvider() }).create('user_1');
  expectTypeOf(await session.tools()).toEqualTypeOf<GoogleTools>();
  expectTypeOf(await session.tools()).toExtend<Tool[]>();
  expectTypeOf(session.handleToolCalls).parameter(0).toEqualTypeOf<GenerateContentResponse>();
  expectTypeOf(await session.handleToolCalls({} as GenerateContentResponse)).toEqualTypeOf<Part[]>();
});

test('takes strict like every provider', () => {
  expectTypeOf<ConstructorParameters<typeof GoogleProvider>[0]>().toExtend<
    { strict?: boolean } | undefined
  >();
  new GoogleProvider({ strict: false });
});
