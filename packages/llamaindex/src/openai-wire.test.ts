import { OpenAI } from '@llamaindex/openai';
import { agent } from '@llamaindex/workflow';
import { expectOpenAISafeSchemas } from '@toolmux/core/test';
import { describe, expect, it } from 'vitest';
import { LlamaIndexProvider } from './index.js';

/**
 * What reaches OpenAI through LlamaIndex's own OpenAI LLM (@llamaindex/openai, a real client pointed
 * at a scripted loopback server) in the `agent()` loop of @llamaindex/workflow (which streams), for
 * schemas OpenAI refuses a whole request over: patterns with lookaround (zod's hostname and ISO
 * duration) and arrays without items.
 */
describe('@llamaindex/openai OpenAI in agent()', () => {
  it.each([false, true])(
    'declares no lookaround pattern and no array without items, and the calls reach the tools, checked against the full schema (strict: %s)',
    async (strict) => {
      const first = await expectOpenAISafeSchemas(
        new LlamaIndexProvider({ strict, logger: { warn() {} } }),
        async (tools, baseURL) => {
          const llm = new OpenAI({ model: 'gpt-4o-mini', apiKey: 'sk-test', maxRetries: 0, baseURL });
          const event = await agent({ llm, tools, verbose: false }).run('Ping example.com');
          return event.data.result as string;
        },
      );
      expect(first.url).toBe('/v1/chat/completions');
    },
  );
});
