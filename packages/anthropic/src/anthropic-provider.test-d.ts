import type Anthropic from '@anthropic-ai/sdk';
import { ToolMux } from '@toolmux/core';
import { expectTypeOf, test } from 'vitest';
import { AnthropicProvider, type AnthropicToolResultMessage } from './index.js';

test('session.tools() is Anthropic.Tool[] and handleToolCalls answers a Message with a MessageParam', async () => {
  const session = await new ToolMux({ provider: new AnthropicProvider() }).create('user_1');
  expectTypeOf(await session.tools()).toEqualTypeOf<Anthropic.Tool[]>();
  expectTypeOf(await session.tools()).toExtend<Anthropic.ToolUnion[]>();
  expectTypeOf(session.handleToolCalls)
    .parameter(0)
    .toEqualTypeOf<Anthropic.Message | Anthropic.Beta.BetaMessage>();
  expectTypeOf(
    await session.handleToolCalls({} as Anthropic.Message),
  ).toEqualTypeOf<AnthropicToolResultMessage>();
  expectTypeOf(await session.handleToolCalls({} as Anthropic.Message)).toExtend<Anthropic.MessageParam>();
});

test('the beta Messages API works the same: its message in, a message of its next request out', async () => {
  const session = await new ToolMux({ provider: new AnthropicProvider() }).create('user_1');
  const anthropic = {} as Anthropic;
  const tools = await session.tools();
  const messages: Anthropic.Beta.BetaMessageParam[] = [{ role: 'user', content: 'hi' }];
  const message = await anthropic.beta.messages.create({
    model: 'claude-sonnet-4-5',
    max_tokens: 1024,
    messages,
    tools,
  });
  messages.push({ role: 'assistant', content: message.content }, await session.handleToolCalls(message));
  expectTypeOf(await session.handleToolCalls(message)).toExtend<Anthropic.Beta.BetaMessageParam>();
  // and the streaming helper's final message
  const stream = anthropic.messages.stream({
    model: 'claude-sonnet-4-5',
    max_tokens: 1024,
    messages: [],
    tools,
  });
  expectTypeOf(
    session.handleToolCalls(await stream.finalMessage()),
  ).resolves.toEqualTypeOf<AnthropicToolResultMessage>();
});
