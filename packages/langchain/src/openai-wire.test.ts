import { HumanMessage } from '@langchain/core/messages';
import { ChatOpenAI } from '@langchain/openai';
import { expectOpenAISafeSchemas } from '@toolmux/core/test';
import { createAgent } from 'langchain';
import { describe, it } from 'vitest';
import { LangChainProvider } from './index.js';

/**
 * What reaches OpenAI through LangChain's own OpenAI chat model (@langchain/openai `ChatOpenAI`, a
 * real client pointed at a scripted loopback server) in `createAgent()`'s loop, for schemas OpenAI
 * refuses a whole request over: patterns with lookaround (zod's hostname and ISO duration) and arrays
 * without items.
 */
describe.each([
  ['chat', false],
  ['responses', true],
] as const)('ChatOpenAI, %s API', (_api, useResponsesApi) => {
  it.each([false, true])(
    'declares no lookaround pattern and no array without items, and the calls reach the tools, checked against the full schema (strict: %s)',
    async (strict) => {
      await expectOpenAISafeSchemas(
        new LangChainProvider({ strict, logger: { warn() {} } }),
        async (tools, baseURL) => {
          const chat = new ChatOpenAI({
            model: 'gpt-4o-mini',
            apiKey: 'sk-test',
            useResponsesApi,
            maxRetries: 0,
            configuration: { baseURL },
          });
          const result = await createAgent({ model: chat, tools }).invoke({
            messages: [new HumanMessage('Ping example.com')],
          });
          return result.messages.at(-1)!.text;
        },
      );
    },
  );
});
