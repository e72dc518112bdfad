import { createOpenAI } from '@ai-sdk/openai';
import { Agent } from '@mastra/core/agent';
import { SessionPreset, ToolMux } from '@toolmux/core';
import {
  findOpenAIRefusals,
  openaiRefusedSchemaToolkit,
  openaiReply,
  openaiToolParameters,
  openaiToolResults,
  type ScriptedModelServer,
  startScriptedModelServer,
} from '@toolmux/core/test';
import { afterEach, describe, expect, it } from 'vitest';
import { MastraProvider } from './index.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

const silent = { debug() {}, warn() {}, error() {} };

type AgentModel = ConstructorParameters<typeof Agent>[0]['model'];

/** The OpenAI models a Mastra agent is given, each a real client pointed at the scripted server. */
const models: Record<string, (model: ScriptedModelServer) => AgentModel> = {
  // Mastra's model router, with the OpenAI client it bundles
  "Mastra's model router ({ id: 'openai/…', url })": (model) => ({
    id: 'openai/gpt-test',
    url: `${model.url}/v1`,
    apiKey: 'sk-test',
  }),
  // the AI SDK's OpenAI provider, installed by the application
  '@ai-sdk/openai': (model) =>
    createOpenAI({ apiKey: 'sk-test', baseURL: `${model.url}/v1` }).chat('gpt-test') as AgentModel,
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
      const { toolkit, calls, received } = openaiRefusedSchemaToolkit();
      const mux = new ToolMux({
        provider: new MastraProvider({ strict, logger: { warn() {} } }),
        toolkits: [toolkit],
        store: ':memory:',
        logger: silent,
      });
      const model = await startScriptedModelServer([
        (request) => openaiReply(request, calls),
        (request) => openaiReply(request, []),
      ]);
      cleanups.push(
        () => mux.close(),
        () => model.close(),
      );
      const session = await mux.create('user_1', { sessionPreset: SessionPreset.DIRECT_TOOLS });
      const agent = new Agent({
        id: 'pinger',
        name: 'Pinger',
        instructions: 'Use the tools.',
        model: models[name]!(model),
        tools: await session.tools(),
      });
      const { text } = await agent.generate('Ping example.com', { maxSteps: 3 });
      expect(text).toBe('done');
      expect(model.requests[0]!.url).toBe('/v1/chat/completions');
      const declared = openaiToolParameters(model.requests[0]!);
      expect(Object.keys(declared).sort()).toEqual(['NET_PING', 'NET_TAG']);
      expect(findOpenAIRefusals(declared)).toEqual([]);
      expect(declared.NET_TAG!.properties).toMatchObject({
        values: { type: 'array', description: 'Anything', items: {} },
        either: { type: ['string', 'array'], items: {} },
        // a refused pattern without a format is described, not dropped silently
        label: { type: 'string', description: 'A label Must match the regular expression ^(?!-)[a-z-]+$.' },
      });
      expect(received.NET_PING).toEqual([{ host: 'example.com', every: 'PT5M' }]);
      expect(received.NET_TAG).toEqual([calls[2]!.args]);
      const results = openaiToolResults(model.requests[1]!);
      // the patterns left out of the declared schema are still checked
      expect(results.call_bad_host).toMatch(/TOOL_ARGUMENTS_INVALID.*host/);
      expect(results.call_bad_label).toMatch(/TOOL_ARGUMENTS_INVALID.*label/);
    },
  );
});
