import type Anthropic from '@anthropic-ai/sdk';
import { ToolMux } from '@toolmux/core';
import { expectTypeOf, test } from 'vitest';
import { AnthropicProvider, type AnthropicToolResultMessage } from './index.js';

test('session.tools() is Anthropic.Tool[] and handleToolCalls answers a Message with a MessageParam', async () => {
  const session = await new ToolMux({ provider: new AnthropicProvider() }).create('user_1');
  expectTypeOf(await session.tools()).toEqualTypeOf<Anthropic.Tool[]>();
  expectTypeOf(await session.tools()).toExtend<Anthropic.ToolUnion[]>();
  expectTypeOf(session.handleToolCalls).parameter(0).toEqualTypeOf<Anthropic.Message>();
  expectTypeOf(
    await session.handleToolCalls({} as Anthropic.Message),
  ).toEqualTypeOf<AnthropicToolResultMessage>();
  expectTypeOf(await session.handleToolCalls({} as Anthropic.Message)).toExtend<Anthropic.MessageParam>();
});
