import { createOpenAI } from '@ai-sdk/openai';
import { Agent } from '@mastra/core/agent';
import { expectOpenAISafeSchemas } from '@toolmux/core/test';
import { describe, expect, it } from 'vitest';
import { MastraProvider } from './index.js';

type AgentModel = ConstructorParameters<typeof Agent>[0]['model'];

/** The OpenAI models a Mastra agent is given, each a real client pointed at the scripted server. */
const models: Record<string, (baseURL: string) => AgentModel> = {
  // Mastra's model router, with the OpenAI client it bundles
  "Mastra's model router ({ id: 'openai/…', url })": (baseURL) => ({
    id: 'openai/gpt-test',
    url: baseURL,
    apiKey: 'sk-test',
  }),
  // the AI SDK's OpenAI provider, installed by the application
  '@ai-sdk/openai': (baseURL) => createOpenAI({ apiKey: 'sk-test', baseURL }).chat('gpt-test') as AgentModel,
};

/**
 * What reaches OpenAI through a Mastra agent's own loop (`agent.generate()`, which streams), for
 * schemas OpenAI refuses a whole request over: patterns with lookaround (zod's hostname and ISO
 * duration) and arrays without items.
 */
describe.each(Object.keys(models))('Agent with %s', (name) => {
  it.each([false, true])(
    'declares no lookaround pattern and no array without items, and the calls reach the tools, checked against the full schema (strict: %s)',
    async (strict) => {
      const first = await expectOpenAISafeSchemas(
        new MastraProvider({ strict, logger: { warn() {} } }),
        async (tools, baseURL) => {
          const agent = new Agent({
            id: 'pinger',
            name: 'Pinger',
            instructions: 'Use the tools.',
            model: models[name]!(baseURL),
            tools,
          });
          const { text } = await agent.generate('Ping example.com', { maxSteps: 3 });
          return text;
        },
      );
      expect(first.url).toBe('/v1/chat/completions');
    },
  );
});
