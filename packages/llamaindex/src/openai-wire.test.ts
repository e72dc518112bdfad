import { OpenAI } from '@llamaindex/openai';
import { agent } from '@llamaindex/workflow';
import { SessionPreset, ToolMux } from '@toolmux/core';
import {
  AWKWARD_KEY_ARGUMENTS,
  argumentsAsShown,
  awkwardKeysTool,
  createSampleToolkits,
  expectOpenAISafeSchemas,
  openaiReply,
  portableKeyViolations,
  startScriptedModelServer,
} from '@toolmux/core/test';
import { describe, expect, it } from 'vitest';
import { answerUnknownToolCalls, LlamaIndexProvider } from './index.js';
import { settled } from './test-settled.js';

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

  it('answerUnknownToolCalls(): a streamed call of a tool the agent has none of is answered by the session, and the next request shows it as the model made it', async () => {
    const mux = new ToolMux({
      provider: new LlamaIndexProvider(),
      toolkits: createSampleToolkits().toolkits,
      store: ':memory:',
      logger: { debug() {}, warn() {}, error() {} },
    });
    const model = await startScriptedModelServer([
      (request) =>
        openaiReply(request, [{ id: 'call_typo', name: 'TASKS_CREATE_TASKS', args: { title: 'Buy milk' } }]),
      (request) => openaiReply(request, []),
    ]);
    try {
      const session = await mux.create('user_1', {
        toolkits: ['tasks'],
        sessionPreset: SessionPreset.DIRECT_TOOLS,
      });
      const llm = new OpenAI({
        model: 'gpt-4o-mini',
        apiKey: 'sk-test',
        maxRetries: 0,
        baseURL: `${model.url}/v1`,
      });
      const assistant = agent({
        llm: answerUnknownToolCalls(llm),
        tools: await session.tools(),
        verbose: false,
      });

      const event = await settled(assistant.run('Remind me to buy milk'));

      expect(event.data.result).toBe('done');
      expect(model.requests[0]!.body.stream).toBe(true);
      expect(model.requests[1]!.body.messages.slice(-2)).toEqual([
        expect.objectContaining({
          role: 'assistant',
          tool_calls: [
            {
              id: 'call_typo',
              type: 'function',
              function: { name: 'TASKS_CREATE_TASKS', arguments: '{"title":"Buy milk"}' },
            },
          ],
        }),
        {
          role: 'tool',
          tool_call_id: 'call_typo',
          content: expect.stringMatching(
            /^Error \(TOOL_NOT_FOUND\): There is no tool 'TASKS_CREATE_TASKS'\. Did you mean 'TASKS_CREATE_TASK'.*\? Call only the tools this session gave you\.$/,
          ),
        },
      ]);
      expect(
        (await session.logs()).items.map((log) => `${log.toolSlug} ${log.errorCode} ${log.callId}`),
      ).toEqual(['TASKS_CREATE_TASKS TOOL_NOT_FOUND call_typo']);
    } finally {
      await model.close();
      await mux.close();
    }
  });
});

describe('@llamaindex/openai OpenAI in agent(): property keys', () => {
  /**
   * One agent run over `TASKS_FILTER` (see `awkwardKeysTool`) through the OpenAI LLM: the model calls
   * it with the keys it was sent for the tool's keys. The parameters sent, what the tool got and the
   * answer the model read.
   */
  async function filterRun(provider: LlamaIndexProvider) {
    const received: unknown[] = [];
    const mux = new ToolMux({
      provider,
      toolkits: createSampleToolkits().toolkits,
      store: ':memory:',
      logger: { debug() {}, warn() {}, error() {} },
    });
    let parameters: { properties: object } | undefined;
    const model = await startScriptedModelServer([
      (request) => {
        const sent = (request.body.tools as Array<{ function: { name: string; parameters: never } }>).find(
          (tool) => tool.function.name === 'TASKS_FILTER',
        );
        parameters = sent?.function.parameters;
        const args = argumentsAsShown(parameters, AWKWARD_KEY_ARGUMENTS) as Record<string, unknown>;
        return openaiReply(request, [{ id: 'call_filter', name: 'TASKS_FILTER', args }]);
      },
      (request) => openaiReply(request, []),
    ]);
    try {
      const session = await mux.create('user_1', {
        toolkits: ['tasks'],
        sessionPreset: SessionPreset.DIRECT_TOOLS,
        experimental: { customTools: [awkwardKeysTool(received)] },
      });
      const llm = new OpenAI({
        model: 'gpt-4o-mini',
        apiKey: 'sk-test',
        maxRetries: 0,
        baseURL: `${model.url}/v1`,
      });
      await settled(agent({ llm, tools: await session.tools(), verbose: false }).run('Filter'));
      const answer = model.requests[1]?.body.messages.at(-1) as { content?: string } | undefined;
      return { parameters: parameters!, received, answer: answer?.content };
    } finally {
      await model.close();
      await mux.close();
    }
  }

  it.each([false, true])(
    'strict: %s — keys a major model API refuses are sent renamed, and a call with those keys runs the tool with its own',
    async (strict) => {
      const { parameters, received, answer } = await filterRun(
        new LlamaIndexProvider({ strict, logger: { warn() {} } }),
      );
      // what LlamaIndex's LLMs send of the tool (Anthropic's API refused `filter[id]`, failing every request)
      expect(portableKeyViolations(parameters)).toEqual([]);
      expect(Object.keys(parameters.properties)).toHaveLength(5);
      expect(received).toEqual([AWKWARD_KEY_ARGUMENTS]);
      expect(answer).toBe("{'ok':true}");
    },
  );

  it("propertyKeys: 'unchanged' sends the keys as the tool has them; another value is refused", async () => {
    const { parameters, received } = await filterRun(new LlamaIndexProvider({ propertyKeys: 'unchanged' }));
    expect(Object.keys(parameters.properties)).toEqual(Object.keys(AWKWARD_KEY_ARGUMENTS));
    expect(received).toEqual([AWKWARD_KEY_ARGUMENTS]);
    expect(() => new LlamaIndexProvider({ propertyKeys: 'keep' as never })).toThrow(
      /LlamaIndexProvider.*propertyKeys must be 'portable'.*or 'unchanged'.*"keep"/,
    );
  });
});
