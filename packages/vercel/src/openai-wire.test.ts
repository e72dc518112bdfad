import { createOpenAI } from '@ai-sdk/openai';
import { SessionPreset, ToolMux } from '@toolmux/core';
import {
  findOpenAIRefusals,
  openaiRefusedSchemaToolkit,
  openaiReply,
  openaiToolParameters,
  openaiToolResults,
  startScriptedModelServer,
} from '@toolmux/core/test';
import { generateText, stepCountIs } from 'ai';
import { afterEach, describe, expect, it } from 'vitest';
import { VercelProvider } from './index.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

const silent = { debug() {}, warn() {}, error() {} };

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
      const { toolkit, calls, received } = openaiRefusedSchemaToolkit();
      const mux = new ToolMux({
        provider: new VercelProvider({ strict, logger: { warn() {} } }),
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
      const openai = createOpenAI({ apiKey: 'sk-test', baseURL: `${model.url}/v1` });
      const { text } = await generateText({
        model: api === 'chat' ? openai.chat('gpt-test') : openai.responses('gpt-test'),
        tools: await session.tools(),
        stopWhen: stepCountIs(3),
        prompt: 'Ping example.com',
      });
      expect(text).toBe('done');
      expect(model.requests[0]!.url).toBe(api === 'chat' ? '/v1/chat/completions' : '/v1/responses');
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
