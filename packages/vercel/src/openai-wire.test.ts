import { createOpenAI } from '@ai-sdk/openai';
import { expectOpenAISafeSchemas } from '@toolmux/core/test';
import { generateText, stepCountIs } from 'ai';
import { describe, expect, it } from 'vitest';
import { VercelProvider } from './index.js';

/**
 * What reaches OpenAI through the AI SDK's own OpenAI provider (@ai-sdk/openai, a real client pointed
 * at a scripted loopback server), for schemas OpenAI refuses a whole request over: patterns with
 * lookaround (zod's hostname and ISO duration) and arrays without items. @ai-sdk/openai ≥ 4.0.72 drops
 * lookaround patterns itself (silently: the model is not told), earlier releases (ai 5 and 6) do not;
 * no release adds the missing items.
 */
describe.each(['chat', 'responses'] as const)('@ai-sdk/openai, %s API', (api) => {
  it.each([false, true])(
    'declares no lookaround pattern and no array without items, and the calls reach the tools, checked against the full schema (strict: %s)',
    async (strict) => {
      const first = await expectOpenAISafeSchemas(
        new VercelProvider({ strict, logger: { warn() {} } }),
        async (tools, baseURL) => {
          const openai = createOpenAI({ apiKey: 'sk-test', baseURL });
          const { text } = await generateText({
            model: api === 'chat' ? openai.chat('gpt-test') : openai.responses('gpt-test'),
            tools,
            stopWhen: stepCountIs(3),
            prompt: 'Ping example.com',
          });
          return text;
        },
      );
      expect(first.url).toBe(api === 'chat' ? '/v1/chat/completions' : '/v1/responses');
    },
  );
});
