import { OpenAI } from '@llamaindex/openai';
import { agent } from '@llamaindex/workflow';
import { SessionPreset, ToolMux } from '@toolmux/core';
import {
  findOpenAIRefusals,
  openaiRefusedSchemaToolkit,
  openaiReply,
  openaiToolParameters,
  openaiToolResults,
  startScriptedModelServer,
} from '@toolmux/core/test';
import { afterEach, describe, expect, it } from 'vitest';
import { LlamaIndexProvider } from './index.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

const silent = { debug() {}, warn() {}, error() {} };

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
      const { toolkit, calls, received } = openaiRefusedSchemaToolkit();
      const mux = new ToolMux({
        provider: new LlamaIndexProvider({ strict, logger: { warn() {} } }),
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
      const llm = new OpenAI({
        model: 'gpt-4o-mini',
        apiKey: 'sk-test',
        maxRetries: 0,
        baseURL: `${model.url}/v1`,
      });
      const event = await agent({ llm, tools: await session.tools(), verbose: false }).run(
        'Ping example.com',
      );
      expect(event.data.result).toBe('done');
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
