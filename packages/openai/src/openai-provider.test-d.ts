import { ToolMux } from '@toolmux/core';
import type OpenAI from 'openai';
import { expectTypeOf, test } from 'vitest';
import { OpenAIProvider } from './index.js';

test('session.tools() and session.handleToolCalls() follow the API the provider is for', async () => {
  const chat = await new ToolMux({ provider: new OpenAIProvider() }).create('user_1');
  expectTypeOf(await chat.tools()).toEqualTypeOf<OpenAI.ChatCompletionFunctionTool[]>();
  expectTypeOf(chat.handleToolCalls).parameter(0).toEqualTypeOf<OpenAI.ChatCompletion>();
  expectTypeOf(await chat.handleToolCalls({} as OpenAI.ChatCompletion)).toEqualTypeOf<
    OpenAI.ChatCompletionToolMessageParam[]
  >();
  // what it returns goes straight into the next request's messages
  expectTypeOf(await chat.handleToolCalls({} as OpenAI.ChatCompletion)).toExtend<
    OpenAI.ChatCompletionMessageParam[]
  >();
  expectTypeOf(await chat.tools()).toExtend<OpenAI.ChatCompletionTool[]>();

  const responses = await new ToolMux({ provider: new OpenAIProvider({ api: 'responses' }) }).create(
    'user_1',
  );
  expectTypeOf(await responses.tools()).toEqualTypeOf<OpenAI.Responses.FunctionTool[]>();
  expectTypeOf(
    await responses.handleToolCalls({} as OpenAI.Responses.Response),
  ).toExtend<OpenAI.Responses.ResponseInput>();
  // @ts-expect-error a Chat Completions response is not a Responses API response
  await responses.handleToolCalls({} as OpenAI.ChatCompletion);
});
